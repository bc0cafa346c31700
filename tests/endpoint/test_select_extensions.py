"""Redshift SELECT forms PostgreSQL lacks: window MEDIAN, LISTAGG DISTINCT ordered by other columns.

The unit tests check the rewrite rules; the integration tests run each page's example through the real
endpoint in front of real PostgreSQL and compare with the page's result
(https://docs.aws.amazon.com/redshift/latest/dg/<page>.html).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import psycopg
import pytest

from redshift_endpoint.sql.translate import rewrite
from tests.endpoint.test_sql_compat import WINSALES


@pytest.fixture
def conn(endpoint):
    """An autocommit psycopg connection through the endpoint."""
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as c:
        yield c


def rows(conn, sql):
    return conn.execute(sql).fetchall()


# ---------------------------------------------------------------- rewrite rules (no server)
def test_median_window_uses_the_compat_aggregate():
    """r_WF_MEDIAN: MEDIAN ( median_expression ) OVER ( [ PARTITION BY partition_expression ] )."""
    rw = rewrite("select median(qty) over (partition by sellerid), median(qty) over () from winsales")
    assert rw.sql == ("select redshift_compat.median(qty) over (partition by sellerid), "
                      "redshift_compat.median(qty) over () from winsales")
    assert rw.compat


@pytest.mark.parametrize("over", ["order by dateid", "partition by sellerid order by dateid",
                                  "partition by sellerid rows between unbounded preceding and current row"])
def test_median_window_with_ordering_or_frame_is_refused(over):
    """r_WF_MEDIAN: "The OVER clause cannot contain a window ordering or window frame specification"."""
    rw = rewrite(f"select median(qty) over ({over}) from winsales;")
    assert rw.sql.startswith("DO $redshift_unload$BEGIN RAISE EXCEPTION USING ERRCODE = '42601'")
    assert "MEDIAN window function" in rw.sql and rw.sql.endswith(";")


def test_median_order_by_inside_a_nested_call_is_not_a_window_ordering():
    """Only the OVER clause's own words count: an ORDER BY in a subquery of the partition is not the window's."""
    rw = rewrite("select median(qty) over (partition by (select max(a) from (select a from t order by a) s)) from w")
    assert rw.sql.startswith("select redshift_compat.median(qty) over (partition by")


def test_listagg_distinct_keeps_the_first_value_in_group_order():
    """r_LISTAGG: DISTINCT with WITHIN GROUP (ORDER BY another column), as aggregate and as window."""
    assert rewrite("select listagg(distinct sellerid, ', ') within group (order by dateid) from s").sql == (
        "select array_to_string(redshift_compat.first_distinct(array_agg((sellerid)::text order by dateid) "
        "FILTER (WHERE (sellerid)::text <> '')), ', ') from s")
    assert rewrite("select listagg(distinct x) within group (order by y) over (partition by z) from t").sql == (
        "select array_to_string(redshift_compat.first_distinct(array_agg((x)::text) FILTER (WHERE (x)::text <> '') "
        "OVER (partition by z order by y ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)), '') from t")


# ---------------------------------------------------------------- through the endpoint
@pytest.mark.integration
def test_median_window_example(conn):
    """r_WF_MEDIAN: "select sellerid, qty, median(qty) over (partition by sellerid) from winsales".

    The page's result: seller 1 -> 10.0, seller 2 -> 20.0, seller 3 -> 17.5, seller 4 -> 25.0
    (integers give DECIMAL). https://docs.aws.amazon.com/redshift/latest/dg/r_WF_MEDIAN.html
    """
    conn.execute(WINSALES)
    got = rows(conn, "select sellerid, qty, median(qty) over (partition by sellerid) from winsales "
                     "order by sellerid, qty")
    expected = {1: Decimal("10.0"), 2: Decimal("20.0"), 3: Decimal("17.5"), 4: Decimal("25.0")}
    assert [(s, m) for s, _, m in got] == [(s, expected[s]) for s, _, _ in got]
    assert all(isinstance(m, Decimal) for _, _, m in got)
    assert sorted(q for s, q, _ in got if s == 3) == [10, 15, 20, 30]


@pytest.mark.integration
def test_median_return_types_and_nulls(conn):
    """r_MEDIAN / r_WF_MEDIAN: DOUBLE for FLOAT, DATE for DATE; NULL values are ignored.

    https://docs.aws.amazon.com/redshift/latest/dg/r_WF_MEDIAN.html
    """
    values = ("(values (1.0::float8, date '2008-01-01', 1), (4.0, date '2008-01-05', null), "
              "(null, null, 4)) t(f, d, i)")
    got = rows(conn, f"select median(f) over (), median(d) over (), median(i) over () from {values}")
    assert got == [(2.5, dt.date(2008, 1, 3), Decimal("2.5"))] * 3
    assert rows(conn, f"select median(f), median(d), median(i) from {values}") == [
        (2.5, dt.date(2008, 1, 3), Decimal("2.5"))]


@pytest.mark.integration
def test_median_window_with_order_by_is_refused_by_name(conn):
    """r_WF_MEDIAN: "The OVER clause cannot contain a window ordering or window frame specification".

    https://docs.aws.amazon.com/redshift/latest/dg/r_WF_MEDIAN.html
    """
    conn.execute(WINSALES)
    with pytest.raises(psycopg.errors.SyntaxError, match="MEDIAN window function"):
        conn.execute("select median(qty) over (partition by sellerid order by dateid) from winsales")


@pytest.mark.integration
def test_listagg_distinct_ordered_by_another_column(conn):
    """r_LISTAGG: DISTINCT removes duplicates before concatenating, trailing spaces ignored, first value kept.

    "the strings 'a' and 'a ' are treated as duplicates. LISTAGG uses the first value encountered";
    the values are ordered by WITHIN GROUP (ORDER BY order_list), here another column.
    https://docs.aws.amazon.com/redshift/latest/dg/r_LISTAGG.html
    """
    conn.execute(WINSALES)
    # Sellers of buyer B by date: 3 (2003-08-02), 2 (2004-02-12), 3, 3 (2004-04-18).
    assert rows(conn, "select listagg(distinct sellerid, ',') within group (order by dateid) from winsales "
                      "where buyerid = 'b'") == [("3,2",)]
    assert rows(conn, "select listagg(distinct v, '|') within group (order by k) from "
                      "(values (1, 'b'), (2, 'a '), (3, 'a'), (4, 'b'), (5, ''), (6, null)) t(k, v)") == [("b|a ",)]


@pytest.mark.integration
def test_listagg_distinct_window(conn):
    """r_WF_LISTAGG: LISTAGG( [DISTINCT] expression [, 'delimiter' ] ) WITHIN GROUP (...) OVER (PARTITION BY ...).

    https://docs.aws.amazon.com/redshift/latest/dg/r_WF_LISTAGG.html
    """
    conn.execute(WINSALES)
    got = rows(conn, "select buyerid, listagg(distinct sellerid, ',') within group (order by sellerid) "
                     "over (partition by buyerid) from winsales order by buyerid")
    by_buyer = {b.strip(): v for b, v in got}
    assert by_buyer == {"a": "1,4", "b": "2,3", "c": "1,2,3"}
