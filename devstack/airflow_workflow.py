"""`python -m devstack airflow` (`make airflow`): the Airflow UI on the local stack.

Starts the stack, seeds the event files of yesterday and today (the scheduler's own run of the
latest hour needs them), starts the local Airflow (`devstack.local_airflow`: api-server,
dag-processor, triggerer, scheduler on the stack's PostgreSQL), unpauses `sparkify_etl`, queues
the demo day's backfill once, and prints the URL and login only when every component is healthy.
It then stays in the foreground: Ctrl-C, SIGTERM, SIGHUP, a component that dies, or `make down`
from another shell all stop every Airflow process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import time
from datetime import UTC, datetime, timedelta

from rich.console import Console

from devstack.local_airflow import LocalAirflow
from devstack.stack import ROOT, Stack
from devstack.task_logs import remote_base

console = Console(stderr=True, soft_wrap=True)  # commands must stay copy-pasteable
DAG_ID = "sparkify_etl"
DEMO_DAY = datetime(2018, 11, 1, tzinfo=UTC)
# Runs share the staging tables: one at a time (a backfill ignores the DAG's max_active_runs).
BACKFILL_MAX_ACTIVE_RUNS = 1


def stop_airflow(stack: Stack) -> bool:
    """Stop the local Airflow of `stack` (used by `down`); waits until its port is free."""
    return LocalAirflow(stack).stop()


def seed_live_days(stack: Stack) -> None:
    from devstack.datagen import GenConfig
    from devstack.demo import DEMO_DATASET
    from devstack.liveday import seed_live_days as seed

    out = stack.dir / "live-data"
    today = seed(out, GenConfig(**DEMO_DATASET), stack.config.bucket, endpoint_url=stack.s3.endpoint_url)
    stack.record_seed(out, only="log_data")
    console.print(f"seeded events for {today - timedelta(days=1)} and {today} (the scheduler's runs of the "
                  "latest hours need them)")


def queue_demo_backfill(api, hours: int) -> str:
    """Queue the demo day's backfill unless one exists; returns one sentence saying what happened."""
    end = DEMO_DAY + timedelta(hours=hours - 1)
    existing = api.get("/backfills", dag_id=DAG_ID)["backfills"]
    for backfill in existing:
        if backfill["completed_at"] is None:
            return (f"a backfill of {DAG_ID} is already running ({backfill['from_date']} to {backfill['to_date']}): "
                    "not queuing another")
    if any(backfill["from_date"].startswith("2018-11-01T00:00") for backfill in existing):
        return "the demo day was backfilled by an earlier `make airflow`: not queued again (see Browse > Backfills)"
    response = api.backfill(DAG_ID, DEMO_DAY, end, max_active_runs=BACKFILL_MAX_ACTIVE_RUNS)
    if response.status_code == 409:
        return f"a backfill of {DAG_ID} is already running: not queuing another"
    response.raise_for_status()
    return (f"queued a backfill of {hours} hourly runs from {DEMO_DAY:%Y-%m-%d %H:%M} UTC, "
            f"{BACKFILL_MAX_ACTIVE_RUNS} at a time (the runs share the staging tables)")


def hints(airflow: LocalAirflow) -> str:
    home = airflow.home.relative_to(ROOT) if airflow.home.is_relative_to(ROOT) else airflow.home
    return (
        "Backfill another window (the demo data also covers 2018-11-02) from another shell:\n"
        f"  AIRFLOW_HOME={home} .venv/bin/airflow backfill create --dag-id {DAG_ID} \\\n"
        "      --from-date 2018-11-02T00:00:00 --to-date 2018-11-02T23:00:00 --max-active-runs 1\n"
        "Connections and variables for your own scripts: eval \"$(.venv/bin/python -m devstack env)\"\n"
        f"Finished tasks' logs: {remote_base()}/ on the local S3 ({airflow.stack.s3.endpoint_url}); the UI reads them there"
    )


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signal.Signals(signum).name)


def cmd_airflow(args: argparse.Namespace) -> int:
    began = time.monotonic()
    stack = Stack()
    airflow = LocalAirflow(stack, port=args.port, host=args.host)
    stopped_elsewhere = False
    # SIGINT too: a shell that starts us in the background may have set it to "ignore".
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stop)
    try:
        stack.up()
        if stack.bucket_is_empty():
            console.print(f"[yellow]warning:[/] bucket {stack.config.bucket} is empty: run `make demo` "
                          "(or `python -m devstack seed`) first, or every run will fail")
        seed_live_days(stack)
        already = airflow.running()
        console.print("Airflow is already running: checking it" if already else
                      f"starting Airflow (logs: {airflow.run_dir}) ...")
        note = airflow.start(timeout=args.timeout, on_progress=lambda message: console.print(f"  {message}"))
        if note:
            console.print(note)
        started = time.monotonic() - began
        api = airflow.api()
        api.wait_for_dag(DAG_ID)
        api.unpause(DAG_ID)
        backfill = queue_demo_backfill(api, args.hours) if args.hours else "no backfill queued (--hours 0)"
        username, password = airflow.login
        console.print(f"\n[bold]Airflow UI:[/] {airflow.base_url}  login: {username} / {password}"
                      f"  (healthy after {started:.0f} s)")
        console.print(f"{DAG_ID} is unpaused; {backfill}.")
        console.print(hints(airflow))
        console.print("Ctrl-C here (or `make down`) stops Airflow; the stack keeps running.")
        while True:
            if airflow.stopping():
                console.print("Airflow is being stopped from another shell (`make down`)")
                stopped_elsewhere = True
                return 0
            dead = [name for name, pid in airflow.pids().items() if pid is None]
            if dead:
                console.print(f"[red]airflow {dead[0]} stopped[/] (see {airflow.log_file(dead[0])}): "
                              "stopping the other components")
                return 1
            time.sleep(1)
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        if airflow.stop() and not stopped_elsewhere:
            console.print("Airflow stopped; the stack is still up (`make down` stops it).")
        reap_children()


def reap_children() -> None:
    """Collect the exit status of components we started and someone else stopped (no zombies)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def register(subparsers) -> None:
    parser = subparsers.add_parser("airflow", help="the Airflow UI (api-server, scheduler, ...) on the stack")
    parser.add_argument("--port", type=int, default=None, help="UI port (default 8080, or a free one if taken)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind the UI to (default loopback only)")
    parser.add_argument("--hours", type=int, default=24,
                        help="backfill this many hours from 2018-11-01T00 once (default 24; 0: none)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for a healthy Airflow")
    parser.set_defaults(func=cmd_airflow)
