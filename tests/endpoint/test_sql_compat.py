"""Redshift SQL that PostgreSQL does not run, through the endpoint: each test is a documented example.

Every test names its page of the Amazon Redshift Database Developer Guide
(https://docs.aws.amazon.com/redshift/latest/dg/<page>.html), builds the page's input, runs the page's
query through the real endpoint in front of real PostgreSQL, and compares with the page's result.
Where a page's example needs the TICKIT sample database, the rows the example shows are its input.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import pg, unique

pytestmark = pytest.mark.integration


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def one(conn, sql):
    return conn.execute(sql).fetchone()


# ---------------------------------------------------------------- NULL handling
def test_nvl_is_coalesce(conn):
    """r_NVL_function: NVL is a synonym of COALESCE; the datetable example."""
    assert one(conn, "SELECT NVL(NULL, 12, NULL)") == (12,)
    assert one(conn, "SELECT NVL(NULL, 'Amazon Redshift', NULL)") == ("Amazon Redshift",)
    conn.execute("create temp table datetable (start_date date, end_date date)")
    conn.execute("insert into datetable values ('2008-06-01','2008-12-31')")
    conn.execute("insert into datetable values (null,'2008-12-31')")
    conn.execute("insert into datetable values ('2008-12-31',null)")
    assert rows(conn, "select nvl(start_date, end_date) from datetable order by 1") == [
        (dt.date(2008, 6, 1),), (dt.date(2008, 12, 31),), (dt.date(2008, 12, 31),)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):  # "ERROR: invalid input syntax for integer"
        conn.execute("SELECT COALESCE(NULL, 'Amazon Redshift', 12)")


def test_nvl2(conn):
    """r_NVL2: the contact_info example (rows of the users the page lists)."""
    conn.execute("create temp table users (firstname varchar(30), lastname varchar(30), email varchar(100), "
                 "phone char(14), state char(2))")
    conn.execute("insert into users values ('Aphrodite', 'Acevedo', 'x@y.z', '(906) 632-4407', 'WA'), "
                 "('Caldwell', 'Acevedo', 'Nunc.sollicitudin@Duisac.ca', '(111) 111-1111', 'WA'), "
                 "('Quinn', 'Adams', 'vel@adipiscingligulaAenean.com', '(222) 222-2222', 'WA')")
    conn.execute("update users set email = null where firstname = 'Aphrodite' and lastname = 'Acevedo'")
    # The page concatenates with '+'; PostgreSQL (and Redshift) also take '||'.
    got = rows(conn, "select (firstname || ' ' || lastname) as name, nvl2(email, email, phone) AS contact_info "
                     "from users where state = 'WA' and lastname like 'A%' order by lastname, firstname")
    assert got == [("Aphrodite Acevedo", "(906) 632-4407"), ("Caldwell Acevedo", "Nunc.sollicitudin@Duisac.ca"),
                   ("Quinn Adams", "vel@adipiscingligulaAenean.com")]


def test_decode(conn):
    """r_DECODE_expression: the CATEGORY example, and NULL search values matching NULL."""
    conn.execute("create temp table category (catid smallint, catname varchar(10))")
    conn.execute("insert into category values (1,'MLB'),(2,'NHL'),(3,'NFL'),(4,'NBA'),(5,'MLS'),(6,'Musicals'),"
                 "(7,'Plays'),(8,'Opera'),(9,'Pop'),(10,'Jazz'),(11,'Classical')")
    got = rows(conn, """select catid, decode(catname,
        'NHL', 'National Hockey League',
        'MLB', 'Major League Baseball',
        'MLS', 'Major League Soccer',
        'NFL', 'National Football League',
        'NBA', 'National Basketball Association',
        'Unknown')
        from category
        order by catid""")
    assert got == [(1, "Major League Baseball"), (2, "National Hockey League"), (3, "National Football League"),
                   (4, "National Basketball Association"), (5, "Major League Soccer")] + [
        (k, "Unknown") for k in range(6, 12)]
    conn.execute("create temp table venue (venuename varchar(100), venuestate char(2), venueseats integer)")
    conn.execute("insert into venue values ('Coors Field','CO',76125),('Ballys Hotel','NV',null),"
                 "('Bellagio Hotel','NV',null)")
    assert rows(conn, "select venuename, venuestate, decode(venueseats,null,0,1) from venue "
                      "where venuestate in('NV','CO') order by 2,3,1") == [
        ("Coors Field", "CO", 1), ("Ballys Hotel", "NV", 0), ("Bellagio Hotel", "NV", 0)]
    # Two arguments: PostgreSQL's own decode(text, format) is left alone.
    assert one(conn, "select decode('616263', 'hex')") == (b"abc",)


# ---------------------------------------------------------------- dates and times
def test_dateadd(conn):
    """r_DATEADD_function: dates give timestamps, times wrap past midnight, m is minutes."""
    assert one(conn, "select dateadd(month,18,'2008-02-28')") == (dt.datetime(2009, 8, 28),)
    assert one(conn, "select dateadd(m,30,'2008-02-28')") == (dt.datetime(2008, 2, 28, 0, 30),)
    assert one(conn, "select dateadd(hour, 8, time '13:24:55')") == (dt.time(21, 24, 55),)
    assert one(conn, "select dateadd(hour, 12, time '13:24:55')") == (dt.time(1, 24, 55),)
    conn.execute("create temp table time_test (time_val time)")
    conn.execute("insert into time_test values ('20:00:00'), ('00:00:00.5550'), ('00:58:00')")
    assert rows(conn, "select dateadd(minute,5,time_val) as minplus5 from time_test") == [
        (dt.time(20, 5),), (dt.time(0, 5, 0, 555000),), (dt.time(1, 3),)]
    conn.execute("create temp table date (dateid int, caldate date, month char(5))")
    # (a temp table named "date" shadows the type name: spell the type pg_catalog.date)
    conn.execute("insert into date select 1000 + d, pg_catalog.date '2008-11-01' + d, 'NOV' "
                 "from generate_series(0, 29) d")
    got = rows(conn, "select dateadd(day,30,caldate) as novplus30 from date where month='NOV' order by dateid")
    assert len(got) == 30 and got[:3] == [(dt.datetime(2008, 12, 1),), (dt.datetime(2008, 12, 2),),
                                         (dt.datetime(2008, 12, 3),)]


def test_datediff(conn):
    """r_DATEDIFF_function: boundaries crossed, for literals, timestamptz text and a table."""
    assert one(conn, "select datediff(week,'2009-01-01','2009-12-31') as numweeks") == (52,)
    assert one(conn, "select datediff(hour, '2023-01-01', '2023-01-03 05:04:03')") == (53,)
    assert one(conn, "Select datediff(days, 'Jun 1,2008 09:59:59 EST', 'Jul 4,2008 09:59:59 EST')") == (33,)
    # The argument description: one year between 12-31-2008 and 01-01-2009; two hours 8:30 -> 10:00.
    assert one(conn, "select datediff(year, date '2008-12-31', date '2009-01-01')") == (1,)
    assert one(conn, "select datediff(hour, timestamp '2009-01-01 08:30:00', timestamp '2009-01-01 10:00:00'), "
                     "datediff(hour, time '08:30:00', time '10:00:00')") == (2, 2)
    conn.execute("create temp table date_table (start_date date, end_date date)")
    conn.execute("insert into date_table values ('2009-01-01', '2009-03-23'), ('2023-01-04', '2024-05-04')")
    assert rows(conn, "select datediff(day, start_date, end_date) as duration from date_table") == [(81,), (486,)]


def test_date_part_and_extract(conn):
    """r_DATE_PART_function examples; r_Dateparts_for_datetime_functions (abbreviations, sec vs EXTRACT)."""
    q = "SELECT DATE_PART({}, timestamp '20220502 04:05:06.789')"
    assert one(conn, "SELECT DATE_PART(minute, timestamp '20230104 04:05:06.789')") == (5,)
    assert one(conn, q.format("week")) == (18,)
    assert one(conn, q.format("day")) == (2,)
    assert one(conn, q.format("dayofweek")) == (1,)
    assert one(conn, q.format("century")) == (21,)
    assert one(conn, q.format("millennium")) == (3,)
    assert one(conn, q.format("microsecond")) == (789000,)
    conn.execute("create temp table seconds(micro timestamp)")
    conn.execute("insert into seconds values('2009-09-21 11:10:03.189717')")
    assert one(conn, "select extract(sec from micro) from seconds") == (3,)
    assert one(conn, "select date_part(sec, micro) from seconds") == (3.189717,)
    # Every documented abbreviation is accepted (the table of the date-parts page) ...
    for part in ("mil", "c", "cent", "dec", "y", "yr", "yrs", "qtr", "mon", "mons", "w", "d", "h", "hr", "m",
                 "min", "s", "secs", "ms", "msec", "us", "usec"):
        conn.execute(f"select date_part({part}, micro), extract({part} from micro), "
                     f"datediff({part}, micro, micro), dateadd({part}, 1, micro) from seconds")
    # ... and day of week only by DATE_PART and EXTRACT ("supported by the DATE_PART and the EXTRACT function").
    assert one(conn, "select date_part(dw, micro), extract(weekday from micro) from seconds") == (1, 1)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="date part"):
        conn.execute("select datediff(dw, micro, micro) from seconds")


def test_getdate_is_the_statement_start_and_sysdate_the_transaction_start(endpoint):
    """r_GETDATE (start of the current statement, whole seconds) and r_SYSDATE (start of the transaction)."""
    with psycopg.connect(endpoint.dsn(), connect_timeout=10) as c:   # one transaction
        g1, s1 = c.execute("select getdate(), sysdate").fetchone()
        time.sleep(1.1)
        g2, s2 = c.execute("select getdate(), sysdate").fetchone()
        assert g1.microsecond == 0 and g2 > g1
        assert s1 == s2
        assert c.execute("select trunc(getdate()) = current_date, trunc(sysdate) = current_date").fetchone() == (
            True, True)


def test_convert_timezone(conn):
    """CONVERT_TIMEZONE: names follow DST, abbreviations do not, trailing offsets are POSIX (west)."""
    conn.execute("create temp table listing (listid int, listtime timestamp)")
    conn.execute("insert into listing values (16, '2008-08-24 09:36:12')")
    assert one(conn, "select listtime, convert_timezone('PST', listtime) from listing where listid = 16") == (
        dt.datetime(2008, 8, 24, 9, 36, 12), dt.datetime(2008, 8, 24, 1, 36, 12))
    assert one(conn, "select convert_timezone('US/Pacific', listtime) from listing where listid = 16") == (
        dt.datetime(2008, 8, 24, 2, 36, 12),)
    assert one(conn, "select convert_timezone('EST', 'PST', '20080305 12:25:29')") == (dt.datetime(2008, 3, 5, 9, 25, 29),)
    assert one(conn, "select convert_timezone('America/New_York', '2013-02-01 08:00:00')") == (
        dt.datetime(2013, 2, 1, 3),)
    assert one(conn, "select convert_timezone('America/New_York', '2013-06-01 08:00:00')") == (
        dt.datetime(2013, 6, 1, 4),)
    assert one(conn, """SELECT CONVERT_TIMEZONE('GMT','NEWZONE +2','2014-05-17 12:00:00') as newzone_plus_2,
        CONVERT_TIMEZONE('GMT','NEWZONE-2:15','2014-05-17 12:00:00') as newzone_minus_2_15,
        CONVERT_TIMEZONE('GMT','America/Los_Angeles+2','2014-05-17 12:00:00') as la_plus_2,
        CONVERT_TIMEZONE('GMT','GMT+2','2014-05-17 12:00:00') as gmt_plus_2""") == (
        dt.datetime(2014, 5, 17, 10), dt.datetime(2014, 5, 17, 14, 15), dt.datetime(2014, 5, 17, 10),
        dt.datetime(2014, 5, 17, 10))


def test_trunc_timestamp_returns_a_date_and_numbers_still_truncate(conn):
    """r_TRUNC_date: TRUNC(timestamp) is a DATE; r_TRUNC: TRUNC(number) keeps working."""
    conn.execute("create temp table event (eventid int, starttime timestamp)")
    conn.execute("insert into event values (1, '2008-01-25 14:30:00'), (2, '2008-01-26 19:00:00')")
    assert one(conn, "select trunc(starttime) from event order by eventid limit 1") == (dt.date(2008, 1, 25),)
    assert one(conn, "select trunc(111.86), trunc(111.86, 1)") == (Decimal("111"), Decimal("111.8"))


# ---------------------------------------------------------------- strings
def test_len(conn):
    """r_LEN: characters, not bytes; trailing spaces of a varchar count."""
    assert one(conn, "select octet_length('français'), len('français')") == (9, 8)
    assert one(conn, "select len('cat'), len('cat   ')") == (3, 6)


def test_charindex(conn):
    """r_CHARINDEX: 1-based position, 0 when absent."""
    assert one(conn, "select charindex('dog', 'fish')") == (0,)
    assert one(conn, "select charindex('fish', 'dogfish')") == (4,)


def test_strtol(conn):
    """r_STRTOL: every example of the page."""
    assert one(conn, "select strtol('0xf',16)") == (15,)
    assert one(conn, "select strtol('abcd1234',16)") == (2882343476,)
    assert one(conn, "select strtol('1234567', 10)") == (1234567,)
    assert one(conn, "select strtol('1234567', 8)") == (342391,)
    assert one(conn, "select strtol('110101', 2)") == (53,)
    assert one(conn, "select strtol('\\0', 2)") == (0,)


# ---------------------------------------------------------------- aggregates
WINSALES = """
CREATE TEMP TABLE winsales(salesid int, dateid date, sellerid int, buyerid char(10), qty int, qty_shipped int);
INSERT INTO winsales VALUES
  (30001, '8/2/2003', 3, 'b', 10, 10), (10001, '12/24/2003', 1, 'c', 10, 10),
  (10005, '12/24/2003', 1, 'a', 30, null), (40001, '1/9/2004', 4, 'a', 40, null),
  (10006, '1/18/2004', 1, 'c', 10, null), (20001, '2/12/2004', 2, 'b', 20, 20),
  (40005, '2/12/2004', 4, 'a', 10, 10), (20002, '2/16/2004', 2, 'c', 20, 20),
  (30003, '4/18/2004', 3, 'b', 15, null), (30004, '4/18/2004', 3, 'b', 20, null),
  (30007, '9/7/2004', 3, 'c', 30, null);
