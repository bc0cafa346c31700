"""The endpoint's own backend connections: catalog look-ups, the stl_load_errors table, sort-key indexes.

They are separate connections on purpose: a failed COPY aborts the client's transaction and its
rollback must not take the error rows with it. Sort-key indexes are built over yet another
connection, so that waiting for a table lock never holds up the catalog look-ups of COPYs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from redshift_endpoint.convert import RowError
from redshift_endpoint.rewrite import SortKey

log = logging.getLogger(__name__)

# Redshift's STL_LOAD_ERRORS columns, plus `tablename` (Redshift only has the numeric `tbl`).
STL_LOAD_ERRORS_DDL = """
CREATE TABLE IF NOT EXISTS public.stl_load_errors (
    userid integer, slice integer, tbl integer, starttime timestamp, session integer, query integer,
    filename varchar(256), line_number bigint, colname varchar(127), type varchar(10),
    col_length varchar(10), position integer, raw_line varchar(1024), raw_field_value varchar(1024),
    err_code integer, err_reason varchar(100), is_partial integer, start_offset bigint, tablename text
);
CREATE SEQUENCE IF NOT EXISTS public.stl_load_errors_query_seq;
"""
# Every system table/view the endpoint provides, created idempotently in each database the first
# time an authenticated session is ready there (Admin.ensure_system_tables).
SYSTEM_DDL: list[str] = [STL_LOAD_ERRORS_DDL]

COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attrelid::integer
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


# Valid plain indexes of a table: their key columns in order (NULL for an expression column).
INDEX_KEYS_SQL = """
SELECT array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.n <= i.indnkeyatts ORDER BY k.n)
FROM pg_index i
WHERE i.indrelid = to_regclass(%s) AND i.indisvalid AND i.indpred IS NULL
"""

# An index build waits at most this long for the table lock (a writer's open transaction), then
# gives the lock queue back and tries again after INDEX_RETRY_DELAYS seconds.
INDEX_LOCK_TIMEOUT = "2s"
INDEX_RETRY_DELAYS = (1, 5, 15, 30, 60)


async def create_system_tables(conn: psycopg.AsyncConnection) -> None:
    for ddl in SYSTEM_DDL:
        try:
            await conn.execute(ddl)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            pass  # another endpoint created it concurrently


class Admin:
    """Lazily opened autocommit connections, one per (database, user), guarded by a lock.

    They log in as the session's own user, which PostgreSQL has authenticated by then, to the
    database that session asked for; ``user`` (``--admin-user``) only restricts them to the one
    user whose password (PGPASSWORD) the endpoint holds.
    """

    def __init__(self, host: str, port: int, user: str | None, password: str | None):
        self.host, self.port, self.user, self.password = host, port, user, password
        self._conns: dict[tuple[str, str, str], psycopg.AsyncConnection] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._ready: set[tuple[str, str]] = set()
        self._attempted: set[tuple[str, str]] = set()

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

    async def _run(self, dbname: str, user: str, fn, purpose: str = ""):
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

    async def columns(self, dbname: str, user: str, regclass: str) -> tuple[list[tuple[str, str]], int | None]:
        async def q(conn):
            cur = await conn.execute(COLUMNS_SQL, (regclass,))
            rows = await cur.fetchall()
            return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else None)
        return await self._run(dbname, user, q)

    async def ensure_table(self, dbname: str, user: str) -> None:
        key = (dbname, user)
        if key in self._ready:
            return

        await self._run(dbname, user, create_system_tables)
        self._ready.add(key)

    async def ensure_system_tables(self, dbname: str, user: str) -> None:
        """Create the endpoint's system tables in a database once per endpoint; never raises.

        Called when a session is ready (after authentication), so ``stl_load_errors`` can be
        queried on a fresh database before its first load. One attempt per database and user:
        a failure is logged and the first failed COPY tries again.
        """
        key = (dbname, self.user or user)
        if key in self._ready or key in self._attempted:
            return
        self._attempted.add(key)
        try:
            await self.ensure_table(dbname, user)
        except Exception as e:  # noqa: BLE001 - a missing system table must not refuse the session
            log.warning("could not create the system tables in %s: %s", dbname, e)

    async def record(self, dbname: str, user: str, *, table: str, tbl_oid: int | None, session: int | None,
                     errors: Sequence[RowError], started: datetime | None = None) -> int:
        """Insert one row per bad record; returns the query id shared by the rows."""
        await self.ensure_table(dbname, user)
        started = started or datetime.now(UTC).replace(tzinfo=None)

        async def q(conn):
            try:
                return await insert(conn)
            except psycopg.errors.UndefinedTable:
                # Dropped since this endpoint created it (say, a reset that drops every table).
                await create_system_tables(conn)
                return await insert(conn)

        async def insert(conn):
            cur = await conn.execute("SELECT nextval('public.stl_load_errors_query_seq')")
            query_id = (await cur.fetchone())[0]
            rows = [
                (0, 0, tbl_oid, started, session, query_id, e.filename[:256], e.line_number, e.colname[:127],
                 "", "", 0, e.raw_line[:1024], e.raw_field_value[:1024], e.err_code, e.err_reason[:100], 0, 0,
                 table)
                for e in errors
            ]
            async with conn.cursor() as c:
                await c.executemany(
                    "INSERT INTO public.stl_load_errors (userid, slice, tbl, starttime, session, query, filename,"
                    " line_number, colname, type, col_length, position, raw_line, raw_field_value, err_code,"
                    " err_reason, is_partial, start_offset, tablename)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
            return query_id
        return await self._run(dbname, user, q)

    async def ensure_sortkey_indexes(self, dbname: str, user: str, keys: Sequence[SortKey]) -> None:
        """Make sure each sort key has its index (see ``SortKey``); never raises, logs a warning.

        A table that already has a valid index starting with the key's columns is left alone
        without taking any lock, so re-running CREATE TABLE IF NOT EXISTS costs one catalog query.
        """
        for key in dict.fromkeys(keys):  # the same CREATE twice in a transaction: once
            for (name, cols), statement in zip(key.indexes(), key.index_sql(), strict=True):
                try:
                    await self._ensure_index(dbname, user, key, name, cols, statement)
                except Exception as e:  # noqa: BLE001 - an index is an optimisation: never fail a client
                    log.warning("could not create the sort-key index (%s): %s", statement, e)

    async def _ensure_index(self, dbname: str, user: str, key: SortKey, name: str, cols: tuple[str, ...],
                            statement: str) -> None:
        async def q(conn):
            try:
                if key.search_path:
                    await conn.execute("SELECT set_config('search_path', %s, false)", (key.search_path,))
                cur = await conn.execute(INDEX_KEYS_SQL, (key.regclass,))
                existing = [tuple(r[0]) for r in await cur.fetchall()]
                if any(e[:len(cols)] == cols for e in existing):
                    return True
                await conn.execute(f"SET lock_timeout = '{INDEX_LOCK_TIMEOUT}'")
                await conn.execute(statement)
            except psycopg.errors.LockNotAvailable:
                return False
            finally:
                await conn.execute("RESET lock_timeout; RESET search_path")
            log.info("sort-key index: %s%s", statement,
                     f" (search_path {key.search_path})" if key.search_path else "")
            return True

        for delay in (*INDEX_RETRY_DELAYS, None):
            if await self._run(dbname, user, q, purpose="index"):
                return
            if delay is None:
                raise TimeoutError(f"table {key.regclass} stayed locked by other transactions")
            log.info("sort-key index %s: %s is locked, retrying in %ss", name, key.regclass, delay)
            await asyncio.sleep(delay)

    async def close(self) -> None:
        for conn in self._conns.values():
            await conn.close()
        self._conns.clear()
