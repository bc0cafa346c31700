"""The real Airflow scheduler on the local stack: fixtures for scheduler and browser tests.

`local_airflow` (session) is a `devstack.local_airflow.LocalAirflow` with all four components
(api-server, dag-processor, triggerer, scheduler; LocalExecutor; metadata in the stack's
PostgreSQL) started on a free port, `sparkify_etl` parsed and unpaused, and the scheduler's own
first run (the latest hour, fed by `devstack.liveday`) finished. Tests then own the scheduler:
`local_airflow.api()` is an authenticated REST client (`trigger`, `backfill`, `wait_for_run`,
`wait_for_runs`, `clear_tasks`, `task_instances`, `task_log`), `local_airflow.cli(...)` runs the
`airflow` CLI with the same environment.

`airflow_stack` is the scratch stack behind it (`.data_dir`: the generated dataset of
2018-11-01, truth file included; `.warehouse_rows(sql)`: a query on the PostgreSQL behind the
endpoint). Keep runs on 2018-11-01 (the seeded day) and remember `max_active_runs=1`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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

DAG_ID = "sparkify_etl"
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
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-sched-"))
    scratch.chmod(0o755)  # PostgreSQL runs as another account when we are root
    saved = os.environ.get("SPARKIFY_DEVSTACK_DIR")
    os.environ["SPARKIFY_DEVSTACK_DIR"] = str(scratch / "stack")
    stack = AirflowStack(scratch / "stack")
    try:
        stack.up()
        stack.data_dir = scratch / "data"
        generate(stack.data_dir, DATASET, progress=False)
        seed_bucket(stack.data_dir, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        seed_live_days(scratch / "live-data", DATASET, stack.config.bucket, endpoint_url=stack.s3.endpoint_url)
        yield stack
    finally:
        stack.down()
        if saved is None:
            os.environ.pop("SPARKIFY_DEVSTACK_DIR", None)
        else:
            os.environ["SPARKIFY_DEVSTACK_DIR"] = saved
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def local_airflow(airflow_stack):
    airflow = LocalAirflow(airflow_stack, home=airflow_stack.dir / "airflow", port=free_port())
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