"""  # c_Window_functions: "Sample table for window function examples"

SELLERS_4337 = [380, 380, 1178, 1178, 1178, 2731, 8117, 12905, 32043, 32043, 32043, 32432, 32432, 38669, 38750,
                41498, 45676, 46324, 47188, 47188, 48294]   # r_LISTAGG: the seller IDs of event 4337


def test_listagg(conn):
    """r_LISTAGG: ordered, DISTINCT, and multi-key WITHIN GROUP examples."""
    conn.execute("create temp table sales (salesid int, eventid int, sellerid int)")
    with conn.cursor() as cur:
        cur.executemany("insert into sales values (%s, 4337, %s)", list(enumerate(reversed(SELLERS_4337))))
    assert one(conn, "select listagg(sellerid, ', ') within group (order by sellerid) from sales "
                     "where eventid = 4337") == (
        "380, 380, 1178, 1178, 1178, 2731, 8117, 12905, 32043, 32043, 32043, 32432, 32432, 38669, 38750, 41498, "
        "45676, 46324, 47188, 47188, 48294",)
    assert one(conn, "select listagg(distinct sellerid, ', ') within group (order by sellerid) from sales "
                     "where eventid = 4337") == (
        "380, 1178, 2731, 8117, 12905, 32043, 32432, 38669, 38750, 41498, 45676, 46324, 47188, 48294",)
    conn.execute(WINSALES)
    assert one(conn, "select listagg(dateid,'|') within group (order by sellerid desc,salesid asc) "
                     "from winsales where buyerid  = 'b'") == ("2003-08-02|2004-04-18|2004-04-18|2004-02-12",)
    # "NULL values and empty strings are ignored"; no delimiter by default.
    assert one(conn, "select listagg(v) within group (order by v) from (values ('b'), (''), (null), ('a')) t(v)") == (
        "ab",)


def test_listagg_window(conn):
    """r_WF_LISTAGG: LISTAGG ... WITHIN GROUP (ORDER BY ...) OVER (...)."""
    conn.execute(WINSALES)
    assert rows(conn, "select listagg(sellerid) within group (order by sellerid) over() from winsales") == [
        ("11122333344",)] * 11
    assert rows(conn, "select listagg(sellerid) within group (order by dateid) over () as seller from winsales "
                      "where buyerid = 'b'") == [("3233",)] * 4
    assert rows(conn, "select listagg(dateid,',') within group (order by sellerid desc,salesid asc) over () as dates "
                      "from winsales where buyerid  = 'b'") == [("2003-08-02,2004-04-18,2004-04-18,2004-02-12",)] * 4


def test_median_equals_percentile_cont_and_top_distinct(conn):
    """r_MEDIAN: MEDIAN = PERCENTILE_CONT(0.5); the example also uses SELECT TOP 10 DISTINCT."""
    pairs = [(1, 1), (2, 3), (5, 2), (9, 4), (12, 1), (16, 1), (19, 2), (19, 3), (22, 2), (25, 2)]
    conn.execute("create temp table sales (sellerid int, qtysold smallint)")
    with conn.cursor() as cur:
        cur.executemany("insert into sales values (%s, %s)", pairs + pairs + [(30, 1)])
    got = rows(conn, """select top 10 distinct sellerid, qtysold,
        percentile_cont(0.5) within group (order by qtysold),
        median (qtysold)
        from sales
        group by sellerid, qtysold order by 1, 2""")
    assert [(s, q, float(p), float(m)) for s, q, p, m in got] == [(s, q, float(q), float(q)) for s, q in pairs]
    assert one(conn, "select median(qtysold) from sales") == (2.0,)


def test_approximate_count_distinct(conn):
    """r_COUNT: APPROXIMATE COUNT(DISTINCT x) has a relative error of around 2% (here: exact)."""
    conn.execute("create temp table sales (pricepaid numeric(8,2))")
    conn.execute("insert into sales select (g % 4528) + 0.5 from generate_series(1, 20000) g")
    exact = one(conn, "select count(distinct pricepaid) from sales")[0]
    approx = one(conn, "select approximate count(distinct pricepaid) from sales")[0]
    assert exact == 4528 and abs(approx - exact) <= 0.02 * exact


def test_select_top(conn):
    """r_SELECT_list: TOP n behaves like LIMIT n, in the outer query and in a subquery."""
    conn.execute("create temp table t (a int)")
    conn.execute("insert into t select generate_series(1, 50)")
    assert rows(conn, "select top 3 a from t order by a desc") == [(50,), (49,), (48,)]
    assert one(conn, "select count(*) from (select top 10 * from t) s") == (10,)
    assert rows(conn, "select a from t where a in (select top 2 a from t order by a) order by 1") == [(1,), (2,)]
    assert one(conn, "select top from (select 7 as top) s") == (7,)   # a column named top is left alone


# ---------------------------------------------------------------- MERGE
def test_merge_documented_example(conn):
    """r_MERGE: update + insert, then delete + insert; PostgreSQL 15 runs Redshift's form as written."""
    conn.execute("CREATE TEMP TABLE target (id INT, name CHAR(10))")
    conn.execute("CREATE TEMP TABLE source (id INT, name CHAR(10))")
    conn.execute("INSERT INTO target VALUES (101, 'Bob'), (102, 'John'), (103, 'Susan')")
    conn.execute("INSERT INTO source VALUES (102, 'Tony'), (103, 'Alice'), (104, 'Bill')")
    conn.execute("""MERGE INTO target USING source ON target.id = source.id
        WHEN MATCHED THEN UPDATE SET id = source.id, name = source.name
        WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)""")
    assert rows(conn, "SELECT id, rtrim(name) FROM target ORDER BY id") == [
        (101, "Bob"), (102, "Tony"), (103, "Alice"), (104, "Bill")]
    conn.execute("INSERT INTO source VALUES (105, 'David')")
    conn.execute("""MERGE INTO target USING source ON target.id = source.id
        WHEN MATCHED THEN DELETE
        WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)""")
    assert rows(conn, "SELECT id, rtrim(name) FROM target ORDER BY id") == [(101, "Bob"), (105, "David")]


