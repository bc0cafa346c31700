"""Redshift's date and time rules through the endpoint: each test is a Developer Guide example.

Every test names its page (https://docs.aws.amazon.com/redshift/latest/dg/<page>.html), runs the page's query
through the real endpoint in front of real PostgreSQL and compares with the page's result. Where an example
needs the TICKIT sample database, the rows the page shows are the input.
"""

from __future__ import annotations

import datetime as dt

import pytest
import redshift_connector

pytestmark = pytest.mark.integration

UTC = dt.UTC


def one(conn, sql):
    return conn.execute(sql).fetchone()


def rows(conn, sql):
    return conn.execute(sql).fetchall()


def test_dateadd_months_stop_at_the_month_end_but_years_move_feb_29_to_march_1(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_DATEADD_function.html (usage notes).

    April 30 + 1 month is May 30; 2016-02-29 + 12 months is 2017-02-28 but + 1 year is 2017-03-01.
    """
    assert one(conn, "select dateadd(month,1,'2008-04-30')") == (dt.datetime(2008, 5, 30),)
    assert one(conn, "select dateadd(month,12,'2016-02-29')") == (dt.datetime(2017, 2, 28),)
    assert one(conn, "select dateadd(year, 1, '2016-02-29')") == (dt.datetime(2017, 3, 1),)
    # The same rules on DATE and TIMESTAMP columns, and the page's other literal example.
    conn.execute("create temp table leap (d date, ts timestamp)")
    conn.execute("insert into leap values ('2016-02-29', '2016-02-29 10:30:00')")
    assert one(conn, "select dateadd(year, 1, d), dateadd(yr, 1, ts), dateadd(mon, 12, ts) from leap") == (
        dt.datetime(2017, 3, 1), dt.datetime(2017, 3, 1, 10, 30), dt.datetime(2017, 2, 28, 10, 30))
    assert one(conn, "select dateadd(month,18,'2008-02-28')") == (dt.datetime(2009, 8, 28),)


def test_dateadd_on_timetz_shows_utc(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_DATEADD_function.html (examples with a TIMETZ column)."""
    conn.execute("create temp table timetz_test (timetz_val timetz)")
    conn.execute("insert into timetz_test values ('04:00:00+00'), ('00:00:00.5550+00'), ('05:58:00+00')")
    assert rows(conn, "select dateadd(minute,5,timetz_val) as minplus5_tz from timetz_test") == [
        (dt.time(4, 5, tzinfo=UTC),), (dt.time(0, 5, 0, 555000, tzinfo=UTC),), (dt.time(6, 3, tzinfo=UTC),)]
    assert one(conn, "select dateadd(hour, 2, timetz '13:24:55 PST')") == (dt.time(23, 24, 55, tzinfo=UTC),)


def test_add_months_keeps_the_last_day_of_the_month(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_ADD_MONTHS.html and the DATEADD page's usage notes.

    March 31 + 1 month is April 30 (a shorter month), April 30 + 1 month is May 31 (the last day stays
    the last day, where DATEADD gives May 30); other days keep their number and their time of day.
    """
    assert one(conn, "select add_months('2008-03-31',1)") == (dt.datetime(2008, 4, 30),)
    assert one(conn, "select add_months('2008-04-30',1)") == (dt.datetime(2008, 5, 31),)
    assert one(conn, "select add_months('2008-01-01 05:07:30', 1)") == (dt.datetime(2008, 2, 1, 5, 7, 30),)
    # The page's CALDATE example: TRUNC(ADD_MONTHS(caldate, 12)) one year later, as dates.
    conn.execute("create temp table date (dateid int, caldate date)")
    conn.execute("insert into date select 1827 + d, pg_catalog.date '2008-01-01' + d from generate_series(0, 365) d")
    got = rows(conn, "select distinct trunc(add_months(caldate, 12)) as calplus12, trunc(caldate) as cal "
                     "from date order by 1 asc")
    assert len(got) == 366  # 2008 is a leap year: the page's "(365 rows)" is its DATE table's count
    assert got[:3] == [(dt.date(2009, 1, 1), dt.date(2008, 1, 1)), (dt.date(2009, 1, 2), dt.date(2008, 1, 2)),
                       (dt.date(2009, 1, 3), dt.date(2008, 1, 3))]
    # A negative number subtracts months (the integer argument's description).
    assert one(conn, "select add_months('2008-05-31', -1)") == (dt.datetime(2008, 4, 30),)


def test_decade_counts_from_the_year_1(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_Dateparts_for_datetime_functions.html (DECADE notes).

    Decade 1 is 0001-0009, decade 201 is 2000-2009: 1999 is in decade 200, 2010 in 202. The same page's
    CENTURY and MIL examples still hold.
    """
    assert one(conn, "select extract(decade from timestamp '1999-02-16 20:38:40')") == (200,)
    assert one(conn, "select extract(decade from timestamp '2000-02-16 20:38:40')") == (201,)
    assert one(conn, "select extract(decade from timestamp '2010-02-16 20:38:40')") == (202,)
    assert one(conn, "select date_part(decade, timestamp '2000-02-16 20:38:40'), "
                     "datepart(decades, date '0009-12-31'), date_part('dec', date '0010-01-01')") == (201, 1, 2)
    assert one(conn, "select extract (century from timestamp '2000-12-16 12:21:13'), "
                     "extract (century from timestamp '2001-12-16 12:21:13')") == (20, 21)
    assert one(conn, "select extract (mil from timestamp '2000-12-16 12:21:13'), "
                     "extract (mil from timestamp '2001-12-16 12:21:13')") == (2, 3)


def test_datediff_on_timetz(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_DATEDIFF_function.html (examples with a TIMETZ column)."""
    conn.execute("create temp table timetz_test (timetz_val timetz)")
    conn.execute("insert into timetz_test values ('04:00:00+00'), ('00:00:00.5550+00'), ('05:58:00+00')")
    assert rows(conn, "select datediff(hours, timetz '20:00:00 PST', timetz_val) as numhours from timetz_test") == [
        (0,), (-4,), (1,)]
    assert one(conn, "select datediff(hours, timetz '20:00:00 PST', timetz '00:58:00 EST') as numhours") == (1,)


def test_date_trunc_week_of_sales_matched_with_like(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_DATE_TRUNC.html: ``saletime like '2008-09%'``.

    LIKE reads the timestamp as its text, so only September's sales count; weeks start on Monday. The
    SALES rows are a few of September 2008 (and two outside it); the sums are those rows' sums.
    """
    conn.execute("create temp table sales (salesid int, saletime timestamp, pricepaid decimal(8,2))")
    sales = [(1, dt.datetime(2008, 8, 31, 23, 59, 59), 10), (2, dt.datetime(2008, 9, 1, 0, 0), 20),
             (3, dt.datetime(2008, 9, 7, 23, 0), 30), (4, dt.datetime(2008, 9, 8, 1, 0), 40),
             (5, dt.datetime(2008, 9, 30, 12, 0), 50), (6, dt.datetime(2008, 10, 1, 0, 0), 60)]
    with conn.cursor() as cur:
        cur.executemany("insert into sales values (%s, %s, %s)", sales)
    got = rows(conn, "select date_trunc('week', saletime), sum(pricepaid) from sales where "
                     "saletime like '2008-09%' group by date_trunc('week', saletime) order by 1")
    september = [s for s in sales if s[1].month == 9]
    expected: dict[dt.datetime, int] = {}
    for _, when, price in september:
        monday = dt.datetime.combine(when.date() - dt.timedelta(days=when.weekday()), dt.time())
        expected[monday] = expected.get(monday, 0) + price
    assert [(w, int(s)) for w, s in got] == sorted(expected.items())
    assert [w for w, _ in got] == [dt.datetime(2008, 9, 1), dt.datetime(2008, 9, 8), dt.datetime(2008, 9, 29)]
    # A DATE_TRUNC result matched with LIKE, and NOT LIKE, read the same text.
    assert one(conn, "select count(*) from sales where date_trunc('month', saletime) like '2008-09-01 00:00:00'") \
        == (len(september),)
    assert one(conn, "select count(*) from sales where saletime not like '2008-09%'") == (len(sales) - len(september),)


def test_the_rules_hold_for_redshift_connector(endpoint):
    """r_ADD_MONTHS and r_Dateparts_for_datetime_functions through the driver Airflow's provider uses
    (extended protocol, prepared statements)."""
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=60) as c:
        cur = c.cursor()
        cur.execute("select add_months('2008-04-30',1), extract(decade from timestamp '2000-02-16 20:38:40')")
        assert cur.fetchone() == [dt.datetime(2008, 5, 31), 201]
