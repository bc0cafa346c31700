"""Every client the project uses connects through the endpoint; the project's DDL translates and runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import psycopg2
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import CREDS, pg, unique

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_redshift_connector(endpoint):
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        cur = conn.cursor()
        cur.execute("SELECT %s::int + 1, current_user", (41,))
        assert cur.fetchone() == [42, endpoint.user]
        cur.execute("SELECT %s::int + 1, current_user", (1,))  # cached prepared statement
        assert cur.fetchone()[0] == 2
        conn.rollback()


def test_psycopg_simple_extended_and_binary(endpoint):
    with psycopg.connect(endpoint.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT %s::text", ("x",), prepare=True).fetchone() == ("x",)
        assert conn.execute("SELECT %s::int", (3,), binary=True).fetchone() == (3,)
        assert conn.info.parameter_status("server_version").replace(".", "").isdigit()


def test_psycopg2(endpoint):
    conn = psycopg2.connect(endpoint.dsn(), connect_timeout=10)
    try:
        cur = conn.cursor()
        cur.execute("SELECT getdate() <= clock_timestamp()::timestamp")  # GETDATE: statement start (r_GETDATE)
        assert cur.fetchone() == (True,)
    finally:
        conn.close()


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
def test_psql(endpoint):
    out = subprocess.run(
        ["psql", "-X", "-A", "-t", "-h", endpoint.host, "-p", str(endpoint.port), "-U", endpoint.user,
         "-d", endpoint.dbname, "-c", "SELECT DATE_PART(dow, DATE '2018-11-04')"],
        env={**os.environ, "PGPASSWORD": endpoint.password, "PGSSLMODE": "prefer"},
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0"


def test_wrong_password_is_rejected(endpoint):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(endpoint.dsn().replace(f"password={endpoint.password}", "password=wrong"),
                        connect_timeout=10)


def test_airflow_hooks(endpoint, monkeypatch):
    from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    monkeypatch.setenv("AIRFLOW_CONN_EP_REDSHIFT", json.dumps(endpoint.airflow_connection("redshift")))
    monkeypatch.setenv("AIRFLOW_CONN_EP_POSTGRES", json.dumps(endpoint.airflow_connection("postgres")))
    assert RedshiftSQLHook(redshift_conn_id="ep_redshift").get_first("SELECT 1 + 1") == [2]
    assert PostgresHook(postgres_conn_id="ep_postgres").get_first("SELECT 2 + 2") == (4,)


REDSHIFT_DDL = """
CREATE TABLE IF NOT EXISTS {t} (
    id          BIGINT IDENTITY(0, 1),
    user_id     INTEGER NOT NULL ENCODE az64 DISTKEY,
    name        VARCHAR(MAX) ENCODE lzo,
    code        CHAR(2) PRIMARY KEY,
    ref         INTEGER REFERENCES other_table(id),
    created     TIMESTAMP DEFAULT GETDATE() SORTKEY,
    CONSTRAINT {t}_uq UNIQUE (user_id),
    FOREIGN KEY (user_id) REFERENCES users (user_id)
)
DISTSTYLE KEY
DISTKEY (user_id)
INTERLEAVED SORTKEY (created, user_id);
"""


def test_redshift_ddl_translates_and_keys_are_not_enforced(endpoint, pg_server):
    table = unique("ddl")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(REDSHIFT_DDL.format(t=table))
        cur.execute(f"INSERT INTO {table} (user_id, name, code) VALUES (1, 'a', 'xx'), (1, 'b', 'xx')")
        cur.execute(f"SELECT id, DATE_PART(year, created) >= 2018 FROM {table} ORDER BY id")
        assert [tuple(r) for r in cur.fetchall()] == [(0, True), (1, True)]
    with pg(pg_server) as c:
        typ = c.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass"
                        " AND attname = 'name'", (table,)).fetchone()[0]
        constraints = c.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass"
                                " AND contype IN ('p', 'u', 'f')", (table,)).fetchone()[0]
    assert typ == "character varying(65535)"
    assert constraints == 0


def test_project_ddl_files(endpoint):
    """Every DDL statement of the DAG's create_tables, rendered as a run renders it, runs through the endpoint."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from tests.hour_context import hour_context

    bag = DagBag(dag_folder=str(ROOT / "dags" / "sparkify_etl.py"), safe_mode=False)
    dag = bag.dags["sparkify_etl"]
    task = dag.get_task("create_tables").prepare_for_execution()
    task.render_template_fields(hour_context(dag, task, pendulum.datetime(2018, 11, 1, 13, tz="UTC")),
                                dag.get_template_env())
    statements = task.sql if isinstance(task.sql, list) else [task.sql]
    assert len(statements) == len(list((ROOT / "sql" / "ddl").glob("*.sql")))  # every file is in the task
    schema = unique("ddl")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"CREATE SCHEMA {schema}")
        cur.execute(f"SET search_path TO {schema}")
        for statement in statements:
            cur.execute(statement)
        cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,))
        assert cur.fetchone()[0] >= len(statements)
        cur.execute(f"DROP SCHEMA {schema} CASCADE")


def test_temp_table_upsert_statements_as_the_provider_sends_them(endpoint, bucket, pg_server):
    bucket.put("u/users.json", b'{"user_id": 1, "level": "paid"}\n{"user_id": 3, "level": "free"}')
    table = unique("users")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (user_id INT PRIMARY KEY, level VARCHAR(10))")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'free'), (2, 'free')")
        conn.commit()
        cur.execute(f"CREATE TABLE #{table} (LIKE public.{table} INCLUDING DEFAULTS);")
        cur.execute(f"COPY #{table} FROM '{bucket.url('u/')}' credentials '{CREDS}' JSON 'auto';")
        cur.execute(f"DELETE FROM public.{table} USING #{table} WHERE {table}.user_id = #{table}.user_id;")
        cur.execute(f"INSERT INTO public.{table} SELECT * FROM #{table};")
        conn.commit()
    with pg(pg_server) as c:
        rows = c.execute(f"SELECT user_id, level FROM {table} ORDER BY user_id").fetchall()
    assert rows == [(1, "paid"), (2, "free"), (3, "free")]
