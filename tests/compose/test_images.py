"""The Airflow stand-in image on its own (no stack): it behaves like apache/airflow's entrypoint for
an arbitrary uid, and refuses what it cannot do instead of ignoring it. Runs before test_stack.py."""

from __future__ import annotations

import subprocess

IMAGE = "sparkify-base/airflow:3.3.2-python3.11"  # built by `make base-images` before the tests


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "run", "--rm", *args], capture_output=True, text=True, timeout=timeout)


def test_an_arbitrary_uid_gets_a_user_name_and_airflow_starts():
    """Without the passwd entry Airflow stops with "The user that Airflow is running as has no
    username" (seen as a crash-looping scheduler for AIRFLOW_UID=1000)."""
    shell = run("--user", "4321:0", IMAGE, "bash", "-c", 'whoami; echo "$HOME"; id -g')
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.split() == ["default", "/home/airflow", "0"]
    version = run("--user", "4321:0", IMAGE, "version")
    assert version.returncode == 0, version.stderr[-2000:]
    assert version.stdout.strip().splitlines()[-1] == "3.3.2"


def test_pip_additional_requirements_is_refused_not_ignored():
    result = run("-e", "_PIP_ADDITIONAL_REQUIREMENTS=rich", IMAGE, "version")
    assert result.returncode == 1
    assert "_PIP_ADDITIONAL_REQUIREMENTS is set (rich)" in result.stderr
