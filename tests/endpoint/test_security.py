"""The endpoint's security model: nothing before login, bounded memory, an ordinary application role.

Each test is an adversarial case (a hostile or broken client), against a real endpoint process
(its own, so that its memory is measured alone), the session's PostgreSQL and moto.
"""

from __future__ import annotations

import secrets
import struct
import subprocess
import threading
import time

import psycopg
import pytest

from devstack.postgres import server_account
from redshift_endpoint import limits
from redshift_endpoint.sql.translate import rewrite
from tests.endpoint.endpoint_helpers import CREDS, Bucket, own_endpoint, pg, unique
from tests.endpoint.wire import Wire, errors, login, query, rss_mb, startup, timed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ep(pg_server, s3_server):
    with own_endpoint(pg_server, s3_server, "sparkify-ep-sec-") as e:
        yield e


@pytest.fixture(scope="module")
def source(s3_server):
    bucket = Bucket(s3_server.endpoint_url)
    bucket.put("rows/part-0.json", b'{"a": 1}\n{"a": 2}\n')
    return bucket


def copy_sql(table: str, bucket: Bucket, creds: str = CREDS) -> str:
    return f"COPY {table} FROM '{bucket.url('rows/')}' credentials '{creds}' FORMAT AS JSON 'auto'"


def observer_latency(ep, stop: threading.Event, worst: list[float]) -> None:
    """Run `SELECT 1` through the endpoint until stopped; record the slowest round trip."""
    with psycopg.connect(ep.dsn(), autocommit=True, connect_timeout=10) as conn:
        while not stop.is_set():
            worst.append(timed(lambda: conn.execute("SELECT 1").fetchone()))
            time.sleep(0.02)


def wait_for_first_round_trip(worst: list[float], timeout: float = 30) -> None:
    """The observer must be measuring before the load starts (a quick refusal would otherwise beat it)."""
    deadline = time.monotonic() + timeout
    while not worst and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worst, "the observer session could not run SELECT 1 through the endpoint"


def test_nothing_is_handled_before_authentication(ep, pg_server, source):
    table = unique("preauth")
    with pg(pg_server) as c:
        c.execute(f"CREATE TABLE {table} (a integer)")
    # The COPY comes instead of the SCRAM answer (and names template1): the endpoint hangs up.
    w = Wire(ep.host, ep.port)
    w.send(startup(ep.user, "template1") + query(copy_sql(table, source)))
    seen = w.read_until(b"Z")
    assert [m[0] for m in seen] == [b"R", b"E"]
    assert errors(seen)[0]["C"] == "08P01" and errors(seen)[0]["S"] == "FATAL"
    assert w.closed()
    # A wrong password: PostgreSQL's error, and the queued COPY is never looked at.
    w = Wire(ep.host, ep.port)
    w.send(startup(ep.user, "template1"))
    assert w.read()[0] == b"R"
    w.send(b"p" + struct.pack("!i", 4 + 14) + b"SCRAM-SHA-256\0" + struct.pack("!i", 4) + b"junk"
           + query(copy_sql(table, source)))
    assert w.closed()
    time.sleep(0.5)
    assert table not in ep.log_file.read_text()  # no rewrite, no COPY, no S3
    with pg(pg_server) as c:
        assert c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'redshift-endpoint' "
                         "AND datname = 'template1'").fetchone()[0] == 0
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_large_messages_before_login_are_refused_unread(ep):
    stop, worst = threading.Event(), []
    observer = threading.Thread(target=observer_latency, args=(ep, stop, worst))
    observer.start()
    wait_for_first_round_trip(worst)
    before = rss_mb(ep.proc.pid)
    try:
        for mtype in (b"p", b"Q"):
            w = Wire(ep.host, ep.port)
            w.send(startup(ep.user, ep.dbname))
            assert w.read()[0] == b"R"
            w.send(mtype + struct.pack("!i", (10 << 20) + 4))
            w.send(b"x" * (10 << 20))   # the endpoint has hung up by now: this may fail half-way
            assert w.closed(5)
            w.close()
    finally:
        stop.set()
        observer.join(30)
    assert rss_mb(ep.proc.pid) - before < 20
    assert worst and max(worst) < 2.0, max(worst)   # other sessions keep being served meanwhile


