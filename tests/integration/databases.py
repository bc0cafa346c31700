"""A dedicated, empty database per integration module on the session's PostgreSQL server."""

from __future__ import annotations

import psycopg


def fresh_database(pg_server, name: str) -> str:
    """Drop and recreate the database ``name`` on ``pg_server``; return its name."""
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return name
