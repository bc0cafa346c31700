"""The ``redshift_compat`` schema (sqlcompat.sql): Redshift functions and catalog views for PostgreSQL.

Created in each database the first time a rewritten statement needs it, over the endpoint's own
connection, before that statement reaches PostgreSQL. Creating a schema only needs the CREATE
privilege on the database (its owner has it), so the application user need not be a superuser.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

SCHEMA = "redshift_compat"
DDL = (Path(__file__).with_name("sqlcompat.sql")).read_text()
VERSION = hashlib.sha256(DDL.encode()).hexdigest()[:16]   # any change to the file re-creates it
_LOCK_KEY = 0x7265_6473_6869_6674 & 0x7FFF_FFFF_FFFF_FFFF  # "redshift": one advisory lock for all endpoints

_INSTALLED_SQL = """
SELECT obj_description(oid, 'pg_namespace') = %s FROM pg_namespace WHERE nspname = %s
"""


async def install(conn: psycopg.AsyncConnection) -> bool:
    """Create or update the schema unless this version is already there; True when it ran the DDL."""
    cur = await conn.execute(_INSTALLED_SQL, (f"version {VERSION}", SCHEMA))
    row = await cur.fetchone()
    if row and row[0]:
        return False
    async with conn.transaction():
        # Two endpoints (or sessions) installing at once would collide on CREATE OR REPLACE.
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        cur = await conn.execute(_INSTALLED_SQL, (f"version {VERSION}", SCHEMA))
        row = await cur.fetchone()
        if row and row[0]:
            return False
        await conn.execute(DDL)
        await conn.execute(f"COMMENT ON SCHEMA {SCHEMA} IS 'version {VERSION}'")
    log.info("created schema %s (version %s)", SCHEMA, VERSION)
    return True


class CompatInstaller:
    """Installs the schema once per database for this endpoint process."""

    def __init__(self) -> None:
        self._ready: set[tuple] = set()

    async def ensure(self, admin, dbname: str, user: str) -> None:
        """Make sure ``dbname`` has the schema; never raises (the statement then reports the gap)."""
        key = (admin.host, admin.port, dbname)
        if key in self._ready:
            return
        try:
            await admin._run(dbname, user, install, purpose="compat")
            self._ready.add(key)
        except Exception as e:  # noqa: BLE001 - the client's statement fails with PostgreSQL's own error
            log.warning("could not create schema %s in database %s: %s", SCHEMA, dbname, e)


INSTALLER = CompatInstaller()   # one per endpoint process
