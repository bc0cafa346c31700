"""`make compose-test`: the whole docker-compose.yaml on a real Docker engine.

Collected only when SPARKIFY_COMPOSE_TEST=1 (set by `make compose-test`): `make test` runs
`pytest tests` and must not start a dozen containers. One stack serves the whole module, in
order: build, up and healthy -> images, uid, ports, warehouse rights -> UI/login -> clean backfill
on two workers -> worker crashed mid-task -> no AWS key in any task log (the logs bucket), log
objects private and encrypted -> a finished task's log read after its worker is removed -> redshift
and s3 restarted mid-backfill -> `down -v` leaves nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

if os.environ.get("SPARKIFY_COMPOSE_TEST") != "1":
    collect_ignore_glob = ["test_*.py"]

from compose_stack import FIGURES, ComposeStack  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    stack = ComposeStack.create(tmp_path_factory.mktemp("compose"))
    try:
        started = time.monotonic()
        stack.up()
        FIGURES["compose build + up until every service healthy (s)"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        stack.down()


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("compose-test figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
    out = ROOT / ".devstack" / "compose-test-figures.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2))
