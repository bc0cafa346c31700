"""TRUNCATE commits the transaction it runs in, through the real endpoint and PostgreSQL.

https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html: "TRUNCATE commits the transaction in
which it is run"; "you can't roll back a TRUNCATE operation, and a TRUNCATE command may commit other
operations when it commits itself"; the example ``begin; truncate date; rollback; select count(*)
from date;`` returns 0 ("The DATE table remains empty after the ROLLBACK command because the
TRUNCATE command was automatically committed").

Each case runs with the clients the project has: redshift_connector (extended protocol, explicit
``begin transaction``, as Airflow's RedshiftSQLHook), psycopg with parameters (extended, unnamed
statement) and psycopg/psql-style simple Query (several statements in one message). Counts are read
over a separate PostgreSQL connection, so they show what was committed.
"""

from __future__ import annotations

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import rows, unique

pytestmark = pytest.mark.integration


def _table(pg_server, name: str, n: int) -> None:
    with psycopg.connect(pg_server.dsn(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id integer)")
        c.execute(f"INSERT INTO {name} SELECT generate_series(1, {n})")


def _count(pg_server, name: str) -> int:
    return rows(pg_server, f"SELECT count(*) FROM {name}")[0][0]


def test_documented_example_rollback_after_truncate_keeps_the_table_empty(endpoint, pg_server):
    """r_TRUNCATE: begin; truncate date; rollback; -> count 0 (simple Query, one statement a message)."""
    t = unique("date")
    _table(pg_server, t, 5)
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        c.execute("begin")
        c.execute(f"truncate {t}")
        c.execute("rollback")
        assert c.execute(f"select count(*) from {t}").fetchone() == (0,)
    assert _count(pg_server, t) == 0


def test_truncate_commits_a_preceding_insert_redshift_connector(endpoint, pg_server):
    """r_TRUNCATE: TRUNCATE commits other operations of its transaction (redshift_connector, autocommit off).

    An INSERT into another table before the TRUNCATE is committed with it: a ROLLBACK afterwards
    undoes neither, and the session keeps working (later statements run and commit normally).
    """
    t, other = unique("trunc"), unique("other")
    _table(pg_server, t, 3)
    _table(pg_server, other, 0)
    conn = redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=60)
    try:
        cur = conn.cursor()
        cur.execute(f"insert into {other} values (1), (2)")
        assert _count(pg_server, other) == 0          # not committed yet: TRUNCATE will commit it
        cur.execute(f"truncate table {t}")
        assert _count(pg_server, other) == 2 and _count(pg_server, t) == 0
        conn.rollback()
        assert _count(pg_server, other) == 2 and _count(pg_server, t) == 0
        cur.execute(f"insert into {t} values (7)")
        cur.execute(f"select count(*) from {t}")
        assert cur.fetchone() == [1]
        conn.commit()
        cur.execute(f"truncate table {t}")            # the same SQL text: a cached statement, run again
        conn.rollback()
    finally:
        conn.close()
    assert _count(pg_server, t) == 0


def test_truncate_commits_with_psycopg_parameters(endpoint, pg_server):
    """r_TRUNCATE through the extended protocol with the unnamed statement (psycopg with parameters)."""
    t = unique("trunc")
    _table(pg_server, t, 4)
    with psycopg.connect(endpoint.dsn()) as c:   # not autocommit: psycopg opens the transaction
        c.execute(f"insert into {t} values (%s)", (99,))
        c.execute(f"truncate {t}", prepare=False)
        c.execute(f"insert into {t} values (%s)", (100,))   # a new transaction, rolled back below
        c.rollback()
        assert c.execute(f"select count(*) from {t} where id > %s", (0,)).fetchone() == (0,)
    assert _count(pg_server, t) == 0


def test_truncate_in_a_multi_statement_query(endpoint, pg_server):
    """r_TRUNCATE in one simple Query: the INSERT before it is committed, the ROLLBACK after it undoes nothing.

    The client sees only its own statements' results (the COMMIT the endpoint adds is hidden).
    """
    t, other = unique("trunc"), unique("other")
    _table(pg_server, t, 2)
    _table(pg_server, other, 0)
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        cur = c.execute(f"begin; insert into {other} values (5); truncate {t}; rollback; select count(*) from {t}")
        statuses = [cur.statusmessage]
        while cur.nextset():
            statuses.append(cur.statusmessage)
        assert statuses == ["BEGIN", "INSERT 0 1", "TRUNCATE TABLE", "ROLLBACK", "SELECT 1"]
    assert _count(pg_server, other) == 1 and _count(pg_server, t) == 0


def test_failed_truncate_leaves_the_transaction_to_the_client(endpoint, pg_server):
    """A TRUNCATE that fails (no such table) commits nothing: the transaction is aborted as usual."""
    other = unique("other")
    _table(pg_server, other, 0)
    with psycopg.connect(endpoint.dsn()) as c:
        c.execute(f"insert into {other} values (1)")
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute(f"truncate {unique('missing')}")
        c.rollback()
        assert c.execute("select 1").fetchone() == (1,)
    assert _count(pg_server, other) == 0
