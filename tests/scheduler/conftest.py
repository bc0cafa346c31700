"""The real Airflow scheduler on the local stack: fixtures for scheduler and browser tests.

`local_airflow` (session) is a `devstack.local_airflow.LocalAirflow` with all four components
(api-server, dag-processor, triggerer, scheduler; LocalExecutor; metadata in the stack's
PostgreSQL) started on a free port, `sparkify_etl` parsed and unpaused, and the scheduler's own
first run (the latest hour, fed by `devstack.liveday`) finished. Tests then own the scheduler:
`local_airflow.api()` is an authenticated REST client (`trigger`, `backfill`, `wait_for_run`,
`wait_for_runs`, `clear_tasks`, `task_instances`, `task_log`), `local_airflow.cli(...)` runs the
`airflow` CLI with the same environment.

A second DAG bundle, `tests/scheduler/dags/` (`TEST_DAGS_BUNDLE`), holds DAGs that only the tests need,
such as `sparkify_catalog_consumer` (scheduled on the `songs` asset); they start paused.

`airflow_stack` is the scratch stack behind it (`.data_dir`: the generated dataset of
2018-11-01, truth file included; `.warehouse_rows(sql)`: a query on the PostgreSQL behind the
endpoint). Keep runs on 2018-11-01 (the seeded day) and remember `max_active_runs=1`.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

from devstack.datagen import GenConfig, generate
from devstack.liveday import seed_live_days
from devstack.local_airflow import LocalAirflow
from devstack.processes import free_port
from devstack.seed import seed_bucket
from devstack.stack import Stack
from tests.scratch_stack import scratch_stack

DAG_ID = "sparkify_etl"
TEST_DAGS = Path(__file__).parent / "dags"
# The deployment's own bundle (Airflow's default: the dags folder) plus the tests' DAGs.
TEST_DAGS_BUNDLE = json.dumps([
    {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
    {"name": "test-dags", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
     "kwargs": {"path": str(TEST_DAGS)}},
])
# The late-hour Deadline Alert of this session: a run not succeeded 2 minutes after it was due (the
# deployment default is 120). Any slow run of the session may then also get a late notification; tests
# count messages per run and kind (X-Sparkify-Run-Id, X-Sparkify-Kind), never all of them.
LATE_AFTER_ENV = "SPARKIFY_LATE_AFTER_MINUTES"
LATE_AFTER_MINUTES = 2
# One day, small: every hourly run stages the whole catalog (one S3 GET per song file).
DATASET = GenConfig(seed=20181101, start_date=date(2018, 11, 1), days=1, events_per_day=900, users=40,
                    songs=150, artists=80)


class AirflowStack(Stack):
    """A Stack in a scratch directory with the test dataset seeded."""

    data_dir: Path

    def warehouse_rows(self, sql: str, params=None) -> list[tuple]:
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def truth(self) -> dict:
        return json.loads((self.data_dir / "truth.json").read_text())


@pytest.fixture(scope="session")
def airflow_stack():
    with scratch_stack("sparkify-sched-", AirflowStack) as (stack, scratch):
        stack.data_dir = scratch / "data"
        generate(stack.data_dir, DATASET, progress=False)
        seed_bucket(stack.data_dir, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        seed_live_days(scratch / "live-data", DATASET, stack.config.bucket, endpoint_url=stack.s3.endpoint_url)
        yield stack


@pytest.fixture(scope="session")
def local_airflow(airflow_stack):
    airflow = LocalAirflow(airflow_stack, home=airflow_stack.dir / "airflow", port=free_port(),
                           extra_env={"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": TEST_DAGS_BUNDLE,
                                      LATE_AFTER_ENV: str(LATE_AFTER_MINUTES)})
    try:
        airflow.start(timeout=300)
        api = airflow.api()
        api.wait_for_dag(DAG_ID)
        api.unpause(DAG_ID)
        # catchup=False: unpausing makes the scheduler create a run for the latest hour. Let it
        # finish so tests start with the single active-run slot free.
        first = api.wait_for_runs(DAG_ID, count=1, run_type="scheduled", timeout=900)
        airflow.first_scheduled_runs = first
        api.close()
        yield airflow
    finally:
        airflow.stop()


def pytest_collection_modifyitems(items):
    """The real scheduler is slow on a busy 2-core machine: the first test also pays for starting
    Airflow and its first run, so these tests get 30 minutes instead of the suite's 10."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.timeout(1800))