def test_merge_fails_when_a_target_row_matches_several_source_rows(conn):
    """r_MERGE usage notes: "Found multiple matches to update the same tuple" (PostgreSQL: 21000)."""
    conn.execute("CREATE TEMP TABLE target (id INT, name CHAR(10))")
    conn.execute("CREATE TEMP TABLE source (id INT, name CHAR(10))")
    conn.execute("INSERT INTO target VALUES (1, 'Bob'), (2, 'John')")
    conn.execute("INSERT INTO source VALUES (1, 'Tony'), (1, 'Alice'), (3, 'Bill')")
    with pytest.raises(psycopg.errors.CardinalityViolation):
        conn.execute("""MERGE INTO target USING source ON target.id = source.id
            WHEN MATCHED THEN UPDATE SET id = source.id, name = source.name
            WHEN NOT MATCHED THEN INSERT VALUES (source.id, source.name)""")
    assert rows(conn, "SELECT id FROM target ORDER BY id") == [(1,), (2,)]


def test_merge_remove_duplicates(conn):
    """r_MERGE, REMOVE DUPLICATES (simplified mode): matched rows replaced (duplicates collapse), others inserted."""
    conn.execute("CREATE TEMP TABLE target (id INT, name CHAR(10))")
    conn.execute("CREATE TEMP TABLE source (id INT, name CHAR(10))")
    conn.execute("INSERT INTO target VALUES (30, 'Tony'), (11, 'Alice'), (23, 'Bill'), (23, 'David')")
    conn.execute("INSERT INTO source VALUES (23, 'Sue'), (25, 'Mary'), (11, 'Paul')")
    conn.execute("MERGE INTO target USING source ON target.id = source.id REMOVE DUPLICATES")
    assert sorted(rows(conn, "SELECT id, rtrim(name) FROM target")) == [
        (11, "Paul"), (23, "Sue"), (25, "Mary"), (30, "Tony")]


