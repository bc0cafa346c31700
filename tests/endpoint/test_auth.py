"""Logins are checked by the endpoint itself (SCRAM-SHA-256) before any PostgreSQL backend is opened.

Against a real endpoint process of the module's own and the session's real PostgreSQL: drivers
log in (psycopg, redshift_connector, psql), wrong passwords are refused by the endpoint with
PostgreSQL's error, floods of sockets that never log in hold no backend and lock nobody out, and the
endpoint's own connections let go of a database so that it can be dropped or renamed.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import psycopg
import pytest
import redshift_connector

from redshift_endpoint import limits
from redshift_endpoint.backend import BackendConnections
from redshift_endpoint.process import ROOT
from tests.endpoint.endpoint_helpers import CREDS, Bucket, own_endpoint, pg, unique
from tests.endpoint.wire import Wire, errors, login, message, startup, timed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ep(pg_server, s3_server):
    with own_endpoint(pg_server, s3_server, "sparkify-ep-auth-") as e:
        yield e


def client_backends(pg_server) -> int:
    """PostgreSQL's backends serving clients, other than the one asking (through a direct connection)
    and the endpoint's own (bounded per database, closed when idle: tested on their own below)."""
    with pg(pg_server) as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                         "AND pid <> pg_backend_pid() AND application_name <> 'redshift-endpoint'").fetchone()[0]


def pg_log_failures(pg_server) -> int:
    return pg_server.log_file.read_text(errors="replace").count("password authentication failed")


