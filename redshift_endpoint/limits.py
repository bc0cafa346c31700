"""Limits that keep the endpoint's memory bounded per connection and in total.

The figures are documented in redshift_endpoint/docs/reference.md, "Security model and limits".
"""

from __future__ import annotations

import asyncio

# Before PostgreSQL says AuthenticationOk, only password/SASL messages are read, each at most this
# large (PostgreSQL's own PG_MAX_AUTH_TOKEN_LENGTH), and the whole exchange must end within AUTH_SECONDS.
AUTH_MESSAGE_BYTES = 65535
AUTH_SECONDS = 30.0

# Redshift's maximum statement size is 16 MB: a larger Query or Parse ends the connection.
STATEMENT_BYTES = 16 << 20
# Any other client message (Bind values, the client's own CopyData, ...).
MESSAGE_BYTES = 64 << 20
# A client's messages waiting to be relayed: beyond this, its socket is not read (back-pressure).
SESSION_QUEUE_BYTES = 8 << 20
# What one queued message costs beyond its body (bytes object, tuple, queue slot).
MESSAGE_OVERHEAD = 160
# Messages over LARGE_MESSAGE_BYTES also draw on one budget shared by all sessions.
LARGE_MESSAGE_BYTES = 1 << 20
LARGE_MESSAGES_BUDGET = 128 << 20
# Statements longer than this are rewritten in a thread, so other sessions keep being served.
REWRITE_INLINE_CHARS = 64 << 10
# A backend message larger than this that the relay does not inspect is streamed, not buffered.
PASS_THROUGH_BYTES = 1 << 20
# Concurrent client connections (PostgreSQL's max_connections is lower anyway).
MAX_CLIENTS = 256
# One COPY holds at most this many bytes of source chunks and converted rows in the relay (loader.py):
# a large object is read and converted piece by piece, whatever its size.
COPY_MEMORY_BYTES = 48 << 20
# "Data format parameters": the maximum size of a single JSON object or array is 4 MB, and of a row.
RECORD_BYTES = 4 << 20
# boto3 S3 clients kept per process, one per (credentials, region): least recently used go first.
S3_CLIENTS = 16


class ByteBudget:
    """A count of bytes held, waited on when over the limit (one holder may always exceed it)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._waiters: list[asyncio.Future] = []

    async def acquire(self, n: int) -> None:
        while self.used and self.used + n > self.limit:
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await fut
            finally:
                if fut in self._waiters:
                    self._waiters.remove(fut)
        self.used += n

    def release(self, n: int) -> None:
        self.used -= n
        waiters, self._waiters = self._waiters, []
        for fut in waiters:  # each re-checks the limit
            if not fut.done():
                fut.set_result(None)
