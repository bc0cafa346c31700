"""Limits that keep the endpoint's memory bounded per connection and in total.

The figures are documented in redshift_endpoint/docs/reference.md, "Security model and limits".
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

# Before a client has logged in (auth.py), only SASL messages are read, each at most this large
# (PostgreSQL's own PG_MAX_AUTH_TOKEN_LENGTH), and the login must end within LOGIN_SECONDS
# (--login-timeout, REDSHIFT_ENDPOINT_LOGIN_TIMEOUT; PostgreSQL's authentication_timeout is 60 s).
AUTH_MESSAGE_BYTES = 65535
LOGIN_SECONDS = 30.0
# Connections that have not logged in yet, from one source address and in total. They hold no
# PostgreSQL backend; a client that has logged in no longer counts here but against MAX_CLIENTS.
PRE_LOGIN_PER_ADDRESS = 32
PRE_LOGIN_TOTAL = 128

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
# Concurrent logged-in client connections (PostgreSQL's max_connections is lower anyway).
MAX_CLIENTS = 256
# The endpoint's own connections (backend.py): closed after this long unused, at most this many per database.
OWN_CONNECTION_IDLE_SECONDS = 10.0
OWN_CONNECTIONS_PER_DATABASE = 2
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


class ConnectionSlots:
    """Who may hold a socket: pre-login slots per source address and in total, then logged-in ones.

    When every pre-login slot is taken, a newcomer takes the slot of the oldest waiting connection
    of the address holding the most, which is ``evict``ed: a flood from a few addresses cannot keep
    a client from another address (that logs in within moments) from getting a slot.
    """

    def __init__(self, per_address: int = PRE_LOGIN_PER_ADDRESS, pre_login_total: int = PRE_LOGIN_TOTAL,
                 clients: int = MAX_CLIENTS):
        self.per_address, self.pre_login_total, self.clients = per_address, pre_login_total, clients
        self.waiting: dict[str, OrderedDict[object, Callable[[], None]]] = {}
        self.logged_in = 0

    @property
    def pre_login(self) -> int:
        return sum(len(q) for q in self.waiting.values())

    def admit(self, address: str, evict: Callable[[], None]) -> object | None:
        """A pre-login slot for a new connection from ``address`` (None: refuse it)."""
        queue = self.waiting.setdefault(address, OrderedDict())
        if len(queue) >= self.per_address:
            return None
        if self.pre_login >= self.pre_login_total:
            heaviest = max(self.waiting.values(), key=len)
            _, evict_oldest = heaviest.popitem(last=False)
            evict_oldest()
        token = object()
        queue[token] = evict
        return token

    def _leave(self, address: str, token: object) -> None:
        queue = self.waiting.get(address)
        if queue is not None and queue.pop(token, None) is not None and not queue:
            del self.waiting[address]

    def log_in(self, address: str, token: object) -> bool:
        """Move the connection from pre-login to logged-in; False when MAX_CLIENTS are logged in already."""
        self._leave(address, token)
        if self.logged_in >= self.clients:
            return False
        self.logged_in += 1
        return True

    def release(self, address: str, token: object, logged_in: bool) -> None:
        """The connection is gone."""
        if logged_in:
            self.logged_in -= 1
        else:
            self._leave(address, token)
