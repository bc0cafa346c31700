"""Catalog look-ups over the endpoint's own connection: the columns of a COPY's target table, and of the
tables a lateral column alias reference selects from (sql/lateral_alias.py)."""

from __future__ import annotations

from redshift_endpoint.backend import BackendConnections

COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attrelid::integer
FROM pg_attribute a
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


class Catalog:
    def __init__(self, conns: BackendConnections):
        self.conns = conns

    async def columns(self, dbname: str, user: str, regclass: str) -> tuple[list[tuple[str, str]], int | None]:
        """(name, format_type) of each column in order, and the table's oid (None: no such table)."""
        async def q(conn):
            cur = await conn.execute(COLUMNS_SQL, (regclass,))
            rows = await cur.fetchall()
            return [(r[0], r[1]) for r in rows], (rows[0][2] if rows else None)
        return await self.conns.run(dbname, user, q)

    async def column_names(self, dbname: str, user: str, regclass: str, search_path: str | None) -> list[str] | None:
        """The column names of a table resolved on the client's search_path (None: no such table)."""
        async def q(conn):
            try:
                if search_path:
                    await conn.execute("SELECT set_config('search_path', %s, false)", (search_path,))
                cur = await conn.execute(COLUMNS_SQL, (regclass,))
                names = [r[0] for r in await cur.fetchall()]
            finally:
                if search_path:
                    await conn.execute("RESET search_path")
            return names or None
        return await self.conns.run(dbname, user, q)
