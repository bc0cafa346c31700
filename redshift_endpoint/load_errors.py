"""Redshift's STL_LOAD_ERRORS system table: created in each database, one row per bad record.

Written over the endpoint's own connection (backend.py): a failed COPY aborts the client's
transaction and its rollback must not take the error rows with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg

from redshift_endpoint.backend import BackendConnections
from redshift_endpoint.convert import RowError

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
# time an authenticated session is ready there (LoadErrorsTable.ensure_system_tables).
SYSTEM_DDL: list[str] = [STL_LOAD_ERRORS_DDL]


async def create_system_tables(conn: psycopg.AsyncConnection) -> None:
    for ddl in SYSTEM_DDL:
        try:
            await conn.execute(ddl)
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            pass  # another endpoint created it concurrently


class LoadErrorsTable:
    """Bad records of failed or MAXERROR-tolerant loads, written to the database the session uses."""

    def __init__(self, conns: BackendConnections):
        self.conns = conns
        self._ready: set[tuple[str, str]] = set()
        self._attempted: set[tuple[str, str]] = set()

    async def ensure_table(self, dbname: str, user: str) -> None:
        key = (dbname, user)
        if key in self._ready:
            return

        await self.conns.run(dbname, user, create_system_tables)
        self._ready.add(key)

    def forget_database(self, dbname: str) -> None:
        """``dbname`` is being dropped or renamed: a database of that name later needs its tables anew."""
        self._ready = {k for k in self._ready if k[0] != dbname}
        self._attempted = {k for k in self._attempted if k[0] != dbname}

    async def ensure_system_tables(self, dbname: str, user: str) -> None:
        """Create the endpoint's system tables in a database once per endpoint; never raises.

        Called when a session is ready (after authentication), so ``stl_load_errors`` can be
        queried on a fresh database before its first load. One attempt per database and user:
        a failure is logged and the first failed COPY tries again.
        """
        key = (dbname, self.conns.user or user)
        if key in self._ready or key in self._attempted:
            return
        self._attempted.add(key)
        try:
            await self.ensure_table(dbname, user)
        except Exception as e:  # noqa: BLE001 - a missing system table must not refuse the session
            log.warning("could not create the system tables in %s: %s", dbname, e)

    async def record(self, dbname: str, user: str, *, table: str, tbl_oid: int | None, session: int | None,
                     errors: Sequence[RowError]) -> int:
        """Insert one row per bad record; returns the query id shared by the rows."""
        await self.ensure_table(dbname, user)
        started = datetime.now(UTC).replace(tzinfo=None)

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
        return await self.conns.run(dbname, user, q)
