"""The ``redshift_compat`` schema (compat_schema.sql): Redshift functions and catalog views for PostgreSQL.

Created in a database the first time a session there runs a statement that needs it, over the endpoint's own
connection, before that statement reaches PostgreSQL. Creating a schema only needs the CREATE
privilege on the database (its owner has it), so the application user need not be a superuser.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import psycopg

from redshift_endpoint.backend import BackendConnections

log = logging.getLogger(__name__)

SCHEMA = "redshift_compat"
DDL = (Path(__file__).with_name("compat_schema.sql")).read_text()
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


async def ensure(conns: BackendConnections, dbname: str, user: str) -> bool:
    """Make sure ``dbname`` has the schema, over the endpoint's own connection; never raises.

    The relay calls this once per client session (a dropped and re-created database has no
    session left from before), so the check costs one catalog query per session that needs it.
    Returns False when the schema could not be created (the statement then fails on it).
    """
    try:
        await conns.run(dbname, user, install)
        return True
    except Exception as e:  # noqa: BLE001 - the client's statement fails with PostgreSQL's own error
        log.warning("could not create schema %s in database %s: %s", SCHEMA, dbname, e)
        return False