# ---------------------------------------------------------------- catalog views
def test_pg_table_def_follows_the_search_path_and_shows_the_sort_key(endpoint, conn, pg_server):
    """r_PG_TABLE_DEF: only schemas on the search_path; sortkey is the column's position in the key; encoding is character(32)."""
    schema = unique("demo")
    conn.execute(f"create schema {schema}")
    conn.execute(f"create table {schema}.demotable (one int)")
    assert rows(conn, "select * from pg_table_def where tablename = 'demotable'") == []
    conn.execute(f"set search_path to '$user', 'public', '{schema}'")
    assert rows(conn, "select * from pg_table_def where tablename = 'demotable'") == [
        (schema, "demotable", "one", "integer", "none".ljust(32), False, 0, False)]
    conn.execute(f"create table {schema}.lineorder_compound (lo_orderkey integer not null, lo_custkey integer "
                 f"not null, lo_note varchar(10)) compound sortkey (lo_orderkey, lo_custkey)")
    query = ('select "column", type, encoding, distkey, sortkey, "notnull" from pg_table_def '
             "where tablename = 'lineorder_compound' and sortkey <> 0")
    deadline = time.monotonic() + 20
    while not rows(conn, query) and time.monotonic() < deadline:
        time.sleep(0.2)   # the endpoint builds the sort-key index after the commit, in the background
    assert rows(conn, query) == [("lo_orderkey", "integer", "none".ljust(32), False, 1, True),
                                 ("lo_custkey", "integer", "none".ljust(32), False, 2, True)]
    assert one(conn, "select count(*) from pg_catalog.pg_table_def where tablename = 'lineorder_compound'") == (3,)


