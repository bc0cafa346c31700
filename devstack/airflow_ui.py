"""`python -m devstack airflow`: Airflow standalone (api-server, scheduler, dag-processor,
triggerer) against the local stack, with the DAG unpaused and the demo day backfilled.

Runs in the foreground until Ctrl-C, then stops the whole process group; `make down` stops it
too (pid file). Standalone is healthy after about 15 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from devstack.processes import port_open, read_pid, start_daemon, stop_daemon
from devstack.stack import Stack
from devstack.workflows import airflow_environment

console = Console(stderr=True)
HEALTH_PATH = "/api/v2/monitor/health"
# `completed`: the demo's dag.test() runs already hold some of these logical dates; rerun them so the
# whole day shows as one backfill in the grid (reruns are idempotent).
BACKFILL = ("airflow backfill create --dag-id sparkify_etl --from-date {start} --to-date {end}"
            " --reprocess-behavior completed")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=1) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return all(part.get("status") == "healthy" for name, part in health.items() if name in ("metadatabase", "scheduler"))


def airflow_cli(env: dict[str, str], *args: str, attempts: int = 30) -> subprocess.CompletedProcess:
    """Run an `airflow` CLI command, retrying while the DAG is not yet in the metadata DB."""
    airflow = str(Path(sys.executable).parent / "airflow")
    for _ in range(attempts):
        result = subprocess.run([airflow, *args], env=env, capture_output=True, text=True)
        if result.returncode == 0:
            return result
        time.sleep(2)
    raise RuntimeError(f"`airflow {' '.join(args)}` failed: {result.stderr.strip()[-800:]}")


def pid_file(stack: Stack) -> Path:
    return stack.dir / "airflow.pid"


def stop_airflow(stack: Stack) -> bool:
    return stop_daemon(pid_file(stack))


def seed_live_day(stack: Stack) -> None:
    """Generate and seed today's events, so the scheduler's runs of the current hour find data.

    With catchup off, unpausing creates a run for the latest hour; without a file for today its
    stage_events would fail and retry for 15 minutes, holding the backfill (max_active_runs=1).
    """
    from devstack.datagen import GenConfig, generate
    from devstack.seed import seed_bucket

    today = datetime.now(UTC).date()
    out = stack.dir / "live-data"
    marker = out / ".live-day"
    if not (marker.exists() and marker.read_text() == today.isoformat()):
        generate(out, GenConfig(seed=today.toordinal(), start_date=today, days=1, events_per_day=2000,
                                users=80, songs=300, artists=150), progress=False)
        marker.write_text(today.isoformat())
    seed_bucket(out, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
    console.print(f"seeded today's events ({today}) for the scheduler's current-hour runs")


def cmd_airflow(args: argparse.Namespace) -> int:
    stack = Stack()
    stack.up()
    seed_live_day(stack)
    env = {
        **airflow_environment(stack),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__PORT": str(args.port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    }
    if read_pid(pid_file(stack)) is not None and not healthy(args.port):
        console.print("an earlier Airflow standalone is running but not healthy: restarting it")
        stop_airflow(stack)
    if read_pid(pid_file(stack)) is None and port_open("127.0.0.1", args.port):
        console.print(f"[red]error:[/] port {args.port} is taken by another program; use --port")
        return 1
    log = stack.dir / "logs" / "airflow-standalone.log"
    console.print(f"starting Airflow standalone (log: {log}) ...")
    if read_pid(pid_file(stack)) is None:
        start_daemon("airflow standalone", [str(Path(sys.executable).parent / "airflow"), "standalone"],
                     pid_file=pid_file(stack), log_file=log, ready=lambda: healthy(args.port), timeout=180, env=env)
    airflow_cli(env, "dags", "reserialize")
    airflow_cli(env, "dags", "unpause", "sparkify_etl")
    backfill = BACKFILL.format(start=args.backfill_from, end=args.backfill_to)
    if args.backfill_from:
        airflow_cli(env, *backfill.split()[1:])
    passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    login = json.loads(passwords.read_text()) if passwords.exists() else {}
    console.print(f"\n[bold]Airflow UI:[/] http://localhost:{args.port}  login: admin / {login.get('admin', '(see log)')}")
    console.print("sparkify_etl is unpaused" + (f"; backfill queued: {backfill}" if args.backfill_from else ""))
    console.print("Backfill another window from another shell:\n"
                  f"  eval \"$(python -m devstack env)\" && AIRFLOW_HOME={env['AIRFLOW_HOME']} "
                  f"{BACKFILL.format(start='2018-11-01T00:00:00', end='2018-11-01T23:00:00')}")
    console.print("Ctrl-C (or `make down`) stops Airflow.")
    try:
        while read_pid(pid_file(stack)) is not None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop_airflow(stack)
        console.print("Airflow stopped; the stack is still up (`make down` stops it).")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("airflow", help="Airflow standalone (UI on :8080) against the stack")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--backfill-from", default="2018-11-01T00:00:00",
                        help="queue a backfill from this date (empty: none)")
    parser.add_argument("--backfill-to", default="2018-11-01T23:00:00")
    parser.set_defaults(func=cmd_airflow)
