"""Concurrency and faults: parallel loads, a client vanishing mid-COPY, a backend restart."""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import redshift_connector

from devstack.postgres import PostgresServer
from devstack.processes import free_port
from redshift_endpoint.process import EndpointProcess
from tests.endpoint.endpoint_helpers import (
    CREDS,
    STAGING_EVENTS_DDL,
    Bucket,
    jsonl,
    jsonpaths,
    make_events,
    pg,
    unique,
)

pytestmark = pytest.mark.integration


def test_concurrent_clients_load_different_tables(endpoint, bucket, pg_server):
    bucket.put("paths.json", jsonpaths())
    n_clients, per_client = 4, 5000
    for k in range(n_clients):
        events = make_events(per_client, seed=k)
        bucket.put(f"c{k}/part-0.json", jsonl(events[: per_client // 2]))
        bucket.put(f"c{k}/part-1.json", jsonl(events[per_client // 2:]))
    tables = [unique(f"conc{k}") for k in range(n_clients)]

    def load(k: int) -> int:
        with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=60) as conn:
            cur = conn.cursor()
            cur.execute(STAGING_EVENTS_DDL.format(name=tables[k]))
            cur.execute(f"COPY {tables[k]} FROM '{bucket.url(f'c{k}/')}' credentials '{CREDS}' "
                        f"FORMAT AS JSON '{bucket.url('paths.json')}' TIMEFORMAT 'epochmillisecs'")
            conn.commit()
            cur.execute(f"SELECT count(*), count(DISTINCT sessionid) FROM {tables[k]}")
            return cur.fetchone()[0]

    with ThreadPoolExecutor(n_clients) as pool:
        counts = list(pool.map(load, range(n_clients), timeout=120))
    assert counts == [per_client] * n_clients
    with pg(pg_server) as c:
        for k, table in enumerate(tables):
            first = c.execute(f"SELECT min(ts)::text FROM {table}").fetchone()[0]
            assert first == "2018-11-01 20:57:10.796", k


CLIENT = """
import sys, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute(sys.argv[2])
"""


def test_client_disconnecting_mid_copy_leaves_nothing(endpoint, bucket, pg_server):
    table, sql = _slow_load(bucket, pg_server, "gone")
    client = subprocess.Popen([sys.executable, "-c", CLIENT, endpoint.dsn(), sql])
    try:
        with pg(pg_server) as c:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                active = c.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                   "AND query LIKE %s", (f"COPY {table}%STDIN%",)).fetchone()[0]
                if active:
                    break
                assert client.poll() is None, "the load finished before the client could be killed"
                time.sleep(0.01)
            else:
                pytest.fail("the COPY never started")
            client.kill()
            client.wait(10)
            deadline = time.monotonic() + 30
            while c.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s",
                            (f"COPY {table}%STDIN%",)).fetchone()[0]:
                assert time.monotonic() < deadline, "the aborted COPY's backend is still there"
                time.sleep(0.05)
            assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    finally:
        client.kill()
    # The endpoint keeps serving.
    with psycopg.connect(endpoint.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_backend_restart_gives_a_clear_error(s3_server):
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-ep-restart-"))
    scratch.chmod(0o755)
    server = PostgresServer(data_dir=scratch / "data", port=free_port(), password=secrets.token_urlsafe(12))
    server.start()
    ep = EndpointProcess(backend_host=server.host, backend_port=server.port, user=server.user,
                         password=server.password, dbname=server.dbname, s3_endpoint_url=s3_server.endpoint_url)
    ep.start()
    try:
        conn = psycopg.connect(ep.dsn(), connect_timeout=10, autocommit=True)
        rs = redshift_connector.connect(**ep.redshift_connect_kwargs(), timeout=20)
        assert conn.execute("SELECT 1").fetchone() == (1,)
        server.stop(mode="fast")
        outcome: dict = {}

        def query() -> None:
            try:
                conn.execute("SELECT 1")
            except psycopg.OperationalError as e:
                outcome["psycopg"] = str(e)
            try:
                rs.cursor().execute("SELECT 1")
            except (redshift_connector.InterfaceError, redshift_connector.ProgrammingError,
                    redshift_connector.OperationalError) as e:
                outcome["redshift_connector"] = str(e)

        worker = threading.Thread(target=query, daemon=True)
        worker.start()
        worker.join(30)
        assert not worker.is_alive(), "a client hung after the backend went away"
        assert "terminating connection" in outcome.get("psycopg", "") or "backend" in outcome.get("psycopg", "")
        assert "redshift_connector" in outcome
        # While it is down, a new connection gets an error naming the backend, not a hang.
        with pytest.raises(psycopg.OperationalError, match="could not connect to the PostgreSQL backend"):
            psycopg.connect(ep.dsn(), connect_timeout=10)
        server.start()
        with psycopg.connect(ep.dsn(), connect_timeout=10) as again:
            assert again.execute("SELECT 2").fetchone() == (2,)
    finally:
        ep.stop()
        server.stop(mode="immediate")


def _slow_load(bucket: Bucket, pg_server, prefix: str) -> tuple[str, str]:
    """A table and a COPY that takes long enough to be interrupted (120k events in 40 objects)."""
    bucket.put("paths.json", jsonpaths())
    for k in range(40):
        bucket.put(f"big/part-{k:03d}.json", jsonl(make_events(3000, seed=k)))
    table = unique(prefix)
    with pg(pg_server) as c:
        c.execute(STAGING_EVENTS_DDL.format(name=table).replace("DISTSTYLE EVEN", ""))
    return table, (f"COPY {table} FROM '{bucket.url('big/')}' credentials '{CREDS}' "
                   f"FORMAT AS JSON '{bucket.url('paths.json')}' TIMEFORMAT 'epochmillisecs'")


def _run_and_interrupt(endpoint, pg_server, table: str, sql: str, interrupt) -> psycopg.Error:
    """Run the COPY through the endpoint, call ``interrupt(conn, backend_pid)`` once it streams."""
    conn = psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10)
    raised: list[psycopg.Error] = []

    def run() -> None:
        try:
            conn.execute(sql)
        except psycopg.Error as e:
            raised.append(e)

    worker = threading.Thread(target=run, daemon=True)
    with pg(pg_server) as c:
        worker.start()
        deadline = time.monotonic() + 30
        while not (row := c.execute("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                                    (f"COPY {table}%STDIN%",)).fetchone()):
            assert worker.is_alive(), "the load finished before it could be interrupted"
            assert time.monotonic() < deadline, "the COPY never started"
            time.sleep(0.01)
        interrupt(conn, row[0])
        worker.join(30)
        assert not worker.is_alive(), "the client hung"
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    assert raised, "the COPY was not interrupted"
    return raised[0], conn


def test_cancelled_copy_reports_query_canceled(endpoint, bucket, pg_server):
    table, sql = _slow_load(bucket, pg_server, "interrupted")
    error, conn = _run_and_interrupt(endpoint, pg_server, table, sql, lambda conn, pid: conn.cancel_safe())
    assert error.sqlstate == "57014", (error.sqlstate, str(error))
    assert conn.execute("SELECT 1").fetchone() == (1,)   # the session goes on
    conn.close()


def test_backend_terminated_mid_copy_reports_admin_shutdown(endpoint, bucket, pg_server):
    table, sql = _slow_load(bucket, pg_server, "interrupted")

    def terminate(conn, pid: int) -> None:
        with pg(pg_server) as c:   # a role may terminate its own sessions' backends
            assert c.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)

    error, conn = _run_and_interrupt(endpoint, pg_server, table, sql, terminate)
    assert error.sqlstate in ("57P01", "08006"), (error.sqlstate, str(error))
    assert "Load into table" not in str(error)
    conn.close()
