"""Unit tests of the endpoint's bounds: message framing, the shared byte budget, the S3 client cache,
connection slots before and after login, and the SCRAM pieces of auth.py and backend_login.py."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import struct

import pytest
from scramp import ScramClient, ScramMechanism

from devstack.postgres import PostgresServer
from devstack.processes import StartupError
from redshift_endpoint import protocol as p
from redshift_endpoint.auth import BackendSecret, Credentials, Secret, client_key_from_proof, read_auth_file
from redshift_endpoint.backend_login import BackendScramClient
from redshift_endpoint.limits import ByteBudget, ConnectionSlots
from redshift_endpoint.s3source import S3Clients


def _read(fn, data: bytes, *args):
    """Run a protocol reader over ``data`` (then EOF) in a fresh event loop."""
    async def run():
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await fn(reader, *args)
    return asyncio.run(run())


@pytest.mark.parametrize("length", [-1, 0, 3])
def test_read_header_rejects_impossible_lengths(length):
    with pytest.raises(p.ProtocolViolation, match="invalid message length"):
        _read(p.read_header, b"Q" + struct.pack("!i", length))


def test_read_header_checks_the_limit_before_reading_the_body():
    with pytest.raises(p.ProtocolViolation, match="exceeds the limit of 65535"):   # no body: never awaited
        _read(p.read_header, b"p" + struct.pack("!i", 70_004), 65535)
    assert _read(p.read_message, p.message(b"p", b"abc"), 65535) == (b"p", b"abc")


def test_cstring_without_terminator_is_a_protocol_violation():
    with pytest.raises(p.ProtocolViolation):
        p.parse_bind(b"portal-without-terminator")


def test_byte_budget_lets_one_holder_exceed_it():
    async def alone() -> int:
        budget = ByteBudget(100)
        await budget.acquire(500)   # or a message over the budget could never be read
        return budget.used

    assert asyncio.run(alone()) == 500


def test_byte_budget_waits_until_released():
    async def scenario() -> list[str]:
        budget, events = ByteBudget(100), []
        await budget.acquire(80)

        async def second() -> None:
            await budget.acquire(50)
            events.append("second acquired")

        task = asyncio.ensure_future(second())
        await asyncio.sleep(0.01)
        events.append("before release")
        budget.release(80)
        await task
        return events

    assert asyncio.run(scenario()) == ["before release", "second acquired"]


def test_s3_clients_are_reused_and_bounded():
    clients = S3Clients("http://127.0.0.1:1", size=3)
    creds = [{"aws_access_key_id": f"k{i}", "aws_secret_access_key": "s"} for i in range(5)]
    first = clients.client(creds[0], "us-east-1")
    assert clients.client(creds[0], "us-east-1") is first
    assert clients.client(creds[0], "eu-west-1") is not first    # region is part of the key
    for c in creds[1:]:
        clients.client(c, "us-east-1")
    assert len(clients._clients) == 3
    assert clients.client(creds[0], "us-east-1") is not first    # evicted, made again


def test_superuser_dsn_refuses_a_cluster_from_an_older_devstack(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "PG_VERSION").write_text("15\n")   # initialised, but no superuser password file
    server = PostgresServer(data_dir=tmp_path / "data", port=1, password="x")
    with pytest.raises(StartupError, match="older devstack"):
        server.superuser_dsn()


# ---------------------------------------------------------------- connection slots (limits.ConnectionSlots)
def test_pre_login_slots_per_address_are_refused_beyond_the_cap():
    slots = ConnectionSlots(per_address=2, pre_login_total=10, clients=10)
    assert slots.admit("10.0.0.1", lambda: None) and slots.admit("10.0.0.1", lambda: None)
    assert slots.admit("10.0.0.1", lambda: None) is None
    assert slots.admit("10.0.0.2", lambda: None) is not None


def test_a_full_pre_login_table_evicts_the_oldest_of_the_heaviest_address():
    slots, evicted = ConnectionSlots(per_address=10, pre_login_total=4, clients=10), []
    light = slots.admit("10.0.0.9", lambda: evicted.append("light"))
    for n in range(3):
        slots.admit("10.0.0.1", lambda n=n: evicted.append(n))
    assert slots.admit("10.0.0.2", lambda: evicted.append("new")) is not None
    assert evicted == [0] and slots.pre_login == 4
    assert slots.log_in("10.0.0.9", light)   # the light address's client was never the one to go


def test_logged_in_clients_count_apart_from_pre_login_ones():
    slots = ConnectionSlots(per_address=5, pre_login_total=5, clients=1)
    a, b = slots.admit("10.0.0.1", lambda: None), slots.admit("10.0.0.1", lambda: None)
    assert slots.log_in("10.0.0.1", a) and slots.pre_login == 1
    assert not slots.log_in("10.0.0.1", b)   # MAX_CLIENTS reached: refused (53300)
    slots.release("10.0.0.1", a, logged_in=True)
    assert slots.logged_in == 0 and slots.pre_login == 0


# ---------------------------------------------------------------- credentials and SCRAM (auth.py, backend_login.py)
def test_no_user_configured_names_the_flags():
    with pytest.raises(ValueError, match="--admin-user.*PGPASSWORD.*--auth-file"):
        Credentials.configure(None, None, None)
    with pytest.raises(ValueError, match="PGPASSWORD"):
        Credentials.configure("admin", None, None)


def test_auth_file_reads_verifiers_and_passwords(tmp_path):
    salt, stored, server, i = ScramMechanism().make_auth_info("pw", iteration_count=4096)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    path = tmp_path / "userlist.txt"
    path.write_text(f'; comment\n\n"alice" "SCRAM-SHA-256${i}:{b64(salt)}${b64(stored)}:{b64(server)}"\n'
                    '"b""ob" "plain"\n')
    users = read_auth_file(path)
    assert users["alice"] == Secret(salt, stored, server, 4096)
    assert users['b"ob'].password == "plain"
    path.write_text("alice SCRAM\n")
    with pytest.raises(ValueError, match="userlist.txt:1"):
        read_auth_file(path)


@pytest.mark.parametrize("with_password", [True, False])
def test_endpoint_scram_client_passes_scramps_server(with_password):
    """The endpoint's SCRAM client (backend_login.py) is checked by scramp's server, from the password
    or from the ClientKey alone (pass-through)."""
    salt, stored, server_key, i = ScramMechanism().make_auth_info("s3cret", iteration_count=4096)
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, i)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    secret = (BackendSecret("u", "s3cret", None) if with_password
              else BackendSecret("u", None, client_key, server_key))
    client = BackendScramClient(secret)
    server = ScramMechanism().make_server(lambda _u: (salt, stored, server_key, i))
    first = client.first().split(b"\0", 1)[1][4:].decode()
    server.set_client_first(first.replace("n=,", "n=u,"))
    server.client_first_bare = first[3:]   # what the client signed
    server_first = server.get_server_first()
    server.set_client_final(client.final(server_first).decode())   # raises on a wrong proof
    client.verify(server.get_server_final())


def test_client_key_recovered_from_a_proof_is_the_passwords():
    salt, stored, server_key, i = ScramMechanism().make_auth_info("s3cret", iteration_count=4096)
    scram_client = ScramClient(["SCRAM-SHA-256"], "u", "s3cret")
    server = ScramMechanism().make_server(lambda _u: (salt, stored, server_key, i))
    server.set_client_first(scram_client.get_client_first())
    scram_client.set_server_first(server.get_server_first())
    final = scram_client.get_client_final()
    server.set_client_final(final)
    salted = hashlib.pbkdf2_hmac("sha256", b"s3cret", salt, i)
    assert client_key_from_proof(server.client_first_bare, server.server_first, final, stored) == hmac.new(
        salted, b"Client Key", hashlib.sha256).digest()