def test_psycopg_redshift_connector_and_psql_log_in(ep):
    with psycopg.connect(ep.dsn(), connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with redshift_connector.connect(**ep.redshift_connect_kwargs()) as conn:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone() == [1]
    if shutil.which("psql") is None:
        pytest.skip("psql not installed (psycopg and redshift_connector logged in)")
    out = subprocess.run(["psql", "-X", "-A", "-t", "-h", ep.host, "-p", str(ep.port), "-U", ep.user,
                          "-d", ep.dbname, "-c", "SELECT 1"],
                         env={**os.environ, "PGPASSWORD": ep.password}, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "1", out.stderr


def test_wrong_password_is_refused_by_the_endpoint_with_postgresqls_error(ep, pg_server):
    """28P01 'password authentication failed for user', as PostgreSQL says it; PostgreSQL never asked."""
    failures_before = pg_log_failures(pg_server)
    wrong = ep.dsn().replace(f"password={ep.password}", "password=wrong")
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(wrong, connect_timeout=10)
    assert f'password authentication failed for user "{ep.user}"' in str(caught.value)
    kwargs = {**ep.redshift_connect_kwargs(), "password": "wrong"}
    with pytest.raises(redshift_connector.Error, match="28P01"):
        redshift_connector.connect(**kwargs)
    # An unknown user gets the same answer (no hint that the name does not exist).
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "nobody"'):
        psycopg.connect(ep.dsn().replace(f"user={ep.user}", "user=nobody"), connect_timeout=10)
    # Raw: FATAL 28P01 right after the proof, no AuthenticationOk before it.
    w = Wire(ep.host, ep.port)
    w.send(startup(ep.user, ep.dbname))
    assert w.read()[0] == b"R"
    first = b"n,,n=,r=abcdefghijklmnop"
    w.send(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
    mtype, body = w.read()
    assert mtype == b"R" and struct.unpack("!i", body[:4])[0] == 11
    server_first = dict(kv.split("=", 1) for kv in body[4:].decode().split(","))
    w.send(message(b"p", f"c=biws,r={server_first['r']},p={base64.b64encode(bytes(32)).decode()}".encode()))
    seen = w.read_until(b"Z")
    assert [m[0] for m in seen] == [b"E"] and errors(seen)[0]["C"] == "28P01"
    assert errors(seen)[0]["S"] == "FATAL" and w.closed()
    time.sleep(0.5)
    assert pg_log_failures(pg_server) == failures_before   # no login reached PostgreSQL


def test_silent_sockets_lock_nobody_out_and_hold_no_backend(ep, pg_server):
    """More sockets than the old cap (256), from 8 addresses, half of them stalled at the SASL
    challenge: a client with the password still logs in and runs SELECT 1 within 2 s, while they
    are renewed, and PostgreSQL's backend count does not grow by them."""
    before = client_backends(pg_server)
    attackers = [f"127.0.0.{i}" for i in range(2, 10)]
    held: list[Wire] = []
    refused_per_address = 0

    def open_silent(source: str, n: int) -> None:
        w = Wire(ep.host, ep.port, source=source)
        if n % 2:   # a start-up packet, then never an answer to the SASL challenge
            w.send(startup(ep.user, ep.dbname))
        held.append(w)

    for source in attackers:
        for n in range(limits.PRE_LOGIN_PER_ADDRESS + 8):
            open_silent(source, n)
    assert len(held) > limits.MAX_CLIENTS
    time.sleep(1)
    # The 33rd and later from one address: refused at once, in PostgreSQL's words for a full server.
    for w in held[limits.PRE_LOGIN_PER_ADDRESS:limits.PRE_LOGIN_PER_ADDRESS + 8]:
        seen = w.read_until(b"Z")
        refused_per_address += bool(seen and seen[-1][0] == b"E" and errors(seen)[-1]["C"] == "53300")
    assert refused_per_address == 8
    alive = sum(still_waiting(w) for w in held)
    assert alive == limits.PRE_LOGIN_TOTAL   # every pre-login slot is held by the flood
    assert client_backends(pg_server) <= before

    stop = threading.Event()

    def renew() -> None:   # the attacker keeps opening new silent sockets meanwhile
        n = 0
        while not stop.is_set():
            try:
                open_silent(attackers[n % len(attackers)], n)
            except OSError:
                pass
            n += 1
            time.sleep(0.005)

    renewer = threading.Thread(target=renew)
    renewer.start()
    try:
        def log_in_and_select() -> None:
            with psycopg.connect(ep.dsn(), connect_timeout=5) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        took = [timed(log_in_and_select) for _ in range(3)]
    finally:
        stop.set()
        renewer.join(30)
    assert max(took) < 2.0, took
    assert wait_until(lambda: client_backends(pg_server) <= before)   # the logged-in sessions' have ended
    for w in held:
        w.close()


def still_waiting(w: Wire) -> bool:
    """The endpoint still holds this socket open: nothing but AuthenticationSASL came, no error, no hang-up."""
    w.sock.setblocking(False)
    try:
        data = w.sock.recv(1 << 16, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        w.sock.setblocking(True)
    types = []
    while len(data) >= 5:
        types.append(data[:1])
        data = data[1 + struct.unpack("!i", data[1:5])[0]:]
    return bool(types) and b"E" not in types


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)
    return predicate()


def test_login_deadline(pg_server, s3_server):
    """--login-timeout: a socket that never finishes logging in is hung up on, with PostgreSQL's
    57014 'canceling authentication due to timeout' once it has sent its start-up packet."""
    with own_endpoint(pg_server, s3_server, "sparkify-ep-login-", login_timeout=1.0) as e:
        silent = Wire(e.host, e.port)
        stalled = Wire(e.host, e.port)
        stalled.send(startup(e.user, e.dbname))
        assert stalled.read()[0] == b"R"
        start = time.monotonic()
        seen = stalled.read_until(b"Z")
        assert errors(seen)[0]["C"] == "57014" and errors(seen)[0]["M"] == "canceling authentication due to timeout"
        assert silent.closed(5)
        assert time.monotonic() - start < 5
        login(e.host, e.port, e.user, e.password, e.dbname).close()   # a prompt login is unaffected


def test_no_user_configured_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGPASSWORD", "REDSHIFT_ENDPOINT_"))}
    out = subprocess.run([sys.executable, "-m", "redshift_endpoint", "--port", "0"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--admin-user" in out.stderr and "--auth-file" in out.stderr
    out = subprocess.run([sys.executable, "-m", "redshift_endpoint", "--port", "0", "--admin-user", "x"], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "PGPASSWORD" in out.stderr


def test_auth_file_user_logs_in_with_postgresqls_verifier(pg_server, s3_server, tmp_path):
    """An auth-file line holds the verifier PostgreSQL stores (pg_authid.rolpassword): the endpoint
    checks the client with it and logs in to PostgreSQL with the ClientKey the proof revealed.
    Its own connections still serve the admin user only."""
    other, password = unique("analyst"), base64.urlsafe_b64encode(os.urandom(9)).decode()
    table, bucket = unique("own"), Bucket(s3_server.endpoint_url)
    bucket.put("rows/part-0.json", b'{"a": 1}\n')
    with psycopg.connect(pg_server.superuser_dsn(pg_server.dbname), autocommit=True) as c:
        c.execute(f"CREATE ROLE {other} LOGIN PASSWORD '{password}'")
        c.execute(f"CREATE TABLE {table} (a integer)")
        c.execute(f"GRANT ALL ON {table} TO {other}")
        verifier = c.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (other,)).fetchone()[0]
    assert verifier.startswith("SCRAM-SHA-256$")
    auth_file = tmp_path / "userlist.txt"
    auth_file.write_text(f'; PgBouncer userlist.txt format\n"{other}" "{verifier}"\n')
    with own_endpoint(pg_server, s3_server, "sparkify-ep-authfile-", auth_file=auth_file) as e:
        dsn = f"host={e.host} port={e.port} user={other} password={password} dbname={e.dbname}"
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (other,)
            with pytest.raises(psycopg.Error, match=f"logs in as '{e.user}' only"):
                conn.execute(f"COPY {table} FROM '{bucket.url('rows/')}' credentials '{CREDS}' FORMAT AS JSON 'auto'")
        with pytest.raises(psycopg.OperationalError, match=f'password authentication failed for user "{other}"'):
            psycopg.connect(dsn.replace(f"password={password}", "password=wrong"), connect_timeout=10)
        with psycopg.connect(e.dsn(), connect_timeout=10) as conn:   # the admin user, from PGPASSWORD
            assert conn.execute("SELECT current_user").fetchone() == (e.user,)


def own_connections(pg_server, dbname: str) -> int:
    with pg(pg_server) as c:
        return c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'redshift-endpoint' "
                         "AND datname = %s", (dbname,)).fetchone()[0]


def touch(ep, dbname: str) -> None:
    """A session on ``dbname`` through the endpoint: it opens its own connection there (stl_load_errors)."""
    with psycopg.connect(ep.dsn(dbname), autocommit=True, connect_timeout=10) as conn:
        conn.execute("SELECT 1")


def test_drop_database_after_the_endpoint_touched_it(ep, pg_server):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_DROP_DATABASE.html: ``drop database tickit_test;``
    runs from another database; the endpoint's own idle connection to it must not stand in the way."""
    name = unique("tickit_test")
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    touch(ep, name)
    assert own_connections(pg_server, name) >= 1   # what made PostgreSQL refuse the drop
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"drop database {name}")
    with pg(pg_server) as c:
        assert c.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone() == (0,)
    # A new database of the same name gets the endpoint's system tables again.
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    with psycopg.connect(ep.dsn(name), autocommit=True, connect_timeout=10) as conn:
        assert conn.execute("SELECT count(*) FROM stl_load_errors").fetchone() == (0,)


def test_rename_database_after_the_endpoint_touched_it(ep, pg_server):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_DATABASE.html:
    ``alter database tickit_sandbox rename to tickit_test;`` (the database one is not connected to)."""
    old, new = unique("tickit_sandbox"), unique("tickit_test")
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {old}")
    touch(ep, old)
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"alter database {old} rename to {new}")
        conn.execute(f"drop database {new}")


def test_own_connections_close_when_idle(ep, pg_server):
    name = unique("idle")
    with psycopg.connect(ep.dsn(), autocommit=True) as conn:
        conn.execute(f"create database {name}")
    touch(ep, name)
    assert own_connections(pg_server, name) >= 1
    deadline = time.monotonic() + limits.OWN_CONNECTION_IDLE_SECONDS * 2 + 5
    while own_connections(pg_server, name) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert own_connections(pg_server, name) == 0
    with pg(pg_server) as c:   # and PostgreSQL itself can now drop it
        c.execute(f"DROP DATABASE {name}")


def test_own_connections_are_capped_per_database(pg_server):
    """Two purposes, a cap of one: the second call waits for the first's connection to close."""
    async def scenario() -> tuple[list[int], list[int], int]:
        conns = BackendConnections(pg_server.host, pg_server.port, pg_server.user, pg_server.password,
                                   idle_seconds=0.4, per_database=1)
        seen: list[int] = []

        async def q(conn):
            seen.append(conns.open_count(pg_server.dbname))
            await asyncio.sleep(0.2)
            return (await (await conn.execute("SELECT 1")).fetchone())[0]

        try:
            results = await asyncio.gather(conns.run(pg_server.dbname, pg_server.user, q),
                                           conns.run(pg_server.dbname, pg_server.user, q, purpose="index"))
            await asyncio.sleep(1.0)   # idle for longer than idle_seconds
            return seen, results, conns.open_count()
        finally:
            await conns.close()

    seen, results, left = asyncio.run(scenario())
    assert results == [1, 1] and seen == [1, 1] and left == 0
