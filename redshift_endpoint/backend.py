"""The endpoint's own connections to PostgreSQL, next to the clients' (``BackendConnections``).

Used for catalog look-ups (catalog.py), the stl_load_errors table (load_errors.py), sort-key
indexes (sortkey_index.py) and the redshift_compat schema (sql/compat_schema.py). They are
separate from the client's connection on purpose: a failed COPY aborts the client's transaction
and its rollback must not take the error rows with it.

They close when unused for limits.OWN_CONNECTION_IDLE_SECONDS and number at most
limits.OWN_CONNECTIONS_PER_DATABASE per database, so that the endpoint neither holds a backend for
every database it ever touched nor stands in the way of ``DROP DATABASE`` (which the relay
announces through ``release_database`` first: see ``databases_named_by``).
"""

from __future__ import annotations

import asyncio
import re
import time

import psycopg

from redshift_endpoint import limits

# DROP DATABASE x / ALTER DATABASE x RENAME TO y: PostgreSQL refuses them while x has other sessions.
_DATABASE_DDL = re.compile(
    r'\b(?:DROP\s+DATABASE(?:\s+IF\s+EXISTS)?|ALTER\s+DATABASE)\s+("(?:[^"]|"")+"|[\w$]+)', re.I)

Key = tuple[str, str, str]   # (database, user, purpose)


def databases_named_by(sql: str) -> list[str]:
    """The databases a statement drops or alters (a mention in a string literal merely over-reports)."""
    names = []
    for name in _DATABASE_DDL.findall(sql):
        names.append(name[1:-1].replace('""', '"') if name.startswith('"') else name.lower())
    return names


class BackendConnections:
    """Lazily opened autocommit connections, one per (database, user, purpose), each guarded by a lock.

    They log in as the session's own user, which the endpoint has authenticated by then, to the
    database that session asked for; ``user`` (``--admin-user``) only restricts them to the one
    user whose password (PGPASSWORD) the endpoint holds.
    """

    def __init__(self, host: str, port: int, user: str | None, password: str | None,
                 idle_seconds: float = limits.OWN_CONNECTION_IDLE_SECONDS,
                 per_database: int = limits.OWN_CONNECTIONS_PER_DATABASE):
        self.host, self.port, self.user, self.password = host, port, user, password
        self.idle_seconds, self.per_database = idle_seconds, per_database
        self._conns: dict[Key, psycopg.AsyncConnection] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._last_used: dict[Key, float] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}    # per database: connections open or opening
        self._waiting: dict[str, int] = {}                # per database: calls waiting for a slot
        self._reaper: asyncio.Task | None = None

    def _login(self, user: str) -> str:
        if self.user and user != self.user:
            raise PermissionError(f"the endpoint logs in as {self.user!r} only, not as {user!r}")
        return user

    async def _conn(self, key: Key) -> psycopg.AsyncConnection:
        conn = self._conns.get(key)
        if conn is not None and not conn.closed:
            return conn
        if conn is not None:
            self._forget(key)
        slots = self._slots.setdefault(key[0], asyncio.Semaphore(self.per_database))
        if slots.locked():
            self._close_idle(key[0])
        self._waiting[key[0]] = self._waiting.get(key[0], 0) + 1
        try:
            await slots.acquire()   # released by _forget when this connection closes
        finally:
            self._waiting[key[0]] -= 1
        try:
            conn = await psycopg.AsyncConnection.connect(
                host=self.host, port=self.port, user=key[1], password=self.password,
                dbname=key[0], autocommit=True, connect_timeout=10, application_name="redshift-endpoint",
            )
        except BaseException:
            slots.release()
            raise
        self._conns[key] = conn
        return conn

    def _forget(self, key: Key) -> asyncio.Task | None:
        """Drop a connection from the pool (its slot freed); returns the task closing it."""
        conn = self._conns.pop(key, None)
        self._last_used.pop(key, None)
        if conn is None:
            return None
        self._slots[key[0]].release()
        return asyncio.ensure_future(conn.close())

    def _close_idle(self, dbname: str | None = None, older_than: float = 0.0) -> None:
        now = time.monotonic()
        for key in list(self._conns):
            if (dbname is None or key[0] == dbname) and not self._locks[key].locked() \
                    and now - self._last_used.get(key, now) >= older_than:
                self._forget(key)

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(self.idle_seconds / 4)
            self._close_idle(older_than=self.idle_seconds)

    async def run(self, dbname: str, user: str, fn, purpose: str = ""):
        """``await fn(conn)`` on the connection for (dbname, user, purpose), one call at a time.

        A different ``purpose`` gets a connection of its own, so a call that waits (for a table
        lock, say) does not hold up the calls of other purposes.
        """
        key = (dbname, self._login(user), purpose)
        if self._reaper is None:
            self._reaper = asyncio.get_running_loop().create_task(self._reap())
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            try:
                for attempt in (1, 2):
                    try:
                        return await fn(await self._conn(key))
                    except psycopg.OperationalError:
                        self._forget(key)  # stale after a backend restart: reconnect once
                        if attempt == 2:
                            raise
            finally:
                if key in self._conns:
                    self._last_used[key] = time.monotonic()
                    if self._waiting.get(dbname):
                        self._forget(key)   # another (user, purpose) of this database needs the slot

    async def release_database(self, dbname: str) -> None:
        """Close every connection to ``dbname`` (waiting for calls in progress), e.g. before DROP DATABASE."""
        for key in [k for k in self._locks if k[0] == dbname]:
            async with self._locks[key]:
                task = self._forget(key)
                if task is not None:
                    await task

    def open_count(self, dbname: str | None = None) -> int:
        """Connections open now (to ``dbname``, or to any database)."""
        return sum(1 for k in self._conns if dbname is None or k[0] == dbname)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for conn in self._conns.values():
            await conn.close()
        self._conns.clear()
