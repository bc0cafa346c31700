"""The orchestration floor: how much of a cached backfill through the real scheduler is Airflow's own?

A cached hourly run (its day file and catalog already staged, so both staging tasks skip) does
little work of its own; its wall time under the scheduler is mostly orchestration: scheduling,
a process per task, each task importing its modules. This bench backfills the same window of
cached hours, side by side in one local Airflow (`devstack.local_airflow`: api-server,
dag-processor, triggerer, scheduler with LocalExecutor, parallelism 4), on three DAGs of the same
shape (task ids, dependencies, trigger rules, max_active_tis_per_dag, the DAG's limits and
timetable, all read from the real DAG):

- `sparkify_etl` itself;
- `floor_sdk`: no-op tasks (the two staging tasks skip, as they do when cached), importing only
  `airflow.sdk` (and the standard provider's EmptyOperator for `begin`/`end`, which the scheduler
  completes without a process, as in the real DAG);
- `floor_same_imports`: the same no-op DAG importing what `sparkify_etl.py` imports.

Steps: a scratch stack, one generated day (2018-11-01) seeded, the live days seeded (the real
DAG's first scheduled run needs them), the three DAGs unpaused and their first scheduled run
awaited; a warm-up backfill of hour 00 per DAG (it stages the day file and the catalog for
`sparkify_etl`); then, per DAG in turn, a backfill of hours 01..BENCH_HOURS at the backfill's
default concurrency, timed from its creation to the last run's end. `--preload both` (the default)
measures with the scheduler's preload of the tasks' imports off (`SPARKIFY_PRELOAD_TASK_IMPORTS=0`)
and then on (scheduler restarted), the same window reprocessed.

Last line: sparkify / sdk-floor and sparkify / same-imports wall-time ratios (with the preload
on when it was measured). Reference on a quiet machine, before the preload: 77 s, 58 s, 88 s for
12 hours (1.33 and 0.88).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOURS = int(os.environ.get("BENCH_HOURS", 12))
DAG_ID = "sparkify_etl"
FLOORS = ("floor_sdk", "floor_same_imports")
DAY = datetime(2018, 11, 1, tzinfo=UTC)
# The staging tasks skip themselves in a cached hour (the StagingCache hooks); the floors do the same.
SKIP_WHEN_CACHED = ("stage_events", "stage_songs")

FLOOR_BODY = '''

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, BaseOperator, CronDataIntervalTimetable
from airflow.sdk.exceptions import AirflowSkipException

import pendulum

TASKS = {tasks!r}  # task_id -> (empty, trigger_rule, max_active_tis_per_dag, skips)
EDGES = {edges!r}  # (upstream, downstream)


class Noop(BaseOperator):
    """Does nothing, or skips as a cached staging task does."""

    def __init__(self, *, skips: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.skips = skips

    def execute(self, context):
        if self.skips:
            raise AirflowSkipException("cached")


with DAG(dag_id={dag_id!r}, schedule=CronDataIntervalTimetable({cron!r}, timezone="UTC"),
         start_date=pendulum.datetime(2018, 11, 1, tz="UTC"), catchup=False,
         max_active_runs={max_active_runs}, max_active_tasks={max_active_tasks}, default_args={{"retries": 0}}):
    made = {{}}
    for task_id, (empty, trigger_rule, max_tis, skips) in TASKS.items():
        if empty:
            made[task_id] = EmptyOperator(task_id=task_id, trigger_rule=trigger_rule)
        else:
            made[task_id] = Noop(task_id=task_id, trigger_rule=trigger_rule, max_active_tis_per_dag=max_tis,
                                 skips=skips)
    for upstream, downstream in EDGES:
        made[upstream] >> made[downstream]
'''


def dag_imports(path: Path) -> str:
    """The top-level import statements of a DAG file, as source text."""
    source = path.read_text()
    tree = ast.parse(source)
    return "\n".join(ast.get_source_segment(source, node) for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def floor_source(dag, dag_id: str, imports: str) -> str:
    """A no-op DAG file with `dag`'s shape under `dag_id`, after the import lines `imports`."""
    tasks = {task.task_id: (type(task).__name__ == "EmptyOperator", str(task.trigger_rule.value),
                            task.max_active_tis_per_dag, task.task_id in SKIP_WHEN_CACHED)
             for task in dag.tasks}
    edges = sorted((up, task.task_id) for task in dag.tasks for up in task.upstream_task_ids)
    return f'"""Orchestration floor for bench/scheduler_floor.py (generated)."""\n{imports}' + FLOOR_BODY.format(
        tasks=tasks, edges=edges, dag_id=dag_id, cron="@hourly",  # the real DAG's schedule (README)
        max_active_runs=dag.max_active_runs, max_active_tasks=dag.max_active_tasks)


