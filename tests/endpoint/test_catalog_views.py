"""Table layouts (DISTSTYLE, DISTKEY, SORTKEY, also by position in CREATE TABLE AS) in the catalog views.

Each test names its page of the Amazon Redshift Database Developer Guide
(https://docs.aws.amazon.com/redshift/latest/dg/<page>.html) and takes its expected rows from the
page's example, run through the real endpoint in front of real PostgreSQL. The layout is recorded
after the CREATE commits, in the background: the tests wait for it.
"""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
import pytest

from tests.endpoint.endpoint_helpers import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(endpoint):
    """An autocommit psycopg connection through the endpoint, search_path on a schema of its own."""
    schema = unique("layout")
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as c:
        c.execute(f"create schema {schema}")
        c.execute(f"set search_path to {schema}")
        yield c


def _wait_rows(conn, sql: str, expected, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        got = conn.execute(sql).fetchall()
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def _event_table(conn) -> None:
    """EVENT of the TICKIT sample (its columns; the layouts below do not depend on its rows)."""
    conn.execute("create table event (eventid integer not null distkey, venueid smallint not null, "
                 "catid smallint not null, dateid smallint not null sortkey, eventname varchar(200), "
                 "starttime timestamp)")
    conn.execute("insert into event values (1, 305, 8, 1851, 'Gotterdammerung', '2008-01-25 14:30'), "
                 "(2, 306, 8, 2114, 'Boris Godunov', '2008-10-15 20:00')")


_TABLE_DEF = ('select "column", type, encoding, distkey, sortkey from pg_table_def '
              "where tablename = '{}' order by {}")


def test_ctas_keys_by_position(conn):
    """r_CTAS_examples: ``distkey (1) sortkey (1,3)`` names the query's 1st and 3rd columns.

    The page's result: eventid distkey t, sortkey 1; dateid sortkey 2; venueid and eventname neither.
    https://docs.aws.amazon.com/redshift/latest/dg/r_CTAS_examples.html
    """
    _event_table(conn)
    conn.execute("create table eventdistsort distkey (1) sortkey (1,3) as "
                 "select eventid, venueid, dateid, eventname from event")
    expected = [("eventid", "integer", "none", True, 1), ("venueid", "smallint", "none", False, 0),
                ("dateid", "smallint", "none", False, 2),
                ("eventname", "character varying(200)", "none", False, 0)]
    query = ('select "column", type, trim(encoding), distkey, sortkey from pg_table_def '
             "where tablename = 'eventdistsort' order by array_position("
             "array['eventid', 'venueid', 'dateid', 'eventname']::name[], \"column\")")
    assert _wait_rows(conn, query, expected) == expected
    # "You can create exactly the same table by using column names for the distribution and sort keys."
    conn.execute("create table eventdistsort1 distkey (eventid) sortkey (eventid, dateid) as "
                 "select eventid, venueid, dateid, eventname from event")
    assert _wait_rows(conn, query.replace("'eventdistsort'", "'eventdistsort1'"), expected) == expected
    assert conn.execute("select count(*) from eventdistsort").fetchone() == (2,)


def test_ctas_of_a_plain_select_inherits_the_keys(conn):
    """r_CTAS_examples: ``create table event_backup as select * from event`` "inherits the distribution and sort
    keys from the EVENT table": dateid sortkey 1, eventid distkey true, every other column 0 / false.

    A join (or GROUP BY, ORDER BY, LIMIT) makes Redshift choose from the query plan instead: nothing inherited.
    https://docs.aws.amazon.com/redshift/latest/dg/r_CTAS_examples.html
    """
    _event_table(conn)
    layout = ('select "column", distkey, sortkey from pg_table_def where tablename = \'{}\' '
              'and (distkey or sortkey <> 0) order by 1')
    keys = [("dateid", False, 1), ("eventid", True, 0)]
    assert _wait_rows(conn, layout.format("event"), keys) == keys   # the source's own layout is recorded first
    conn.execute("create table event_backup as select * from event")
    assert _wait_rows(conn, layout.format("event_backup"), keys) == keys
    conn.execute("create table event_joined as select e.* from event e join event f using (eventid)")
    time.sleep(1)   # a wrong inheritance would be recorded in the background
    assert conn.execute(layout.format("event_joined")).fetchall() == []


def test_ctas_diststyle_even_has_no_sort_key(conn):
    """r_CTAS_examples: ``diststyle even`` as select: EVEN, and no column in a sort key or distribution key.

    https://docs.aws.amazon.com/redshift/latest/dg/r_CTAS_examples.html
    """
    _event_table(conn)
    conn.execute("create table eventdisteven diststyle even as select eventid, venueid, dateid, eventname from event")
    info = "select diststyle, sortkey1, sortkey_num from svv_table_info where \"table\" = 'eventdisteven'"
    assert _wait_rows(conn, info, [("EVEN", "AUTO(SORTKEY)", 0)]) == [("EVEN", "AUTO(SORTKEY)", 0)]
    assert conn.execute("select bool_or(distkey), max(sortkey) from pg_table_def "
                        "where tablename = 'eventdisteven'").fetchone() == (False, 0)


def test_pg_table_def_distkey_of_create_table(conn):
    """r_PG_TABLE_DEF: distkey is "True if this column is the distribution key for the table".

    The page's LINEORDER_COMPOUND example: lo_partkey is the distribution key, the sort key has
    lo_orderkey, lo_custkey, lo_partkey, lo_suppkey, lo_orderdate at positions 1 to 5, all NOT NULL.
    https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html
    """
    conn.execute("create table lineorder_compound (lo_orderkey integer not null, lo_linenumber integer not null, "
                 "lo_custkey integer not null, lo_partkey integer not null distkey, lo_suppkey integer not null, "
                 "lo_orderdate integer not null) compound sortkey (lo_orderkey, lo_custkey, lo_partkey, "
                 "lo_suppkey, lo_orderdate)")
    query = ('select "column", type, distkey, sortkey, "notnull" from pg_table_def '
             "where tablename = 'lineorder_compound' and sortkey <> 0 order by sortkey")
    expected = [("lo_orderkey", "integer", False, 1, True), ("lo_custkey", "integer", False, 2, True),
                ("lo_partkey", "integer", True, 3, True), ("lo_suppkey", "integer", False, 4, True),
                ("lo_orderdate", "integer", False, 5, True)]
    assert _wait_rows(conn, query, expected) == expected


def test_svv_table_info_columns_and_diststyles(conn):
    """r_SVV_TABLE_INFO: every documented column; diststyle is EVEN, KEY(column), ALL or AUTO(...).

    sortkey1 is the first sort key column, AUTO(SORTKEY) without one; max_varchar the largest VARCHAR;
    sortkey_num the number of sort key columns; empty tables are not listed.
    https://docs.aws.amazon.com/redshift/latest/dg/r_SVV_TABLE_INFO.html
    """
    documented = ["database", "schema", "table_id", "table", "encoded", "diststyle", "sortkey1", "max_varchar",
                  "sortkey1_enc", "sortkey_num", "size", "pct_used", "empty", "unsorted", "stats_off", "tbl_rows",
                  "skew_sortkey1", "skew_rows", "estimated_visible_rows", "risk_event", "vacuum_sort_benefit",
                  "create_time"]
    cur = conn.execute("select * from svv_table_info limit 0")
    assert [d.name for d in cur.description] == documented
    conn.execute("create table t_key (a integer, b varchar(30), c varchar(250)) distkey (b) sortkey (a, b)")
    conn.execute("create table t_all (a integer not null) diststyle all")
    conn.execute("create table t_auto (a integer)")
    conn.execute("create table t_empty (a integer) diststyle even")
    for t in ("t_key", "t_all", "t_auto", "t_empty"):
        if t != "t_empty":
            conn.execute(f"insert into {t} (a) select g from generate_series(1, 10) g")
    query = ('select "table", diststyle, sortkey1, max_varchar, sortkey_num, tbl_rows, skew_rows, unsorted '
             'from svv_table_info where schema = current_schema() order by "table"')
    expected = [("t_all", "ALL", "AUTO(SORTKEY)", None, 0, 10, Decimal("1.00"), None),
                ("t_auto", "AUTO(ALL)", "AUTO(SORTKEY)", None, 0, 10, Decimal("1.00"), None),
                ("t_key", "KEY(b)", "a", 250, 2, 10, Decimal("1.00"), Decimal("0.00"))]
    assert _wait_rows(conn, query, expected) == expected
    # stats_off: 100 never analyzed, 0 just analyzed; locally the rows changed since in % of the rows.
    stats = "select stats_off from svv_table_info where \"table\" = 't_auto' and schema = current_schema()"
    assert conn.execute(stats).fetchone() == (Decimal("100.00"),)
    conn.execute("select pg_stat_force_next_flush()")   # the inserts' counters reach the statistics now
    conn.execute("analyze t_auto")
    assert _wait_rows(conn, stats, [(Decimal("0.00"),)]) == [(Decimal("0.00"),)]
    conn.execute("insert into t_auto select g from generate_series(1, 10) g")
    assert _wait_rows(conn, stats, [(Decimal("50.00"),)]) == [(Decimal("50.00"),)]


def test_dropped_and_recreated_table_does_not_keep_its_old_distribution(conn):
    """r_PG_TABLE_DEF: the recorded DISTKEY belongs to the table that declared it, not to a later one of that name.

    https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html
    """
    conn.execute("create table again (a integer distkey, b integer)")
    query = "select \"column\", distkey from pg_table_def where tablename = 'again' order by 1"
    assert _wait_rows(conn, query, [("a", True), ("b", False)]) == [("a", True), ("b", False)]
    conn.execute("drop table again")
    conn.execute("create table again (a integer, b integer)")
    time.sleep(1)  # a wrong record would be written in the background
    assert conn.execute(query).fetchall() == [("a", False), ("b", False)]
