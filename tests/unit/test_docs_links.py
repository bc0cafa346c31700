"""The documentation's relative links resolve, and the README stays a ten-minute read.

Every relative markdown link ``[text](path)`` or ``[text](path#anchor)`` in a tracked ``*.md`` file
must point at an existing file (relative to the linking file); an anchor into a ``.md`` file must
match one of its headings, slugged as GitHub does. External links (http, https, mailto) are skipped.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", ".devstack", "node_modules", "__pycache__"}
README_MAX_LINES = 300

# [text](target) or [text](target "title"); not images' inner brackets: the text may hold `code`.
LINK = re.compile(r"(?<!\\)\[(?P<text>[^\]]*)\]\((?P<target><[^>]*>|[^)\s]*)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(?P<title>.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def markdown_files() -> list[Path]:
    """The tracked markdown files (git), or a walk of the checkout without the local folders."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", "*.md"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        files = [ROOT / name for name in out.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [
            p for p in ROOT.rglob("*.md") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
        ]
    return sorted(p for p in files if p.is_file())


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", lambda m: " " * len(m.group()), line)))
    return lines


def github_slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading keeps its text
    title = re.sub(r"<[^>]+>", "", title).strip().lower()
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    result = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            slug = github_slug(match.group("title"))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in the file's prose."""
    found = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(line):
            target = match.group("target").strip("<>")
            if target and not EXTERNAL.match(target):
                found.append((number, target))
    return found


FILES = markdown_files()


def test_there_are_markdown_files_to_check():
    names = {p.relative_to(ROOT).as_posix() for p in FILES}
    assert "README.md" in names
    assert "docs/README.md" in names


@pytest.mark.parametrize("md", FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(md: Path):
    problems = []
    for number, target in links(md):
        file_part, _, anchor = target.partition("#")
        dest = (md.parent / file_part).resolve() if file_part else md
        where = f"{md.relative_to(ROOT)}:{number}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
            continue
        if anchor and dest.suffix == ".md" and anchor.lower() not in anchors(dest):
            problems.append(f"{where}: no heading with anchor #{anchor} in {dest.relative_to(ROOT)}")
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_github_slugs():
    assert github_slug("What runs may overlap, and why that is safe") == (
        "what-runs-may-overlap-and-why-that-is-safe"
    )
    assert github_slug("What `make compose-test` proves") == "what-make-compose-test-proves"
    assert github_slug("Operators (`plugins/sparkify/`)") == "operators-pluginssparkify"
    assert github_slug("1. Provision") == "1-provision"


def test_readme_is_short_and_names_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES, "README.md is a ten-minute read: move detail to docs/"
    assert "make demo" in text
    assert "make test" in text
