"""`python -m devstack airflow` (`make airflow`): the Airflow UI on the local stack.

Starts the stack, seeds the event files of yesterday and today (the scheduler's own run of the
latest hour needs them; `devstack.liveday`: ids no dataset uses, never a dataset's file), starts
the local Airflow (`devstack.local_airflow`: api-server, dag-processor, triggerer, scheduler on the
stack's PostgreSQL), unpauses `sparkify_etl`, queues the demo day's backfill once (only when the
bucket holds 2018-11-01 and the warehouse no play; at the backfill's default concurrency), and
prints the URL and login only when every component is healthy, with a hint naming the days the
bucket holds.
It then stays in the foreground: Ctrl-C, SIGTERM, SIGHUP, a component that dies, or `make down`
from another shell all stop every Airflow process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from rich.console import Console

from devstack.local_airflow import LocalAirflow
from devstack.stack import ROOT, Stack
from devstack.task_logs import remote_base

console = Console(stderr=True, soft_wrap=True)  # commands must stay copy-pasteable
DAG_ID = "sparkify_etl"
DEMO_DAY = datetime(2018, 11, 1, tzinfo=UTC)
LOG_PREFIX = "log_data/"
DAY_FILE = re.compile(r"(\d{4}-\d{2}-\d{2})-events\.json$")


def stop_airflow(stack: Stack) -> bool:
    """Stop the local Airflow of `stack` (used by `down`); waits until its port is free."""
    return LocalAirflow(stack).stop()


def seed_live_days(stack: Stack):
    """Upload yesterday's and today's live events (`devstack.liveday`), say what was done, return
    its `LiveDays`."""
    from devstack import liveday  # datagen and boto3: only for this command, not for the CLI's start
    from devstack.datagen import GenConfig
    from devstack.demo import DEMO_DATASET

    out = stack.dir / "live-data"
    live = liveday.seed_live_days(out, GenConfig(**DEMO_DATASET), stack.config.bucket,
                                  endpoint_url=stack.s3.endpoint_url)
    stack.record_seed(out, only="log_data")
    yesterday = live.today - timedelta(days=1)
    console.print(f"seeded events for {yesterday} and {live.today} (the scheduler's runs of the latest hours "
                  f"need them; live users from {liveday.LIVE_USER_ID_OFFSET + 2:,} up, never a dataset's)")
    for key in live.kept:
        console.print(f"  {key} belongs to the dataset in the bucket: left as it is")
    return live


def bucket_days(stack: Stack, *, exclude: Iterable[str] = ()) -> list[date]:
    """The days whose event file is in the stack's bucket (one listing of `log_data/`), without the
    keys in `exclude` (the live days)."""
    skip = set(exclude)
    days = set()
    for page in stack.s3_client().get_paginator("list_objects_v2").paginate(Bucket=stack.config.bucket,
                                                                            Prefix=LOG_PREFIX):
        for item in page.get("Contents", []):
            match = DAY_FILE.search(item["Key"])
            if match and item["Key"] not in skip:
                days.add(date.fromisoformat(match.group(1)))
    return sorted(days)


def day_ranges(days: list[date]) -> str:
    """'2018-11-01 to 2018-11-30, 2018-12-03' for sorted `days`."""
    ranges: list[list[date]] = []
    for day in days:
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return ", ".join(f"{first}" if first == last else f"{first} to {last}" for first, last in ranges)


def warehouse_has_plays(stack: Stack) -> bool:
    """True when `songplays` holds a play of a dataset (the live days' own plays do not count)."""
    import psycopg

    from devstack import liveday

    with psycopg.connect(stack.postgres.dsn(), autocommit=True, connect_timeout=30) as conn:
        if conn.execute("SELECT to_regclass('public.songplays')").fetchone()[0] is None:
            return False
        return conn.execute("SELECT EXISTS (SELECT 1 FROM songplays WHERE session_id < %s)",
                            (liveday.LIVE_SESSION_ID_OFFSET,)).fetchone()[0]


def demo_backfill_reason(days: list[date], has_plays: bool) -> str | None:
    """Why the demo backfill is not queued, or None when it should be: it is for an empty warehouse
    and a bucket that holds the demo's first day."""
    if DEMO_DAY.date() not in days:
        return f"no demo backfill: the bucket has no event file for {DEMO_DAY:%Y-%m-%d}"
    if has_plays:
        return "no demo backfill: the warehouse already holds plays"
    return None


def queue_demo_backfill(api, hours: int) -> str:
    """Queue the demo day's backfill unless one exists; returns one sentence saying what happened.

    No max_active_runs: the backfill's own default (10 runs at once), the concurrency the DAG is
    built for, so it is over in minutes and does not hold the user's first backfill for long.
    """
    end = DEMO_DAY + timedelta(hours=hours - 1)
    existing = api.get("/backfills", dag_id=DAG_ID)["backfills"]
    for backfill in existing:
        if backfill["completed_at"] is None:
            return (f"a backfill of {DAG_ID} is already running ({backfill['from_date']} to {backfill['to_date']}): "
                    "not queuing another")
    if any(backfill["from_date"].startswith("2018-11-01T00:00") for backfill in existing):
        return "the demo day was backfilled by an earlier `make airflow`: not queued again (see Browse > Backfills)"
    response = api.backfill(DAG_ID, DEMO_DAY, end)
    if response.status_code == 409:
        return f"a backfill of {DAG_ID} is already running: not queuing another"
    response.raise_for_status()
    runs = response.json().get("max_active_runs")
    return (f"queued a backfill of {hours} hourly runs from {DEMO_DAY:%Y-%m-%d %H:%M} UTC"
            + (f", up to {runs} at a time" if runs else ""))


def hints(airflow: LocalAirflow, days: list[date], queued: set[date]) -> str:
    """How to backfill a day the bucket holds (the first one not queued), from another shell."""
    home = airflow.home.relative_to(ROOT) if airflow.home.is_relative_to(ROOT) else airflow.home
    env_line = "Connections and variables for your own scripts: eval \"$(.venv/bin/python -m devstack env)\""
    if not days:
        return ("The bucket holds no event file besides the live days: seed a dataset "
                "(`.venv/bin/python -m devstack seed DIR`, or `make demo`), then backfill it.\n" + env_line)
    day = next((day for day in days if day not in queued), days[0])
    return (
        f"The bucket holds event files for {day_ranges(days)}. Backfill a day from another shell "
        "(once no other backfill of the DAG runs):\n"
        f"  AIRFLOW_HOME={home} .venv/bin/airflow backfill create --dag-id {DAG_ID} \\\n"
        f"      --from-date {day}T00:00:00 --to-date {day}T23:00:00\n" + env_line
    )


def task_logs_hint(stack: Stack) -> str:
    """Where finished tasks' logs go (remote logging to the local S3)."""
    return f"Finished tasks' logs: {remote_base()}/ on the local S3 ({stack.s3.endpoint_url}); the UI reads them there"


def notifications_hint(stack: Stack) -> str:
    """Where the DAG's failure and late-hour notifications arrive locally."""
    folder = stack.mail.folder.relative_to(ROOT) if stack.mail.folder.is_relative_to(ROOT) else stack.mail.folder
    return (f"Notifications (a task's final failure, a late hour) arrive as .eml files in {folder}/ "
            f"(SMTP sink on {stack.config.host}:{stack.config.mail_port}, connection sparkify_alerts)")


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
        live = seed_live_days(stack)
        days = bucket_days(stack, exclude=live.ever_uploaded)
        # Before unpausing: the scheduler's first run publishes a live hour at once.
        skip_demo = demo_backfill_reason(days, warehouse_has_plays(stack)) if args.hours else \
            "no backfill queued (--hours 0)"
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
        backfill = skip_demo or queue_demo_backfill(api, args.hours)
        queued = set() if skip_demo else {(DEMO_DAY + timedelta(hours=h)).date() for h in range(args.hours)}
        username, password = airflow.login
        console.print(f"\n[bold]Airflow UI:[/] {airflow.base_url}  login: {username} / {password}"
                      f"  (healthy after {started:.0f} s)")
        console.print(f"{DAG_ID} is unpaused; {backfill}.")
        console.print(notifications_hint(stack))
        console.print(task_logs_hint(stack))
        console.print(hints(airflow, days, queued))
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
                        help="backfill this many hours from 2018-11-01T00 once, when the bucket holds that day "
                             "and the warehouse no play (default 24; 0: none)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for a healthy Airflow")
    parser.set_defaults(func=cmd_airflow)
