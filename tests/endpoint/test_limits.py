"""Unit tests of the endpoint's bounds: message framing, the shared byte budget, the S3 client cache."""

from __future__ import annotations

import asyncio
import struct

import pytest

from devstack.postgres import PostgresServer
from devstack.processes import StartupError
from redshift_endpoint import protocol as p
from redshift_endpoint.limits import ByteBudget
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
