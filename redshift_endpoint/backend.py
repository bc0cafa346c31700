"""The endpoint's own connections to PostgreSQL, next to the clients' (``BackendConnections``).

Used for catalog look-ups (catalog.py), the stl_load_errors table (load_errors.py), sort-key
indexes (sortkey_index.py) and the redshift_compat schema (sql/compat_schema.py). They are
separate from the client's connection on purpose: a failed COPY aborts the client's transaction
and its rollback must not take the error rows with it.
"""

from __future__ import annotations

import asyncio

import psycopg


class BackendConnections:
    """Lazily opened autocommit connections, one per (database, user, purpose), each guarded by a lock.

    They log in as the session's own user, which PostgreSQL has authenticated by then, to the
    database that session asked for; ``user`` (``--admin-user``) only restricts them to the one
    user whose password (PGPASSWORD) the endpoint holds.
    """

    def __init__(self, host: str, port: int, user: str | None, password: str | None):
        self.host, self.port, self.user, self.password = host, port, user, password
        self._conns: dict[tuple[str, str, str], psycopg.AsyncConnection] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    def _login(self, user: str) -> str:
        if self.user and user != self.user:
            raise PermissionError(f"the endpoint logs in as {self.user!r} only, not as {user!r}")
        return user

    async def _conn(self, dbname: str, user: str, purpose: str = "") -> psycopg.AsyncConnection:
        key = (dbname, self._login(user), purpose)
        conn = self._conns.get(key)
        if conn is None or conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                host=self.host, port=self.port, user=user, password=self.password,
                dbname=dbname, autocommit=True, connect_timeout=10, application_name="redshift-endpoint",
            )
            self._conns[key] = conn
        return conn

    async def run(self, dbname: str, user: str, fn, purpose: str = ""):
        """``await fn(conn)`` on the connection for (dbname, user, purpose), one call at a time.

        A different ``purpose`` gets a connection of its own, so a call that waits (for a table
        lock, say) does not hold up the calls of other purposes.
        """
        key = (dbname, self._login(user), purpose)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            for attempt in (1, 2):
                try:
                    return await fn(await self._conn(dbname, user, purpose))
                except psycopg.OperationalError:
                    self._conns.pop(key, None)  # stale after a backend restart: reconnect once
                    if attempt == 2:
                        raise

    async def close(self) -> None:
        for conn in self._conns.values():
            await conn.close()
        self._conns.clear()
