"""The first-party packages import each other without circles, and only in the allowed directions.

Imports are read with `ast` (nothing is imported): every `import X` and `from X import Y`,
relative ones and those inside functions included, resolved to the modules of this tree.
`from package import name` counts as importing the module `package.name` when that is a module,
else as importing `package`. The DAG files and `plugins/` are on Airflow's sys.path, so their
`sparkify...` imports resolve to plugins/sparkify and a DAG file is a top-level module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (folder on sys.path, top-level package or None for every module in the folder)
SOURCES = [
    (ROOT, "devstack"),
    (ROOT, "redshift_endpoint"),
    (ROOT, "infra"),
    (ROOT / "plugins", "sparkify"),
    (ROOT / "dags", None),
]
DAG_MODULES_PREFIX = "dags:"  # a DAG file's module name is its stem; marked so it cannot shadow a package


def module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for base, package in SOURCES:
        if package is None:
            for path in sorted(base.glob("*.py")):
                modules[DAG_MODULES_PREFIX + path.stem] = path
            continue
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imported_modules(module: str, path: Path, files: dict[str, Path]) -> set[str]:
    """The first-party modules `module` imports (relative imports resolved).

    `from a.b import c` is the module a.b.c when that exists, else a.b (a name defined there);
    a dotted name that is not a module of the tree is cut back to its nearest module.
    """
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                names.add(submodule if submodule in files else base)
    found = set()
    for name in names:
        while name and name not in files:
            name = name.rpartition(".")[0]
        if name and name != module:
            found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the first-party modules it imports."""
    files = module_files()
    return {module: imported_modules(module.removeprefix(DAG_MODULES_PREFIX), path, files)
            for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan), as a sorted circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(circles: list[list[str]], graph: dict[str, set[str]]) -> str:
    lines = []
    for members in circles:
        edges = ", ".join(f"{a} -> {b}" for a in members for b in sorted(graph[a]) if b in members)
        lines.append(f"{' <-> '.join(members)}  ({edges})")
    return "import circles:\n  " + "\n  ".join(lines)


def top_level(module: str) -> str:
    return "dags" if module.startswith(DAG_MODULES_PREFIX) else module.split(".")[0]


def test_the_graph_sees_the_tree():
    graph = import_graph()
    assert "devstack.cli" in graph and "sparkify.staging" in graph and "dags:sparkify_etl" in graph
    assert "devstack.run_window" in graph["devstack.cli"]  # a function-level import
    assert any(top_level(target) == "sparkify" for target in graph["dags:sparkify_etl"])


def test_a_circle_is_found_and_named():
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}
    assert [sorted(circle) for circle in cycles(graph)] == [["a.x", "a.y", "a.z"]]


def test_no_import_circles_anywhere():
    graph = import_graph()
    circles = cycles(graph)
    assert not circles, describe(circles, graph)


@pytest.mark.parametrize(("importer", "forbidden"), [
    ("redshift_endpoint", {"devstack", "sparkify", "dags"}),
    ("dags", {"devstack", "redshift_endpoint"}),
    ("sparkify", {"devstack", "redshift_endpoint", "dags"}),
])
def test_layers_import_only_downwards(importer, forbidden):
    graph = import_graph()
    wrong = sorted(f"{module} -> {target}" for module, targets in graph.items() if top_level(module) == importer
                   for target in targets if top_level(target) in forbidden)
    assert not wrong, f"{importer} must not import {sorted(forbidden)}: {wrong}"
