"""A raw PostgreSQL v3 wire client for the endpoint's security tests: start-up, SCRAM login, messages.

Drivers never send what these tests need (a Query before the password, a 10 MB password message,
a truncated frame), so the tests speak the protocol themselves over a plain socket.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import scramp


def message(mtype: bytes, body: bytes = b"") -> bytes:
    return mtype + struct.pack("!i", len(body) + 4) + body


def query(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def startup(user: str, database: str) -> bytes:
    body = struct.pack("!i", 196608) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", database))) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


class Wire:
    """One socket to the endpoint; ``read()`` returns (type, body) or None once the peer closed."""

    def __init__(self, host: str, port: int, timeout: float = 10.0, source: str | None = None):
        """``source``: the local address to connect from (any 127.x.y.z works on Linux's loopback)."""
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data: bytes) -> bool:
        """False when the endpoint has already closed the connection."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def _fill(self, n: int) -> bool:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read(self) -> tuple[bytes, bytes] | None:
        if not self._fill(5):
            return None
        mtype, length = self.buf[:1], struct.unpack("!i", self.buf[1:5])[0]
        if not self._fill(1 + length):
            return None
        body, self.buf = self.buf[5:1 + length], self.buf[1 + length:]
        return mtype, body

    def read_until(self, mtype: bytes) -> list[tuple[bytes, bytes]]:
        """Messages up to and including the first of type ``mtype`` (or up to the close)."""
        seen = []
        while (msg := self.read()) is not None:
            seen.append(msg)
            if msg[0] == mtype:
                break
        return seen

    def closed(self, timeout: float = 10.0) -> bool:
        """True when the endpoint closes the connection within ``timeout`` (messages are drained)."""
        self.sock.settimeout(timeout)
        try:
            while self.read() is not None:
                pass
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def errors(messages: list[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    out = []
    for mtype, body in messages:
        if mtype == b"E":
            fields = {}
            for part in body.split(b"\0"):
                if part:
                    fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
            out.append(fields)
    return out


def login(host: str, port: int, user: str, password: str, database: str) -> Wire:
    """A SCRAM-SHA-256 login through the endpoint, read up to the first ReadyForQuery."""
    w = Wire(host, port)
    w.send(startup(user, database))
    mtype, body = w.read()
    assert mtype == b"R" and struct.unpack("!i", body[:4])[0] == 10, (mtype, body)
    client = scramp.ScramClient(["SCRAM-SHA-256"], user, password)
    first = client.get_client_first().encode()
    w.send(message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first))
    mtype, body = w.read()
    assert mtype == b"R", errors([(mtype, body)])
    client.set_server_first(body[4:].decode())
    w.send(message(b"p", client.get_client_final().encode()))
    mtype, body = w.read()
    assert mtype == b"R", errors([(mtype, body)])
    client.set_server_final(body[4:].decode())
    rest = w.read_until(b"Z")
    assert rest and rest[-1][0] == b"Z", rest
    return w


def rss_mb(pid: int) -> float:
    """Resident memory of one process (the endpoint's relay process), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def timed(fn) -> float:
    start = time.monotonic()
    fn()
    return time.monotonic() - start
