"""The B-tree index that stands in for each Redshift SORTKEY, built after the CREATE TABLE commits,
and the DISTSTYLE / DISTKEY recorded for the catalog views at the same time.

Built over a connection of its own (backend.py, purpose "index"), so that waiting for a table lock
never holds up the catalog look-ups of COPYs, and in the background: the client does not wait.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import psycopg

from redshift_endpoint.backend import BackendConnections
from redshift_endpoint.sql import compat_schema
from redshift_endpoint.sql.translate import SortKey, lookup_name

log = logging.getLogger(__name__)

# Valid plain indexes of a table: their key columns in order (NULL for an expression column).
INDEX_KEYS_SQL = """
SELECT array(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, n)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.n <= i.indnkeyatts ORDER BY k.n)
FROM pg_index i
WHERE i.indrelid = to_regclass(%s) AND i.indisvalid AND i.indpred IS NULL
"""

# The sort key a table got from the endpoint: its compound index's columns, or its interleaved
# indexes' single columns in creation order (sorted by oid).
SOURCE_SORTKEY_SQL = """
SELECT i.relname = c.relname || '_sortkey' AS compound,
       array(SELECT a.attname FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.n)
FROM pg_class c JOIN pg_index x ON x.indrelid = c.oid JOIN pg_class i ON i.oid = x.indexrelid
WHERE c.oid = to_regclass(%s) AND x.indisvalid
  AND (i.relname = c.relname || '_sortkey' OR i.relname LIKE c.relname || '\\_sortkey\\_%%')
ORDER BY i.oid
"""

# A source table's recorded distribution (none when the compat schema was never installed there).
SOURCE_DISTRIBUTION_SQL = """
SELECT d.diststyle, d.distkey FROM redshift_compat.distribution_of(to_regclass(%s)) d
WHERE to_regnamespace('redshift_compat') IS NOT NULL AND d.diststyle IS NOT NULL
"""

# The table's columns in order: a CREATE TABLE AS key given by position names the n-th one.
COLUMN_NAMES_SQL = """
SELECT array(SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0
             AND NOT attisdropped ORDER BY attnum)
"""

# An index build waits at most this long for the table lock (a writer's open transaction), then
# gives the lock queue back and tries again after INDEX_RETRY_DELAYS seconds.
INDEX_LOCK_TIMEOUT = "2s"
INDEX_RETRY_DELAYS = (1, 5, 15, 30, 60)



class SortKeyIndexer:
    def __init__(self, conns: BackendConnections):
        self.conns = conns
        self.background: set[asyncio.Task] = set()

    def build_in_background(self, dbname: str, user: str, keys: list[SortKey]) -> None:
        """Build the indexes of committed sort keys in the background (the client does not wait)."""
        task = asyncio.get_running_loop().create_task(self.ensure(dbname, user, keys))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def ensure(self, dbname: str, user: str, keys: Sequence[SortKey]) -> None:
        """Make sure each sort key has its index (see ``SortKey``); never raises, logs a warning.

        A table that already has a valid index starting with the key's columns is left alone
        without taking any lock, so re-running CREATE TABLE IF NOT EXISTS costs one catalog query.
        """
        for key in dict.fromkeys(keys):  # the same CREATE twice in a transaction: once
            try:
                key = await self._resolve_and_record(dbname, user, key)
            except Exception as e:  # noqa: BLE001 - e.g. a CTAS key position past its columns: never fail a client
                log.warning("could not resolve the sort key of %s: %s", key.regclass, e)
                continue
            for (name, cols), statement in zip(key.indexes(), key.index_sql(), strict=True):
                try:
                    await self._ensure_index(dbname, user, key, name, cols, statement)
                except Exception as e:  # noqa: BLE001 - an index is an optimisation: never fail a client
                    log.warning("could not create the sort-key index (%s): %s", statement, e)

    async def _resolve_and_record(self, dbname: str, user: str, key: SortKey) -> SortKey:
        """Column positions (CREATE TABLE AS) -> names; DISTSTYLE/DISTKEY -> redshift_compat.table_distribution."""
        positional = any(isinstance(c, int) for c in (*key.columns, key.distkey))
        if not positional and key.diststyle is None and key.inherit is None:
            return key

        async def q(conn):
            try:
                if key.search_path:
                    await conn.execute("SELECT set_config('search_path', %s, false)", (key.search_path,))
                names: list[str] = []
                if positional or key.inherit:
                    names = (await (await conn.execute(COLUMN_NAMES_SQL, (key.regclass,))).fetchone())[0]
                if key.inherit:
                    return await self._inherit(conn, key, names)

                def name_of(col: str | int) -> str:
                    if isinstance(col, str):
                        return col
                    if not 1 <= col <= len(names):
                        raise ValueError(f"{key.regclass} has no column number {col}")
                    return names[col - 1]

                resolved = dataclasses.replace(
                    key, columns=tuple(name_of(c) for c in key.columns),
                    distkey=None if key.distkey is None else name_of(key.distkey))
                if key.diststyle is not None:
                    try:
                        await compat_schema.install(conn)
                        await conn.execute("SELECT redshift_compat.record_distribution(to_regclass(%s), %s, %s)",
                                           (key.regclass, resolved.diststyle, resolved.distkey))
                    except psycopg.Error as e:  # the sort key's index is still built
                        log.warning("could not record the distribution of %s: %s", key.regclass, e)
                return resolved
            finally:
                await conn.execute("RESET search_path")

        return await self.conns.run(dbname, user, q, purpose="index")

    async def _inherit(self, conn, key: SortKey, names: list[str]) -> SortKey:
        """A CREATE TABLE AS of a plain SELECT from one table takes that table's keys (r_CTAS_examples), as far
        as the new table has those columns."""
        source = lookup_name(list(key.inherit))
        rows = await (await conn.execute(SOURCE_SORTKEY_SQL, (source,))).fetchall()
        compound = [r[1] for r in rows if r[0]]
        columns: tuple[str, ...] = tuple(compound[0]) if compound else tuple(r[1][0] for r in rows)
        interleaved = not compound and len(columns) > 1
        if not set(columns) <= set(names):
            columns, interleaved = (), False
        diststyle = distkey = None
        try:
            row = await (await conn.execute(SOURCE_DISTRIBUTION_SQL, (source,))).fetchone()
        except psycopg.Error:
            row = None
        if row and (row[1] is None or row[1] in names):
            diststyle, distkey = row
        resolved = dataclasses.replace(key, columns=columns, interleaved=interleaved, diststyle=diststyle,
                                       distkey=distkey, inherit=None)
        if diststyle is not None:
            await compat_schema.install(conn)
            await conn.execute("SELECT redshift_compat.record_distribution(to_regclass(%s), %s, %s)",
                               (key.regclass, diststyle, distkey))
        return resolved

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
            if await self.conns.run(dbname, user, q, purpose="index"):
                return
            if delay is None:
                raise TimeoutError(f"table {key.regclass} stayed locked by other transactions")
            log.info("sort-key index %s: %s is locked, retrying in %ss", name, key.regclass, delay)
            await asyncio.sleep(delay)

    async def close(self) -> None:
        """Cancel the builds still running and wait for them to stop."""
        for t in list(self.background):
            t.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