def test_svv_table_info_lists_non_empty_user_tables(conn):
    """r_SVV_TABLE_INFO: user tables only, none empty; "table" is quoted (a reserved word)."""
    name = unique("info")
    conn.execute(f"create table {name} (a int, b varchar(20)) sortkey (a)")
    query = f'select "table", schema, tbl_rows, size, encoded from svv_table_info where "table" = \'{name}\''
    assert rows(conn, query) == []
    conn.execute(f"insert into {name} select g, 'x' from generate_series(1, 1000) g")
    assert rows(conn, query) == [(name, "public", 1000, 1, "N")]
    assert one(conn, "select count(*) from svv_table_info where schema in ('pg_catalog', 'information_schema')") == (0,)


# ---------------------------------------------------------------- installation
def test_compat_schema_is_created_for_a_database_owner_that_is_not_a_superuser(endpoint, pg_server):
    """The compat schema needs only the database owner's CREATE privilege (no superuser).

    The application user (not a superuser, see test_security) creates a database of its own;
    its first session there gets the schema, created over the endpoint's connection as that same user.
    """
    db = unique("compatdb")
    with pg(pg_server) as owner:
        owner.execute(f"create database {db}")
    try:
        kwargs = {**endpoint.redshift_connect_kwargs(), "database": db}
        with redshift_connector.connect(**kwargs, timeout=30) as rc:
            cur = rc.cursor()
            cur.execute("select nvl2(null, 1, 2), datediff(day, '2009-01-01', '2009-03-23'), strtol('ff', 16), "
                        "current_setting('is_superuser')")
            assert cur.fetchone() == [2, 81, 255, "off"]
        with psycopg.connect(pg_server.dsn(db), autocommit=True) as direct:
            owner_role = direct.execute("select nspowner::regrole::text from pg_namespace "
                                        "where nspname = 'redshift_compat'").fetchone()
        assert owner_role == (pg_server.user,)
        # A database dropped and re-created under the same name gets the schema again in its next session.
        with pg(pg_server) as owner:
            owner.execute(f"drop database {db} with (force)")
            owner.execute(f"create database {db}")
        with psycopg.connect(endpoint.dsn(db), autocommit=True) as again:
            assert again.execute("select datediff(week,'2009-01-01','2009-12-31')").fetchone() == (52,)
    finally:
        with pg(pg_server) as owner:
            owner.execute(f"drop database if exists {db} with (force)")
