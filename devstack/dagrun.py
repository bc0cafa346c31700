"""Run the real `sparkify_etl` DAG for a window of hourly intervals with `dag.test()`.

Started as a child process by `python -m devstack run` with the stack's connections and
variables in its environment (Airflow reads its configuration at import). One process runs
every hour in turn: Airflow's start-up (~4 s) is paid once, not per run, and no scheduler or
api-server is needed. Each run's outcome is appended as a JSON line to --progress-file.

One convention for every run: the run for hour H has logical date H and data interval [H, H+1 h),
exactly like the scheduler's run for H, so a later backfill of H finds and re-runs it. Two windows
started at once (two shells) run one after the other: a lock file in AIRFLOW_HOME serialises them.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

QUALITY_TASK = "run_quality_checks"


def parse_hour(text: str) -> datetime:
    """'2018-11-01T23' / '2018-11-01T23:00' / '2018-11-01' as an aware UTC datetime."""
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"not an hour: {text!r} (expected YYYY-MM-DDTHH)")


def ensure_metadata_db() -> None:
    from airflow.configuration import conf

    database = conf.get("database", "sql_alchemy_conn")
    if database.startswith("sqlite:///") and Path(database.removeprefix("sqlite:///")).exists():
        return  # migrated by an earlier run: saves ~4 s per window
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()  # the configured dags folder; examples are off in the environment
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {json.dumps(bag.import_errors, indent=2)}")
    return bag.get_dag(dag_id)


def quality_results(instances) -> list[dict]:
    """The quality gate's per-check results (its XCom), when it passed."""
    for ti in instances:
        if ti.task_id == QUALITY_TASK and str(ti.state) == "success":
            return (ti.xcom_pull(task_ids=QUALITY_TASK) or {}).get("results", [])
    return []


@contextmanager
def scheduled_intervals():
    """Make dag.test(logical_date=H) create the scheduler's run for H: data interval [H, H + 1 h).

    dag.test() asks the timetable for a *manual* run's interval at its logical date, which for an
    hourly CronDataIntervalTimetable is the hour *before* it ([H - 1 h, H)). Runs made that way
    would carry another hour's logical date than the scheduler's, and a backfill would find "its"
    run already there. For the duration of the block, a manual interval at H is the interval that
    starts at H, which is what the scheduler (and a backfill) give the run with logical date H.
    """
    from airflow.timetables.base import DataInterval
    from airflow.timetables.interval import CronDataIntervalTimetable

    original = CronDataIntervalTimetable.infer_manual_data_interval

    def interval_starting_at(self, *, run_after):
        start = self._align_to_prev(run_after)
        return DataInterval(start=start, end=self._get_next(start))

    CronDataIntervalTimetable.infer_manual_data_interval = interval_starting_at
    try:
        yield
    finally:
        CronDataIntervalTimetable.infer_manual_data_interval = original


@contextmanager
def exclusive_window():
    """Hold a lock file in AIRFLOW_HOME for the whole window: a second `devstack run` waits for it."""
    path = Path(os.environ.get("AIRFLOW_HOME", ".")) / "dagrun.lock"
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another devstack run holds {path}: waiting for it to finish", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def run_hours(dag_id: str, start: datetime, hours: int, progress_file: Path | None, *,
              conf: dict | None = None, without_logical_date: bool = False) -> int:
    """Run one DAG run per hour [start + i h, start + (i+1) h); returns the number that failed."""
    ensure_metadata_db()
    from airflow.sdk.log import configure_logging

    # The task SDK's logging, with its secrets masker: dag.test() runs tasks in this process and,
    # with Airflow core's logging set-up alone, would log connection secrets (the COPY
    # credentials) verbatim, as `airflow dags test` does.
    configure_logging(colored_console_log=False)
    dag = load_dag(dag_id)
    # dag.test() would sleep through retry_delay (5 min) before every retry: fail fast locally.
    for task in dag.tasks:
        task.retries = 0
    failed = 0
    with exclusive_window():
        for index in range(hours):
            failed += run_one(dag, start + timedelta(hours=index), progress_file, conf, without_logical_date)
    return failed


def run_one(dag, interval_start: datetime, progress_file: Path | None, conf: dict | None = None,
            without_logical_date: bool = False) -> int:
    """Run the DAG for the hour starting at ``interval_start``; 1 when the run failed.

    ``without_logical_date``: the run `airflow dags trigger` makes, no logical date, created 5 minutes
    after the hour ended (``run_after``); the DAG must then load that last complete hour.
    """
    began = time.monotonic()
    if without_logical_date:
        dag_run = dag.test(logical_date=None, run_after=interval_start + timedelta(hours=1, minutes=5),
                           run_conf=conf)
    else:
        with scheduled_intervals():
            dag_run = dag.test(logical_date=interval_start, run_conf=conf)
    state = str(getattr(dag_run, "state", "unknown"))
    instances = dag_run.get_task_instances() if dag_run else []
    tasks = {ti.task_id: str(ti.state) for ti in instances}
    record = {
        "interval_start": interval_start.isoformat(),
        "state": state,
        "seconds": round(time.monotonic() - began, 2),
        "run_id": getattr(dag_run, "run_id", None),
        "failed_tasks": sorted(task for task, state_ in tasks.items() if state_ not in ("success", "skipped")),
        "skipped_tasks": sorted(task for task, state_ in tasks.items() if state_ == "skipped"),
        "task_seconds": {ti.task_id: round(ti.duration or 0.0, 3) for ti in instances},
        "checks": quality_results(instances),
    }
    if progress_file:
        with open(progress_file, "a") as out:
            out.write(json.dumps(record) + "\n")
    return int(state != "success")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dag-id", default="sparkify_etl")
    parser.add_argument("--start", type=parse_hour, required=True)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--progress-file", type=Path)
    parser.add_argument("--conf", type=json.loads, help="run conf (params) as JSON, e.g. '{\"force_restage\": true}'")
    parser.add_argument("--without-logical-date", action="store_true",
                        help="run as `airflow dags trigger` does: no logical date, created after the hour")
    args = parser.parse_args(argv)
    failed = run_hours(args.dag_id, args.start, args.hours, args.progress_file, conf=args.conf,
                       without_logical_date=args.without_logical_date)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
