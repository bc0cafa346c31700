"""Redshift SELECT forms PostgreSQL lacks: lateral column aliases, window MEDIAN, LISTAGG DISTINCT.

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
from tests.endpoint.endpoint_helpers import unique
from tests.endpoint.test_sql_compat import WINSALES


def rows(conn, sql):
    return conn.execute(sql).fetchall()


# ---------------------------------------------------------------- rewrite rules (no server)
_LATERAL = "https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html"
_RAW_DATA = "select clicks / impressions as probability, round(100 * probability, 1) as percentage from raw_data"


def test_lateral_alias_needs_the_from_columns_first():
    """r_SELECT_list: whether "probability" is a column of raw_data decides; the rewrite asks for its columns."""
    rw = rewrite(_RAW_DATA)
    assert rw.lateral_tables == [("raw_data",)]
    assert not rewrite("select clicks / impressions as probability from raw_data").lateral_tables


def test_lateral_alias_is_inlined_unless_the_from_clause_has_that_column():
    """r_SELECT_list: the alias is inlined; a FROM column of the same name takes priority."""
    rw = rewrite(_RAW_DATA, columns={("raw_data",): ["clicks", "impressions"]})
    assert rw.sql == ("select clicks / impressions as probability, round(100 * (clicks / impressions), 1) "
                      "as percentage from raw_data")
    rw = rewrite(_RAW_DATA, columns={("raw_data",): ["clicks", "impressions", "probability"]})
    assert rw.sql == _RAW_DATA


def test_lateral_alias_chains_bare_aliases_and_subquery_columns():
    """r_SELECT_list: each alias is known right after its definition, so aliases chain left to right."""
    assert rewrite("select 1 as a, a + 1 b, b * 2 as c, c").sql == "select 1 as a, (1) + 1 b, ((1) + 1) * 2 as c, (((1) + 1) * 2)"
    assert rewrite("select n * 2 as d, d + 1 from (select 1 as n) s").sql == "select n * 2 as d, (n * 2) + 1 from (select 1 as n) s"
    assert rewrite("select n * 2 as n2, n2 from (select 1 as n, 5 as n2) s").sql == (
        "select n * 2 as n2, n2 from (select 1 as n, 5 as n2) s")   # the subquery's column wins
    assert rewrite("with c (k) as (select 1) select k + 1 as z, z * 2 from c").sql == (
        "with c (k) as (select 1) select k + 1 as z, (k + 1) * 2 from c")


def test_lateral_alias_leaves_qualified_names_calls_and_subqueries_alone():
    """Only a bare name is an alias reference: t.x, x(...), date parts, types and names in a subquery are not."""
    columns = {("t",): ["a"]}
    for sql in ("select a as x, t.x from t", "select a as lower, lower(a) from t",
                "select a as x, (select x from u) from t", "select a as x from t where x > 1",
                "select a as hour, extract(hour from a), dateadd(hour, 1, a), date_part(hour, a) from t",
                "select a as int, cast(a as int), a::int from t"):
        # Same text as when every name is a column of t (nothing to inline), Redshift functions rewritten alike.
        assert rewrite(sql, columns=columns).sql == rewrite(sql, columns={("t",): ["a", "x", "lower", "hour",
                                                                                   "int"]}).sql


def test_lateral_alias_refuses_what_it_cannot_tell():
    """A FROM item of unknown columns, or an alias defined twice, is refused by name rather than guessed."""
    rw = rewrite("select a as x, x + 1 from generate_series(1, 3) a")
    assert "ERRCODE = '0A000'" in rw.sql
    assert 'lateral column alias reference "x"' in rw.sql and "generate_series" in rw.sql
    rw = rewrite("select a as x, x + 1 from (select * from t) s")
    assert 'lateral column alias reference "x"' in rw.sql and "subquery selecting *" in rw.sql
    rw = rewrite("select 1 as x, 2 as x, x + 1")
    assert "ERRCODE = '42702'" in rw.sql and "is ambiguous" in rw.sql


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
    assert rw.sql.startswith("DO $redshift_refused$ BEGIN RAISE EXCEPTION USING ERRCODE = '42601'")
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


def test_listagg_within_group_orders_must_agree():
    """r_LISTAGG: "each WITHIN GROUP clause must use the same ORDER BY values"; the page's three statements."""
    refused = rewrite("SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY dateid) AS sellers, "
                      "LISTAGG(dateid) WITHIN GROUP (ORDER BY sellerid) AS dates FROM sales;").sql
    assert refused.startswith("DO $redshift_refused$") and "same ORDER BY values" in refused
    for ok in ("SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY dateid) AS sellers, "
               "LISTAGG(dateid) WITHIN GROUP (ORDER BY dateid) AS dates FROM sales;",
               "SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY dateid) AS sellers, LISTAGG(dateid) AS dates FROM sales;"):
        assert "array_to_string" in rewrite(ok).sql