def write_dags_folder(folder: Path) -> None:
    """`sparkify_etl.py` (linked) and the two floors, written from the real DAG's shape."""
    sys.path.insert(0, str(ROOT / "plugins"))
    from airflow.dag_processing.dagbag import DagBag

    dag_file = ROOT / "dags" / "sparkify_etl.py"
    dag = DagBag(str(dag_file)).dags[DAG_ID]
    folder.mkdir(parents=True)
    (folder / dag_file.name).symlink_to(dag_file)
    (folder / "floor_sdk.py").write_text(floor_source(dag, "floor_sdk", ""))
    (folder / "floor_same_imports.py").write_text(
        floor_source(dag, "floor_same_imports", dag_imports(dag_file) + "  # noqa: F401"))


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def backfill(api, dag_id: str, first_hour: int, last_hour: int) -> dict:
    """Backfill [first_hour, last_hour] of DAY at the default concurrency (completed runs run again)
    and wait until the scheduler marks it complete; returns seconds (creation to the last run's end),
    the runs' states and every task's states."""
    began = datetime.now(UTC)
    response = api.backfill(dag_id, DAY + timedelta(hours=first_hour), DAY + timedelta(hours=last_hour),
                            reprocess_behavior="completed")
    response.raise_for_status()
    created = response.json()
    deadline = time.monotonic() + 3600
    while api.get(f"/backfills/{created['id']}")["completed_at"] is None:
        if time.monotonic() > deadline:
            raise SystemExit(f"backfill of {dag_id} not complete after an hour")
        time.sleep(1)
    first, last = DAY + timedelta(hours=first_hour), DAY + timedelta(hours=last_hour)
    window = [run for run in api.runs(dag_id) if first <= parse_time(run["data_interval_start"]) <= last]
    ended = max(parse_time(run["end_date"]) for run in window)
    states: dict[str, set[str]] = {}
    for run in window:
        for ti in api.task_instances(dag_id, run["dag_run_id"]):
            states.setdefault(ti["task_id"], set()).add(ti["state"])
    return {"seconds": (ended - began).total_seconds(), "runs": sorted({run["state"] for run in window}),
            "tasks": states, "max_active_runs": created.get("max_active_runs")}


def measure(api, label: str) -> dict[str, dict]:
    """Backfill the window on each DAG in turn; print and return the results."""
    results = {}
    for dag_id in (*FLOORS, DAG_ID):
        result = backfill(api, dag_id, 1, HOURS)
        results[dag_id] = result
        print(f"[{label}] {dag_id:20} {HOURS} cached hours in {result['seconds']:6.1f} s "
              f"(runs {'/'.join(result['runs'])}, up to {result['max_active_runs']} at a time, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)
    shapes = {dag_id: {task: sorted(states) for task, states in result["tasks"].items()}
              for dag_id, result in results.items()}
    for floor in FLOORS:
        if shapes[floor] != shapes[DAG_ID]:
            print(f"warning: task states differ between {DAG_ID} and {floor}: {shapes[DAG_ID]} vs {shapes[floor]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preload", choices=("off", "on", "both"), default="both",
                        help="the scheduler's preload of the tasks' imports (default both: off, then on)")
    args = parser.parse_args()

    from devstack.datagen import GenConfig, generate
    from devstack.liveday import seed_live_days
    from devstack.local_airflow import LocalAirflow
    from devstack.processes import free_port
    from devstack.seed import seed_bucket
    from devstack.stack import Stack

    scratch = Path(tempfile.mkdtemp(prefix="sparkify-floor-bench-"))
    scratch.chmod(0o755)
    os.environ["SPARKIFY_DEVSTACK_DIR"] = str(scratch / "stack")
    stack = Stack(scratch / "stack")
    airflow = None
    modes = {"off": ["0"], "on": ["1"], "both": ["0", "1"]}[args.preload]
    try:
        stack.up()
        config = GenConfig(seed=20181101, start_date=date(2018, 11, 1), days=1, events_per_day=900, users=40,
                           songs=150, artists=80)
        generate(scratch / "data", config, progress=False)
        seed_bucket(scratch / "data", stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        seed_live_days(scratch / "live-data", config, stack.config.bucket, endpoint_url=stack.s3.endpoint_url)
        write_dags_folder(scratch / "dags")
        figures: dict[str, dict[str, dict]] = {}
        warmed = False
        for mode in modes:
            airflow = LocalAirflow(stack, home=scratch / "airflow", port=free_port(), extra_env={
                "AIRFLOW__CORE__DAGS_FOLDER": str(scratch / "dags"), "SPARKIFY_PRELOAD_TASK_IMPORTS": mode})
            began = time.monotonic()
            airflow.start(timeout=600)
            api = airflow.api()
            for dag_id in (DAG_ID, *FLOORS):
                api.wait_for_dag(dag_id)
                api.unpause(dag_id)
            if not warmed:
                for dag_id in (DAG_ID, *FLOORS):  # catchup=False: a run of the latest hour at unpause
                    api.wait_for_runs(dag_id, count=1, run_type="scheduled", timeout=1800)
                for dag_id in (DAG_ID, *FLOORS):  # hour 00 stages the day file and the catalog
                    warm = backfill(api, dag_id, 0, 0)
                    if warm["runs"] != ["success"]:
                        raise SystemExit(f"warm-up backfill of {dag_id} ended {warm['runs']}")
                warmed = True
            print(f"Airflow up and warm in {time.monotonic() - began:.0f} s (preload {'on' if mode == '1' else 'off'})",
                  flush=True)
            label = "preload on" if mode == "1" else "preload off"
            figures[label] = measure(api, label)
            api.close()
            airflow.stop()
            airflow = None
        for label, results in figures.items():
            sparkify = results[DAG_ID]["seconds"]
            print(f"[{label}] sparkify {sparkify:.1f} s, sdk floor {results['floor_sdk']['seconds']:.1f} s, "
                  f"same-imports floor {results['floor_same_imports']['seconds']:.1f} s")
        if len(figures) == 2:
            off, on = figures["preload off"], figures["preload on"]
            print("preload on/off: " + ", ".join(f"{dag_id} {on[dag_id]['seconds'] / off[dag_id]['seconds']:.2f}"
                                                   for dag_id in (DAG_ID, *FLOORS)))
        label, results = list(figures.items())[-1]
        sparkify = results[DAG_ID]["seconds"]
        print(f"ratios ({label}, {HOURS} cached hours): sparkify/sdk-floor "
              f"{sparkify / results['floor_sdk']['seconds']:.2f}, sparkify/same-imports "
              f"{sparkify / results['floor_same_imports']['seconds']:.2f}")
    finally:
        if airflow is not None:
            airflow.stop()
        stack.down()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