def test_own_connections_only_as_the_authenticated_user_to_its_database(ep, pg_server, source):
    db = unique("secdb")
    with psycopg.connect(pg_server.dsn("postgres"), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {db}")   # sparkify has CREATEDB, like Redshift's admin user
    table = unique("own")
    with psycopg.connect(pg_server.dsn(db), autocommit=True) as c:
        c.execute(f"CREATE TABLE {table} (a integer)")   # committed: the COPY looks it up in the catalog
    with psycopg.connect(ep.dsn(db), autocommit=True) as conn:
        conn.execute(copy_sql(table, source))
        assert conn.execute(f"SELECT sum(a) FROM {table}").fetchone() == (3,)
    # Another role, with its own PostgreSQL password but unknown to the endpoint: its login is
    # refused by the endpoint itself, and no connection is opened as it.
    other, password = unique("analyst"), secrets.token_urlsafe(12)
    with psycopg.connect(pg_server.superuser_dsn(db), autocommit=True) as c:
        c.execute(f"CREATE ROLE {other} LOGIN PASSWORD '{password}'")
    dsn = f"host={ep.host} port={ep.port} user={other} password={password} dbname={db}"
    with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{other}"'):
        psycopg.connect(dsn, connect_timeout=10)
    with pg(pg_server) as c:
        sides = c.execute("SELECT usename, datname FROM pg_stat_activity WHERE datname = %s "
                          "AND pid <> pg_backend_pid()", (db,)).fetchall()
    assert set(sides) <= {(pg_server.user, db)}


def test_many_credentials_keep_memory_bounded(ep, pg_server, source):
    table = unique("creds")
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (a integer)")

        def load(k: int) -> None:
            conn.execute(copy_sql(table, source, f"aws_access_key_id=key{k};aws_secret_access_key=s{k}"))

        for k in range(limits.S3_CLIENTS + 4):   # warm-up: the cache is full from here on
            load(k)
        before = rss_mb(ep.proc.pid)
        for k in range(100, 260):
            load(k)
        grown = rss_mb(ep.proc.pid) - before
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 2 * (limits.S3_CLIENTS + 4 + 160)
    print(f"relay RSS after 160 new credentials: +{grown:.0f} MB")
    assert grown < 40   # one boto3 session per client grew it by ~4 MB each


def test_long_statement_is_rewritten_without_stalling_other_sessions(ep):
    text = "SELECT count(*) FROM (VALUES " + ",".join(["(GETDATE())"] * 150_000) + ") v"
    rewrite_seconds = timed(lambda: rewrite(text))
    stop, worst = threading.Event(), []
    observer = threading.Thread(target=observer_latency, args=(ep, stop, worst))
    observer.start()
    wait_for_first_round_trip(worst)
    try:
        with psycopg.connect(ep.dsn(), autocommit=True, connect_timeout=10) as conn:
            assert conn.execute(text).fetchone() == (150_000,)
    finally:
        stop.set()
        observer.join(30)
    print(f"rewrite {rewrite_seconds:.1f} s; slowest SELECT 1 meanwhile {max(worst):.2f} s")
    assert rewrite_seconds > 1.0   # inline on the event loop, it would have stalled everyone that long
    assert max(worst) < min(2.0, rewrite_seconds / 2)


def test_statement_over_16_mb_gets_a_clear_error(ep):
    w = login(ep.host, ep.port, ep.user, ep.password, ep.dbname)
    w.send(b"Q" + struct.pack("!i", limits.STATEMENT_BYTES + 100))   # the body is never read
    seen = w.read_until(b"Z")
    err = errors(seen)[0]
    assert err["C"] == "54000" and "Statement is too large" in err["M"], err
    assert w.closed()
    with psycopg.connect(ep.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_large_result_is_streamed_not_buffered(ep):
    before = rss_mb(ep.proc.pid)
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        value = conn.execute("SELECT repeat('x', 150000000)").fetchone()[0]
    assert len(value) == 150_000_000
    assert rss_mb(ep.proc.pid) - before < 40


def test_client_that_never_reads_cannot_grow_memory(ep):
    w = login(ep.host, ep.port, ep.user, ep.password, ep.dbname)
    before = rss_mb(ep.proc.pid)
    batch = query("SELECT repeat('x', 2000)") * 2000
    stop = threading.Event()
    sent = [0]

    def flood() -> None:
        w.sock.settimeout(1)
        while not stop.is_set():
            try:
                w.sock.sendall(batch)
                sent[0] += len(batch)
            except TimeoutError:
                continue   # the endpoint stopped reading us: back-pressure
            except OSError:
                return

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(6)
    peak = rss_mb(ep.proc.pid) - before
    stop.set()
    t.join(10)
    w.close()
    print(f"sent {sent[0] >> 20} MB without reading; relay RSS +{peak:.0f} MB")
    assert peak < 60
    with psycopg.connect(ep.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_application_user_is_not_a_superuser(ep, pg_server, source):
    table = unique("role")
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, False, True)
        for sql in ("COPY (SELECT 1) TO PROGRAM 'true'", "SELECT pg_read_file('postgresql.conf')",
                    "COPY (SELECT 1) TO '/tmp/sparkify-should-not-exist'",
                    "GRANT pg_execute_server_program TO current_user", "ALTER ROLE current_user SUPERUSER"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
        # What Redshift's admin user does in its database still works, including the endpoint's
        # own work: stl_load_errors rows and sort-key indexes over its separate connections.
        schema = unique("s")
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.{table} (a integer, b varchar(1)) SORTKEY (a)")
        bad = source.put("bad/part-0.json", b'{"a": "not a number"}\n')
        with pytest.raises(psycopg.Error, match="stl_load_errors"):
            conn.execute(f"COPY {schema}.{table} FROM '{bad}' credentials '{CREDS}' FORMAT AS JSON 'auto'")
        assert conn.execute("SELECT count(*) FROM stl_load_errors WHERE tablename = %s",
                            (table,)).fetchone()[0] == 1
        deadline = time.monotonic() + 20
        while not conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = %s", (table,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the sort-key index was never built"
            time.sleep(0.2)


def test_pid_files_are_not_writable_by_the_database_account(pg_server):
    account = server_account()
    if account is None:
        pytest.skip("not root: PostgreSQL runs as this very account, there is no other one to keep out")
    state_dir = pg_server.data_dir.parent
    assert state_dir.stat().st_uid != account.pw_uid
    probe = state_dir / "airflow.pid"
    result = subprocess.run(["sh", "-c", f"echo 1 > {probe}"], user=account.pw_uid, group=account.pw_gid,
                            extra_groups=[], capture_output=True)
    assert result.returncode != 0 and not probe.exists()
    assert pg_server.log_file.stat().st_uid == account.pw_uid   # the server still writes its log
