"""End-to-end fixtures: the real local stack (PostgreSQL, Redshift endpoint, moto server) in a
scratch directory, a generated dataset seeded into its S3, and helpers to run the real DAG."""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest
from e2e_support import TABLES, hour

from devstack.run_window import run_window
from devstack.stack import Stack
from tests.scratch_stack import scratch_stack

# Two days so sessions cross midnight; small so the suite stays quick.
DATASET = {"seed": 20181101, "days": 2, "events_per_day": 900, "users": 40, "songs": 400, "artists": 160}
START = date(2018, 11, 1)


class Warehouse:
    """Direct PostgreSQL access behind the endpoint, for assertions only."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.stack.postgres.dsn(), autocommit=True)

    def rows(self, sql: str, params=None) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, params).fetchall()

    def checksums(self) -> dict[str, tuple[int, str]]:
        """Row count and md5 of the sorted contents of every fact and dimension table."""
        result = {}
        for table in TABLES:
            count, digest = self.rows(
                f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            )[0]
            result[table] = (count, digest)
        return result

    def reset(self) -> None:
        """Drop every table: the DAG's create_tables task rebuilds them."""
        with self.connect() as conn:
            names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            for name in names:
                conn.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


@pytest.fixture(scope="session")
def stack():
    from devstack.datagen import GenConfig, generate
    from devstack.seed import seed_bucket

    with scratch_stack("sparkify-e2e-") as (stack, scratch):
        data = scratch / "data"
        generate(data, GenConfig(start_date=START, **DATASET), progress=False)
        seed_bucket(data, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        stack.data_dir = data
        yield stack


@pytest.fixture(scope="session")
def truth(stack) -> dict:
    return json.loads((stack.data_dir / "truth.json").read_text())


@pytest.fixture
def warehouse(stack) -> Warehouse:
    """An empty warehouse for each test."""
    warehouse = Warehouse(stack)
    warehouse.reset()
    return warehouse


@pytest.fixture
def run_hours(stack):
    """Run the real DAG for consecutive hours; returns one record per run."""

    def run(first_hour: str, hours: int, extra_args: list[str] | None = None) -> list[dict]:
        return run_window(stack, hour(first_hour), hours, quiet=True, extra_args=extra_args)

    return run
