"""Wall time of `make demo`'s work (python -m devstack demo), broken down by phase.

Runs the demo twice in a fresh scratch stack: the first run pays initdb, dataset generation and
the metadata DB migration; the second is what a developer sees on a repeated `make demo`
(the baseline, measured in the same run). The venv is assumed to exist (`make venv`: about
12 s with uv from a warm cache). For each demo it prints the phase split and, for the 24 DAG runs,
how much of their time is the tasks' own work and how much Airflow's (dag.test()'s scheduling loop,
task start-up, metadata DB). Goal: the demo (24 runs and the report) within 60 s.
Last line: first/second wall-time ratio.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo(env: dict[str, str]) -> tuple[float, str]:
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "devstack", "demo"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    seconds = time.monotonic() - began
    if result.returncode != 0:
        raise SystemExit(f"demo failed ({result.returncode}):\n{result.stderr[-3000:]}")
    phases = re.search(r"^phases: (.*)$", result.stderr, re.MULTILINE)
    return seconds, phases.group(1) if phases else "(no phase line)"


def airflow_overhead(stack_dir: Path) -> str:
    """Task time vs Airflow's own time over the demo's DAG runs (from devstack run's progress file)."""
    records = [json.loads(line) for path in (stack_dir / "logs").glob("run-*.progress.jsonl")
               for line in path.read_text().splitlines() if line.strip()]
    runs = sum(r["seconds"] for r in records)
    tasks = sum(sum(r["task_seconds"].values()) for r in records)
    skipped = sum("stage_songs" in r.get("skipped_tasks", []) for r in records)
    return (f"{len(records)} runs {runs:.1f}s = tasks {tasks:.1f}s + Airflow {runs - tasks:.1f}s "
            f"({(runs - tasks) / max(runs, 1e-9):.0%}); catalog cached in {skipped} runs")


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-demo-bench-"))
    scratch.chmod(0o755)
    env = {**os.environ, "SPARKIFY_DEVSTACK_DIR": str(scratch / "stack"), "COLUMNS": "120"}
    try:
        first, first_phases = demo(env)
        first_split = airflow_overhead(scratch / "stack")
        second, second_phases = demo(env)
        second_split = airflow_overhead(scratch / "stack")
    finally:
        subprocess.run([sys.executable, "-m", "devstack", "down"], cwd=ROOT, env=env, capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"first demo  {first:6.1f}s wall: {first_phases}")
    print(f"            dag runs: {first_split}")
    print(f"second demo {second:6.1f}s wall: {second_phases}")
    print(f"            dag runs: {second_split}")
    print(f"goal: the demo within 60 s: first {'met' if first <= 60 else 'missed'}, "
          f"second {'met' if second <= 60 else 'missed'}")
    print(f"demo wall time {first:.1f}s; first/second (repeat baseline) ratio: {first / second:.2f}")


if __name__ == "__main__":
    main()
