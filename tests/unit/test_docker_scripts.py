"""The shell scripts around docker-compose.yaml, without a Docker engine.

`docker/base/build-images.sh` runs in an empty scratch checkout (no `.devstack/`, no image) with
stand-ins for `docker`, `apt-get` and the root filesystem builder on PATH that record their calls:
its own logic (bootstrap, temporary tags, the /bin/sh check, the bounded dpkg-lock wait) is what is
tested. The real build runs in `make compose-test`. `docker/setup-env.sh` writes real files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FINAL_TAGS = ["sparkify-base/debian:bookworm", "sparkify-base/postgres:15-bookworm",
              "sparkify-base/redis:7.0-bookworm", "sparkify-base/python:3.11-bookworm",
              "sparkify-base/airflow:3.3.2-python3.11"]
# The real tools the script needs; everything else on PATH is a recording stand-in.
REAL_TOOLS = ["bash", "sh", "cat", "sha256sum", "cut", "mkdir", "tail", "rm", "dirname", "env"]

FAKE_DOCKER = """#!/bin/bash
echo "docker $*" >> "$CALLS"
case "$1 $2" in
  "image inspect") exit 1 ;;                       # an empty engine: no image at all
  "import "*) cat > /dev/null; exit 0 ;;
  "run "*) exit "${RUN_RC:-0}" ;;                   # the /bin/sh check
  "create "*) echo cid123 ;;
esac
exit 0
"""
FAKE_APT = """#!/bin/bash
echo "apt-get $*" >> "$CALLS"
exit "${APT_RC:-0}"
"""


@pytest.fixture
def scratch(tmp_path: Path) -> dict:
    """An empty checkout holding only what build-images.sh reads, and a PATH of stand-ins."""
    repo = tmp_path / "clone"
    shutil.copytree(ROOT / "docker" / "base", repo / "docker" / "base")
    shutil.copy(ROOT / "requirements.lock", repo / "requirements.lock")
    # The root filesystem builder is the host's mmdebstrap: a stand-in stream here.
    (repo / "docker" / "base" / "rootfs.sh").write_text("echo rootfs-tar-stream\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in REAL_TOOLS:
        (bin_dir / tool).symlink_to(shutil.which(tool))
    for name, text in (("docker", FAKE_DOCKER), ("apt-get", FAKE_APT), ("pip", "#!/bin/bash\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.log"
    calls.touch()
    env = {"PATH": str(bin_dir), "CALLS": str(calls), "PIP": str(bin_dir / "pip"), "HOME": str(tmp_path)}
    return {"repo": repo, "env": env, "calls": calls}


def build(scratch: dict, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run(["bash", str(scratch["repo"] / "docker/base/build-images.sh")],
                            env={**scratch["env"], **env}, capture_output=True, text=True, timeout=60)
    return result, scratch["calls"].read_text().splitlines()


def test_fresh_clone_builds_every_image_under_a_temporary_tag_first(scratch):
    assert not (scratch["repo"] / ".devstack").exists()
    result, calls = build(scratch)
    assert result.returncode == 0, result.stderr
    assert (scratch["repo"] / ".devstack/docker/rootfs.log").exists()
    for tag in FINAL_TAGS:
        tagged = [c for c in calls if c.startswith("docker tag ") and c.endswith(" " + tag)]
        assert len(tagged) == 1, (tag, calls)
        temporary = tagged[0].split()[2]
        assert temporary.startswith(tag + "-building-")
        # The temporary image ran /bin/sh before it got the tag the cache trusts.
        checked = f"docker run --rm --entrypoint /bin/sh {temporary} -c exit 0"
        assert calls.index(checked) < calls.index(tagged[0])
    # Nothing is ever built, imported or committed under a final tag directly.
    for call in calls:
        if call.startswith(("docker import", "docker build", "docker commit")):
            assert not any(call.endswith(" " + tag) or f" -t {tag} " in call for tag in FINAL_TAGS), call


def test_an_image_without_a_shell_is_never_tagged(scratch):
    result, calls = build(scratch, RUN_RC="127")
    assert result.returncode != 0
    assert "cannot run /bin/sh" in result.stderr
    assert not [c for c in calls if c.startswith("docker tag ")], calls
    assert any(c.startswith("docker rmi -f sparkify-base/debian:bookworm-building-") for c in calls)


def test_mmdebstrap_install_waits_for_the_dpkg_lock_for_a_bounded_time(scratch):
    result, calls = build(scratch, SPARKIFY_APT_LOCK_TIMEOUT="42", APT_RC="100")
    apt = [c for c in calls if c.startswith("apt-get")]
    assert apt and all("-o DPkg::Lock::Timeout=42" in c for c in apt), apt
    assert result.returncode != 0
    assert "waits up to 42s for the dpkg lock" in result.stderr
    assert "could not install mmdebstrap" in result.stderr
    assert not [c for c in calls if c.startswith("docker import")]


# ------------------------------------------------------------------------------------ setup-env
def setup_env(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "docker/setup-env.sh"), "--env-file", str(out), *args],
                          capture_output=True, text=True, check=True, timeout=30)


def keys(path: Path) -> list[str]:
    return [line.split("=", 1)[0] for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_setup_env_writes_each_key_once_and_is_repeatable(tmp_path):
    out = tmp_path / ".env"
    setup_env(out, "--local-images", "AIRFLOW_API_HOST_PORT=18080")
    first = out.read_text()
    setup_env(out, "--local-images", "AIRFLOW_API_HOST_PORT=18080")
    assert out.read_text() == first
    found = keys(out)
    assert len(found) == len(set(found)), "a key appears twice"
    values = dict(line.split("=", 1) for line in first.splitlines() if line.strip() and not line.startswith("#"))
    expected_uid = "50000" if os.getuid() == 0 else str(os.getuid())
    assert values["AIRFLOW_UID"] == expected_uid
    assert values["AIRFLOW_API_HOST_PORT"] == "18080"
    local = dict(line.split("=", 1) for line in (ROOT / "docker/local-images.env").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    assert local and all(values[k] == v for k, v in local.items())
    # Everything else is .env.example's, in its order.
    assert found == keys(ROOT / ".env.example")


def test_setup_env_keeps_an_existing_file_and_changes_only_named_keys(tmp_path):
    out = tmp_path / ".env"
    out.write_text("# mine\nAIRFLOW_UID=123\nMY_OWN=x\n")
    setup_env(out, "MY_OWN=y")
    text = out.read_text()
    assert text.startswith("# mine\n") and "MY_OWN=y\n" in text and "MY_OWN=x" not in text
    assert text.count("AIRFLOW_UID=") == 1
