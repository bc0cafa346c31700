"""`python -m devstack run`: the DAG over a window of hourly runs, and the helpers `demo` shares with it."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from devstack.dagrun import parse_hour
from devstack.stack import ROOT, Stack

console = Console(stderr=True)


def airflow_environment(stack: Stack) -> dict[str, str]:
    """Environment for Airflow processes: the stack's connections/variables and a private home."""
    home = stack.dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        **stack.airflow_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # This venv's bin first: an `airflow` (or other console script) the run starts by name is this venv's.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def run_window(stack: Stack, start, hours: int, *, dag_id: str = "sparkify_etl", quiet: bool = False,
               extra_args: list[str] | None = None) -> list[dict]:
    """Run the DAG for `hours` consecutive hours from `start`; returns one record per run.

    `extra_args` go to devstack.dagrun (e.g. ["--conf", '{"force_restage": true}']).

    Airflow's own output goes to .devstack/logs/run-<start>.log; the console shows progress.
    """
    logs = stack.dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    stamp = start.strftime("%Y%m%dT%H")
    log_file, progress_file = logs / f"run-{stamp}.log", logs / f"run-{stamp}.progress.jsonl"
    progress_file.unlink(missing_ok=True)
    log_file.touch(mode=0o600)
    log_file.chmod(0o600)  # task output: owner only
    command = [sys.executable, "-m", "devstack.dagrun", "--dag-id", dag_id, "--start", start.strftime("%Y-%m-%dT%H"),
               "--hours", str(hours), "--progress-file", str(progress_file), *(extra_args or [])]
    with open(log_file, "w") as log, Progress(console=console, disable=quiet) as progress:
        bar = progress.add_task(f"{dag_id}: {hours} hourly runs from {start:%Y-%m-%d %H:00}", total=hours)
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=airflow_environment(stack))
        while child.poll() is None:
            time.sleep(0.5)
            progress.update(bar, completed=len(_read_records(progress_file)))
        progress.update(bar, completed=len(_read_records(progress_file)))
    records = _read_records(progress_file)
    if len(records) < hours:
        raise RuntimeError(f"the DAG runner stopped after {len(records)} of {hours} runs; see {log_file}")
    for record in records:
        record["log"] = str(log_file)
    return records


def _read_records(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def print_runs(records: list[dict]) -> None:
    failed = [r for r in records if r["state"] != "success"]
    total = sum(r["seconds"] for r in records)
    console.print(f"{len(records)} runs, {len(records) - len(failed)} succeeded, {total:.1f} s in all")
    for record in failed:
        console.print(f"[red]failed[/] {record['interval_start']}: tasks {', '.join(record['failed_tasks'])} "
                      f"(log: {record['log']})")


def cmd_run(args: argparse.Namespace) -> int:
    stack = Stack()
    stack.up()
    if stack.bucket_is_empty():  # every hour would fail its COPY, one after the other
        console.print(f"[red]error:[/] bucket {stack.config.bucket} is empty: run `make demo` or "
                      "`python -m devstack seed`", soft_wrap=True)
        return 1
    records = run_window(stack, args.start, args.hours)
    print_runs(records)
    return 0 if all(r["state"] == "success" for r in records) else 1


def register(subparsers) -> None:
    run = subparsers.add_parser("run", help="run the DAG over a window of hourly runs against the stack")
    run.add_argument("--start", type=parse_hour, default=parse_hour("2018-11-01T00"),
                     help="first hour, YYYY-MM-DDTHH (UTC); default 2018-11-01T00")
    run.add_argument("--hours", type=int, default=24, help="number of hourly runs (default 24)")
    run.set_defaults(func=cmd_run)

