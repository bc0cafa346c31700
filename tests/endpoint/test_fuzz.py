"""Wire-protocol fuzzing: random and truncated messages before and after login.

The endpoint must survive every case, keep serving an observer session, and keep its memory.
The run is seeded (printed; ENDPOINT_FUZZ_SEED replays one) and bounded (ENDPOINT_FUZZ_CASES,
default 3000, about 15 s).
"""

from __future__ import annotations

import os
import random
import socket
import struct
import time

import psycopg
import pytest

from tests.endpoint.endpoint_helpers import CREDS, Bucket, own_endpoint, pg, unique
from tests.endpoint.wire import Wire, login, message, rss_mb, startup, timed

pytestmark = pytest.mark.integration

SEED = int(os.environ.get("ENDPOINT_FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
CASES = int(os.environ.get("ENDPOINT_FUZZ_CASES") or 3000)
TYPES = b"QPBEDCSHFfdcXpR?\x00\xff"


@pytest.fixture(scope="module")
def ep(pg_server, s3_server):
    with own_endpoint(pg_server, s3_server, "sparkify-ep-fuzz-") as e:
        yield e


class Fuzzer:
    def __init__(self, rnd: random.Random, ep, table: str, url: str):
        self.rnd, self.ep = rnd, ep
        # A mutated COPY may no longer look like one and reach PostgreSQL, which logs it: a secret of the
        # fuzzer's own keeps the shared server's log free of the real one (other tests grep it for that).
        creds = CREDS.replace("sparkify-local-secret", "fuzzer-only-secret")
        copy = f"COPY {table} FROM '{url}' credentials '{creds}' FORMAT AS JSON 'auto'"
        # Well-formed messages a real client sends; the fuzzer cuts and mutates them.
        self.samples = [
            message(b"Q", copy.encode() + b"\0"),
            message(b"Q", f"SELECT a FROM {table} ORDER BY a; SELECT GETDATE()".encode() + b"\0"),
            message(b"P", b"s1\0" + copy.encode() + b"\0\0\0"),
            message(b"B", b"p1\0s1\0\0\0\0\0\0\0"),
            message(b"D", b"Ps1\0"), message(b"E", b"p1\0\0\0\0\0"), message(b"S"), message(b"H"),
            message(b"C", b"Ss1\0"), message(b"d", b"1\n"), message(b"c"), message(b"f", b"no\0"),
        ]
        self.session: Wire | None = None

    def junk(self, n: int) -> bytes:
        return self.rnd.randbytes(self.rnd.randint(0, n))

    def mutate(self, data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(self.rnd.randint(1, 4)):
            if data:
                data[self.rnd.randrange(len(data))] = self.rnd.randrange(256)
        return bytes(data)

    def random_message(self) -> bytes:
        r = self.rnd.random()
        if r < 0.4:
            return self.mutate(self.rnd.choice(self.samples))
        if r < 0.7:
            return self.rnd.choice(self.samples)
        body = self.junk(300)
        length = len(body) + 4 if self.rnd.random() < 0.8 else self.rnd.choice([0, 3, -1, 1 << 30, 70000])
        return bytes([self.rnd.choice(TYPES)]) + struct.pack("!i", length) + body

    # -- one case ---------------------------------------------------------------------------
    def before_login(self) -> None:
        w = Wire(self.ep.host, self.ep.port, timeout=5)
        try:
            r = self.rnd.random()
            if r < 0.25:      # no valid start-up packet at all
                w.send(self.mutate(startup(self.ep.user, self.ep.dbname)) if self.rnd.random() < 0.5
                       else self.junk(64))
            elif r < 0.4:     # a truncated start-up packet
                packet = startup(self.ep.user, self.ep.dbname)
                w.send(packet[:self.rnd.randrange(len(packet))])
            else:             # a valid start-up, then anything but the right SASL answer
                w.send(startup(self.ep.user, self.rnd.choice([self.ep.dbname, "template1", "postgres"])))
                msg = self.random_message()
                if self.rnd.random() < 0.3:
                    msg = msg[:self.rnd.randrange(1, len(msg) + 1)]
                w.send(msg)
            w.sock.shutdown(socket.SHUT_WR) if self.rnd.random() < 0.5 else None
            drain(w, 0.05)
        finally:
            w.close()

    def after_login(self) -> None:
        if self.session is None:
            self.session = login(self.ep.host, self.ep.port, self.ep.user, self.ep.password, self.ep.dbname)
        msg = self.random_message()
        if self.rnd.random() < 0.1:   # truncated, then the client goes away
            self.session.send(msg[:self.rnd.randrange(1, len(msg) + 1)])
            self.session.close()
            self.session = None
            return
        if not self.session.send(msg) or not drain(self.session, 0.0):
            self.session.close()
            self.session = None


def drain(w: Wire, wait: float) -> bool:
    """Read what the endpoint sent without blocking (after ``wait``); False once it closed."""
    w.sock.settimeout(wait)
    try:
        while True:
            if not w.sock.recv(1 << 16):
                return False
            w.sock.settimeout(0.0)
    except (BlockingIOError, TimeoutError):
        return True
    except OSError:
        return False


def test_wire_protocol_fuzz(ep, pg_server, s3_server):
    print(f"endpoint fuzz: seed {SEED}, {CASES} cases (replay with ENDPOINT_FUZZ_SEED={SEED})")
    bucket = Bucket(s3_server.endpoint_url)
    url = bucket.put("fuzz/part-0.json", b'{"a": 1}\n{"a": 2}\n')
    table = unique("fuzz")
    with pg(pg_server) as c:
        c.execute(f"CREATE TABLE {table} (a integer)")
    fuzz = Fuzzer(random.Random(SEED), ep, table, url)
    observer = psycopg.connect(ep.dsn(), autocommit=True, connect_timeout=10)
    observer.execute("SELECT 1")
    rss_before = rss_mb(ep.proc.pid)
    started, slowest = time.monotonic(), 0.0
    for case in range(CASES):
        (fuzz.before_login if fuzz.rnd.random() < 0.4 else fuzz.after_login)()
        if case % 100 == 99:
            assert ep.proc.poll() is None, f"the endpoint died at case {case} (seed {SEED})"
            slowest = max(slowest, timed(lambda: observer.execute("SELECT 1").fetchone()))
    elapsed = time.monotonic() - started
    rss_after = rss_mb(ep.proc.pid)
    print(f"{CASES} cases in {elapsed:.1f} s; observer's slowest SELECT 1 {slowest:.2f} s; "
          f"relay RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    assert ep.proc.poll() is None
    assert observer.execute("SELECT 1").fetchone() == (1,)
    observer.close()
    with psycopg.connect(ep.dsn(), autocommit=True, connect_timeout=10) as conn:   # a new session works
        conn.execute(f"COPY {table} FROM '{url}' credentials '{CREDS}' FORMAT AS JSON 'auto'")
        assert conn.execute(f"SELECT count(*) >= 2 FROM {table}").fetchone() == (True,)
    assert slowest < 5.0
    assert rss_after - rss_before < 100
    assert "session crashed" not in ep.log_file.read_text()
