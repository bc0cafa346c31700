"""Run the real `sparkify_etl` DAG for a window of hourly intervals in this process, without a scheduler.

Started as a child process by `python -m devstack run` with the stack's connections and
variables in its environment (Airflow reads its configuration at import). One process runs
every hour in turn: Airflow's start-up (~4 s) is paid once, not per run, and no scheduler or
api-server is needed. Each run's outcome is appended as a JSON line to --progress-file.

One convention for every run: the run for hour H is the scheduler's run for H (run type
`scheduled`, logical date H, data interval [H, H+1 h)), so a later backfill of H finds and re-runs it.
Its tasks run through dag.test()'s task runner (see run_scheduled). Two windows
started at once (two shells) run one after the other: a lock file in AIRFLOW_HOME serialises them.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

QUALITY_TASK = "run_quality_checks"
log = logging.getLogger(__name__)


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


def scheduled_run_info(scheduler_dag, hour: datetime):
    """The run the scheduler, and a backfill, make for logical date `hour`: the timetable's DagRunInfo.

    This is the timetable method a backfill uses (`iter_dagrun_infos_between`); for the hourly
    CronDataIntervalTimetable it is logical date H with data interval [H, H + 1 h).
    """
    infos = list(scheduler_dag.iter_dagrun_infos_between(earliest=hour, latest=hour))
    if [info.logical_date for info in infos] != [hour]:
        raise ValueError(f"{hour.isoformat()} is not a scheduled logical date of {scheduler_dag.dag_id}")
    return infos[0]


def sync_dag_to_db(dag_id: str) -> None:
    """Write the DAG (and the other DAGs of its bundle) to the metadata DB, as dag.test() does first."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
    from airflow.models.dag_version import DagVersion

    manager = DagBundlesManager()
    manager.sync_bundles_to_db()
    for bundle in manager.get_all_dag_bundles():
        if not bundle.is_initialized:
            bundle.initialize()
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        sync_bag_to_db(bag, bundle.name, bundle.version)
        if DagVersion.get_version(dag_id):
            return
    raise SystemExit(f"DAG {dag_id} is in no DAG bundle")


def run_scheduled(dag, hour: datetime, conf: dict | None = None):
    """Create the scheduler's run for `hour` and run its tasks in this process, as dag.test() does.

    dag.test(logical_date=H) cannot make that run: it gives every run the *manual* data interval
    of its logical date, which for an hourly CronDataIntervalTimetable is the hour before H
    ([H - 1 h, H)), and it replaces any run at H with such a manual run. A run with logical date
    H must have the interval [H, H + 1 h) that the scheduler and a backfill give it, or a later
    backfill of H would find "its" run holding another hour's data. So the run is created as the
    scheduler creates it (run type `scheduled`, the timetable's DagRunInfo), replacing an earlier
    run at H, and its tasks go through dag.test()'s own task runner, without an executor. That
    runner (`airflow.sdk.definitions.dag._run_task`) is private to Airflow: requirements.lock pins
    the version, and tests/integration/test_dagrun_window.py runs this function on a probe DAG.
    """
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.utils import timezone
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType
    from sqlalchemy import select

    session = settings.Session()
    scheduler_dag = scheduler_view(dag, session)
    info = scheduled_run_info(scheduler_dag, hour)
    earlier = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.logical_date == hour))
    if earlier:
        session.delete(earlier)
        session.commit()
    run = scheduler_dag.create_dagrun(
        run_id=scheduler_dag.timetable.generate_run_id(
            run_type=DagRunType.SCHEDULED, run_after=info.run_after, data_interval=info.data_interval,
            partition_key=info.partition_key),
        logical_date=info.logical_date,
        data_interval=info.data_interval,
        run_after=info.run_after,
        conf=conf,
        run_type=DagRunType.SCHEDULED,
        triggered_by=DagRunTriggeredByType.TEST,
        triggering_user_name="devstack",
        state=DagRunState.RUNNING,
        start_date=timezone.utcnow(),
        session=session,
    )
    return run_tasks(dag, run, session)


def run_manual(dag, run_after: datetime, conf: dict | None = None):
    """The run `airflow dags trigger` makes without a logical date, run in this process.

    Not dag.test(logical_date=None): Airflow 3.3.2's dag.test() serializes the DAG in memory, where the
    Deadline Alerts are definitions, not the ids of their DB rows, and the state update that ends a
    successful run fails on them.
    """
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from airflow.utils import timezone
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    session = settings.Session()
    run = scheduler_view(dag, session).create_dagrun(
        run_id=DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=None, run_after=run_after),
        logical_date=None,
        data_interval=None,
        run_after=run_after,
        conf=conf,
        run_type=DagRunType.MANUAL,
        triggered_by=DagRunTriggeredByType.TEST,
        triggering_user_name="devstack",
        state=DagRunState.RUNNING,
        start_date=timezone.utcnow(),
        session=session,
    )
    return run_tasks(dag, run, session)


def scheduler_view(dag, session):
    """The scheduler's own view of the DAG, as synced to the DB (sync_dag_to_db).

    A DAG serialized here in memory would carry its Deadline Alerts as definitions, where the run's
    state update expects the ids of their rows in the DB.
    """
    from airflow.models.serialized_dag import SerializedDagModel

    scheduler_dag = SerializedDagModel.get_dag(dag.dag_id, session=session)
    for task in scheduler_dag.tasks:  # the runs' task instances take their tries from here
        task.retries = dag.task_dict[task.task_id].retries
    return scheduler_dag


def run_tasks(dag, run, session):
    """Schedule and run ``run``'s tasks in this process until it ends, with dag.test()'s task runner."""
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils import timezone
    from airflow.utils.state import DagRunState, TaskInstanceState

    while run.state == DagRunState.RUNNING:
        session.expire_all()
        schedulable, _ = run.update_state(session=session)
        for ti in schedulable:
            if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
                ti.try_number += 1
            ti.state = TaskInstanceState.SCHEDULED
            ti.scheduled_dttm = timezone.utcnow()
        session.commit()
        scheduled = [ti for ti in run.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED]
        if not scheduled and run.state == DagRunState.RUNNING:
            time.sleep(1)  # e.g. a task waiting for a reschedule
        for ti in scheduled:
            try:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
            except Exception:
                log.exception("task %s failed", ti.task_id)  # its state says so; the run goes on
    return run


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
        sync_dag_to_db(dag_id)
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
        dag_run = run_manual(dag, interval_start + timedelta(hours=1, minutes=5), conf)
    else:
        dag_run = run_scheduled(dag, interval_start, conf)
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