# ---------------------------------------------------------------- through the endpoint
@pytest.mark.integration
def test_lateral_alias_example(conn):
    """r_SELECT_list: "select clicks / impressions as probability, round(100 * probability, 1) as percentage".

    The alias is recognized right after it is defined in the target list; a column of raw_data with the
    alias's name takes priority over it. https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html
    """
    schema = unique("lca")
    conn.execute(f"create schema {schema}")
    conn.execute(f"set search_path to {schema}")
    conn.execute("create table raw_data (clicks numeric(10, 2), impressions numeric(10, 2))")
    conn.execute("insert into raw_data values (1, 4), (3, 8)")
    assert [(float(p), pct) for p, pct in rows(conn, _RAW_DATA + " order by 1")] == [
        (0.25, Decimal("25.0")), (0.375, Decimal("37.5"))]
    conn.execute("alter table raw_data add column probability numeric(10, 2) default 0.5")
    assert [(float(p), pct) for p, pct in rows(conn, _RAW_DATA + " order by 1")] == [
        (0.25, Decimal("50.0")), (0.375, Decimal("50.0"))]


@pytest.mark.integration
def test_lateral_alias_on_a_temporary_table(conn):
    """r_SELECT_list: a temporary table's columns (the endpoint's own connection cannot see them) decide too.

    https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html
    """
    conn.execute("create temp table t_lca (a int, x int)")
    conn.execute("insert into t_lca values (2, 100)")
    assert rows(conn, "select a * 10 as x, x + 1 as y, a * 3 as z, z + 1 from t_lca") == [(20, 101, 6, 7)]


@pytest.mark.integration
def test_lateral_alias_on_a_committed_table_and_the_search_path(endpoint, pg_server):
    """r_SELECT_list: the FROM columns come from the catalog, on the client's search_path.

    https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html
    """
    schema = unique("lca")
    with psycopg.connect(pg_server.dsn(), autocommit=True) as c:
        c.execute(f"create schema {schema}")
        c.execute(f"create table {schema}.plays (ms bigint, secs int)")
        c.execute(f"insert into {schema}.plays values (90000, 7)")
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as c:
        c.execute(f"set search_path to {schema}")
        # secs is a column: it wins over the alias; minutes is not: the alias is inlined.
        assert c.execute("select ms / 1000 as secs, secs * 2 as twice, ms / 60000.0 as minutes, "
                         "round(minutes, 1) from plays").fetchall() == [(90, 14, Decimal("1.5000000000000000"),
                                                                         Decimal("1.5"))]


@pytest.mark.integration
def test_lateral_alias_through_redshift_connector(rs):
    """The extended protocol (redshift_connector's named statements) gets the same rewrite.

    https://docs.aws.amazon.com/redshift/latest/dg/r_SELECT_list.html
    """
    cur = rs.cursor()
    cur.execute("select 6 as a, a * 7 as b, b + 0 as c")
    assert [list(r) for r in cur.fetchall()] == [[6, 42, 42]]


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


@pytest.mark.integration
def test_listagg_with_two_different_within_group_orders_is_refused(conn):
    """r_LISTAGG: "each WITHIN GROUP clause must use the same ORDER BY values" (the page's failing statement).

    https://docs.aws.amazon.com/redshift/latest/dg/r_LISTAGG.html
    """
    conn.execute("create temp table sales (sellerid int, dateid int)")
    conn.execute("insert into sales values (2, 10), (1, 20)")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="same ORDER BY values"):
        conn.execute("SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY dateid) AS sellers, "
                     "LISTAGG(dateid) WITHIN GROUP (ORDER BY sellerid) AS dates FROM sales")
    assert rows(conn, "SELECT LISTAGG(sellerid) WITHIN GROUP (ORDER BY dateid) AS sellers, "
                      "LISTAGG(dateid) WITHIN GROUP (ORDER BY dateid) AS dates FROM sales") == [("21", "1020")]
