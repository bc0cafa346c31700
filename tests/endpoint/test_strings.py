"""Redshift's string rules through the endpoint: each test is a Developer Guide example.

Every test names its page (https://docs.aws.amazon.com/redshift/latest/dg/<page>.html), runs the page's query
through the real endpoint in front of real PostgreSQL and compares with the page's result. Where an example
needs the TICKIT sample database, the rows the page shows are the input. Patterns are written as on the pages:
Redshift's string literals take backslash escapes, so ``'\\\\.'`` is the regular expression ``\\.``.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
import redshift_connector

pytestmark = pytest.mark.integration

EMAILS = ["Etiam.laoreet.libero@sodalesMaurisblandit.edu", "Suspendisse.tristique@nonnisiAenean.edu",
          "amet.faucibus.ut@condimentumegetvolutpat.ca", "sed@lacusUtnec.ca"]
PCRE = "'(?=[^ ]*[a-z])(?=[^ ]*[0-9])[^ ]+'"   # the pages' look-ahead pattern, "PCRE dialect"
WORDS = "'passwd7 plain A1234 a1234'"


@pytest.fixture
def users(conn):
    """The USERS rows the REGEXP pages show (userid order)."""
    conn.execute("create temp table users (userid int, email varchar(100))")
    with conn.cursor() as cur:
        cur.executemany("insert into users values (%s, %s)", list(enumerate(EMAILS, 1)))
    return conn


def one(conn, sql):
    return conn.execute(sql).fetchone()


def column(conn, sql):
    return [r[0] for r in conn.execute(sql).fetchall()]


# ---------------------------------------------------------------- CONCAT
def test_concat_takes_two_arguments_and_is_null_when_one_is(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_CONCAT.html: the examples, the NULL note, two arguments."""
    assert one(conn, "select concat('December 25, ', '2008')") == ("December 25, 2008",)
    assert one(conn, "select concat('Thursday, ', concat('December 25, ', '2008'))") == (
        "Thursday, December 25, 2008",)
    # "if one or both expressions is null, the result of the concatenation is null" (PostgreSQL's concat skips NULLs)
    assert one(conn, "select concat('a', null), concat(null, 'b'), concat(null, null)") == (None, None, None)
    conn.execute("create temp table venue (venuename varchar(100), venuecity varchar(30), venuestate char(2), "
                 "venueseats int)")
    conn.execute("insert into venue values ('Ballys Hotel', 'Las Vegas', 'NV', null), "
                 "('Bank of America Stadium', 'Charlotte', 'NC', 73298), ('Invesco Field', 'Denver', 'CO', 76125)")
    assert column(conn, "select concat(venuename, concat(' seats ', nvl(venueseats, 0))) as seating from venue "
                        "where venuestate = 'NV' or venuestate = 'NC' order by 1") == [
        "Ballys Hotel seats 0", "Bank of America Stadium seats 73298"]
    assert column(conn, "select concat(venuename, concat(' seats ', venueseats)) from venue "
                        "where venuename = 'Ballys Hotel'") == [None]
    assert column(conn, "select concat(concat(venuecity,', '),venuestate) from venue where venueseats > 75000") == [
        "Denver, CO"]
    # "To concatenate more than two expressions, use nested CONCAT functions": three are refused.
    with pytest.raises(psycopg.errors.UndefinedFunction, match="CONCAT takes exactly two"):
        conn.execute("select concat('Thursday, ', 'December 25, ', '2008')")


def test_concat_refusal_through_redshift_connector(endpoint):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_CONCAT.html: the refusal also reaches a prepared statement."""
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=60) as c:
        cur = c.cursor()
        with pytest.raises(redshift_connector.ProgrammingError, match="CONCAT takes exactly two"):
            cur.execute("select concat('a', 'b', 'c')")
        c.rollback()
        cur.execute("select concat('December 25, ', '2008')")
        assert cur.fetchone() == ["December 25, 2008"]


# ---------------------------------------------------------------- timestamps read as strings
def test_split_part_and_substring_read_a_timestamp_as_its_text(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/SPLIT_PART.html and r_SUBSTRING.html: LISTTIME examples.

    Both split or cut the TIMESTAMP column LISTTIME as the text '2008-03-05 12:25:29'.
    """
    conn.execute("create temp table listing (listid int, listtime timestamp)")
    conn.execute("insert into listing values (1, '2008-01-24 06:43:29'), (2, '2008-03-05 12:25:29'), "
                 "(3, '2008-11-01 07:35:33'), (4, '2008-09-26 05:43:12')")
    got = conn.execute("select listtime, split_part(listtime,'-',1) as year, split_part(listtime,'-',2) as month, "
                       "split_part(split_part(listtime,'-',3),' ',1) as day from listing order by listid").fetchall()
    assert [r[1:] for r in got] == [("2008", "01", "24"), ("2008", "03", "05"), ("2008", "11", "01"),
                                    ("2008", "09", "26")]
    assert got[0][0] == dt.datetime(2008, 1, 24, 6, 43, 29)   # the column itself is still a timestamp
    assert column(conn, "select substring(listtime, 6, 2) as month from listing order by listid") == [
        "01", "03", "11", "09"]
    assert column(conn, "select substring(listtime from 6 for 2) as month from listing order by listid") == [
        "01", "03", "11", "09"]
    assert conn.execute("select split_part(listtime,'-',2) as month, count(*) from listing "
                        "group by split_part(listtime,'-',2) order by 1, 2").fetchall() == [
        ("01", 1), ("03", 1), ("09", 1), ("11", 1)]
    # part: "Must be an integer greater than 0"; larger than the number of parts: an empty string.
    assert one(conn, "select split_part('a-b', '-', 3)") == ("",)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="greater than 0"):
        conn.execute("select split_part('a-b', '-', -1)")
    # The page's character-string usage notes keep working.
    assert one(conn, "select substring('caterpillar',6,4), substring('caterpillar',6,8), "
                     "substring('caterpillar',-2,6), substring('caterpillar',-5,4)") == ("pill", "pillar", "cat", "")


# ---------------------------------------------------------------- REGEXP_*
def test_regexp_substr(users):
    """https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_SUBSTR.html: every example of the page."""
    assert column(users, "SELECT regexp_substr(email,'@[^.]*') FROM users ORDER BY userid LIMIT 4") == [
        "@sodalesMaurisblandit", "@nonnisiAenean", "@condimentumegetvolutpat", "@lacusUtnec"]
    assert one(users, "SELECT regexp_substr('the fox', 'FOX', 1, 1, 'i')") == ("fox",)
    assert one(users, "SELECT regexp_substr('THE SECRET CODE IS THE LOWERCASE PART OF 1931abc0EZ.', '[a-z]+', "
                      "1, 1, 'c')") == ("abc",)
    assert one(users, f"SELECT regexp_substr({WORDS}, {PCRE}, 1, 2, 'p')") == ("a1234",)
    assert one(users, f"SELECT regexp_substr({WORDS}, {PCRE}, 1, 2, 'ip')") == ("A1234",)
    assert one(users, "select regexp_substr('This is a cat, this is a dog. This is a mouse.', "
                      "'this is a (\\\\w+)', 1, 2, 'ie')") == ("dog",)
    # "If the function can't match the regular expression to any characters in the string, it returns an
    # empty string" (the current page; PostgreSQL's regexp_substr gives NULL).
    assert one(users, "select regexp_substr('the fox', 'dog'), regexp_substr(null, 'dog')") == ("", None)
    # "If the pattern doesn't have a subexpression, REGEXP_SUBSTR ignores the 'e' parameter."
    assert one(users, "select regexp_substr('This is a cat', 'is a \\\\w+', 1, 1, 'e')") == ("is a cat",)


def test_regexp_count(users):
    """https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_COUNT.html: every example of the page."""
    assert one(users, "SELECT regexp_count('abcdefghijklmnopqrstuvwxyz', '[a-z]{3}')") == (8,)
    assert column(users, "SELECT regexp_count(email,'@[^.]*\\\\.(org|edu)')FROM users ORDER BY userid LIMIT 4") == [
        1, 1, 0, 0]
    assert one(users, "SELECT regexp_count('the fox', 'FOX', 1, 'i')") == (1,)
    assert one(users, f"SELECT regexp_count({WORDS}, {PCRE}, 1, 'p')") == (2,)
    assert one(users, f"SELECT regexp_count({WORDS}, {PCRE}, 1, 'ip')") == (3,)


def test_regexp_instr(users):
    """https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_INSTR.html: every example of the page."""
    assert column(users, "SELECT regexp_instr(email, '@[^.]*') FROM users ORDER BY userid LIMIT 4") == [
        21, 22, 17, 4]
    users.execute("create temp table venue (venueid int, venuename varchar(100))")
    users.execute("insert into venue values (1, 'The Home Depot Center'), (2, 'Ballys Hotel'), (3, 'Izod Center'), "
                  "(4, 'Wachovia Center'), (5, 'Air Canada Centre'), (6, 'Centre Court')")
    assert users.execute("SELECT venuename, regexp_instr(venuename,'[cC]ent(er|re)$') FROM venue "
                         "WHERE regexp_instr(venuename,'[cC]ent(er|re)$') > 0 ORDER BY venueid LIMIT 4").fetchall() == [
        ("The Home Depot Center", 16), ("Izod Center", 6), ("Wachovia Center", 10), ("Air Canada Centre", 12)]
    assert one(users, "SELECT regexp_instr('the fox', 'FOX', 1, 1, 0, 'i')") == (5,)
    assert one(users, f"SELECT regexp_instr({WORDS}, {PCRE}, 1, 2, 0, 'p')") == (21,)
    assert one(users, f"SELECT regexp_instr({WORDS}, {PCRE}, 1, 2, 0, 'ip')") == (15,)
    # option: "a nonzero value" gives the position after the match ('fox' ends at 7).
    assert one(users, "SELECT regexp_instr('the fox', 'FOX', 1, 1, 1, 'i'), "
                      "regexp_instr('the fox', 'FOX', 1, 1, 5, 'i')") == (8, 8)


def test_regexp_replace_replaces_every_occurrence(users):
    """https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_REPLACE.html: every example of the page."""
    assert column(users, "SELECT regexp_replace(email, '@.*\\\\.(org|gov|com|edu|ca)$') FROM users "
                         "ORDER BY userid LIMIT 4") == [
        "Etiam.laoreet.libero", "Suspendisse.tristique", "amet.faucibus.ut", "sed"]
    assert column(users, "SELECT regexp_replace(email, '@.*\\\\.[[:alpha:]]{2,3}', '@internal.company.com') "
                         "FROM users ORDER BY userid LIMIT 4") == [
        "Etiam.laoreet.libero@internal.company.com", "Suspendisse.tristique@internal.company.com",
        "amet.faucibus.ut@internal.company.com", "sed@internal.company.com"]
    assert one(users, "SELECT regexp_replace('the fox', 'FOX', 'quick brown fox', 1, 'i')") == (
        "the quick brown fox",)
    assert one(users, f"SELECT regexp_replace({WORDS}, {PCRE}, '[hidden]', 1, 'p')") == (
        "[hidden] plain A1234 [hidden]",)
    assert one(users, f"SELECT regexp_replace({WORDS}, {PCRE}, '[hidden]', 1, 'ip')") == (
        "[hidden] plain [hidden] [hidden]",)
    # "If either pattern or replace_string is NULL, the return is NULL."
    assert one(users, "SELECT regexp_replace('abc', 'b', null), regexp_replace('abc', null, 'x')") == (None, None)


def test_regexp_position_and_occurrence_rules(conn):
    """The argument descriptions of REGEXP_SUBSTR, REGEXP_COUNT, REGEXP_INSTR and REGEXP_REPLACE.

    https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_SUBSTR.html (and REGEXP_COUNT.html, REGEXP_INSTR.html,
    REGEXP_REPLACE.html): a position below 1 searches from the first character; past the end: '' (SUBSTR),
    0 (COUNT, INSTR), the source (REPLACE); an occurrence below 1 or above the length: NULL (SUBSTR), 0 (INSTR).
    """
    assert one(conn, "select regexp_substr('abcabc', 'b', 0), regexp_count('abcabc', 'b', -3), "
                     "regexp_instr('abcabc', 'b', 0), regexp_replace('abcabc', 'b', 'x', 0)") == ("b", 2, 2, "axcaxc")
    assert one(conn, "select regexp_substr('abc', 'b', 4), regexp_count('abc', 'b', 4), regexp_instr('abc', 'b', 4), "
                     "regexp_replace('abc', 'b', 'x', 4)") == ("", 0, 0, "abc")
    assert one(conn, "select regexp_substr('abcabc', 'b', 1, 0), regexp_substr('abc', 'b', 1, 4), "
                     "regexp_instr('abcabc', 'b', 1, 0), regexp_instr('abc', 'b', 1, 4)") == (None, None, 0, 0)
    # From a position: the second 'b' of 'abcabc' is the first from position 3; the default replacement is empty.
    assert one(conn, "select regexp_substr('abcabc', 'b.', 3), regexp_instr('abcabc', 'b', 3), "
                     "regexp_replace('abcabc', 'b', 'x', 3), regexp_replace('abcabc', 'b')") == ("bc", 5, "abcaxc", "acac")


def test_regexp_parameters_are_redshifts(conn):
    """The parameters of the REGEXP pages: c, i, e (SUBSTR, INSTR), p; other letters are errors.

    https://docs.aws.amazon.com/redshift/latest/dg/REGEXP_COUNT.html lists c, i and p only. PCRE constructs that
    PostgreSQL's engine would match differently (alternation: PCRE takes the first alternative that matches) are
    refused naming PCRE rather than answered differently.
    """
    assert one(conn, "select regexp_count('aAa', 'a', 1, 'c'), regexp_count('aAa', 'a', 1, 'i'), "
                     "regexp_count('aAa', 'a')") == (2, 3, 2)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='parameter "g"'):
        conn.execute("select regexp_replace('aa', 'a', 'b', 1, 'g')")   # PostgreSQL's "global" flag is not Redshift's
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='parameter "e"'):
        conn.execute("select regexp_count('ab', '(a)b', 1, 'e')")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="PCRE"):
        conn.execute("select regexp_substr('ab', 'a|ab', 1, 1, 'p')")
    assert one(conn, "select regexp_count('a|b', '[|]', 1, 'p')") == (1,)   # a bracketed '|' is no alternation
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="PCRE"):
        conn.execute("select regexp_count('a b', '\\\\bb', 1, 'p')")   # \b: a word boundary in PCRE, backspace in ARE
    with pytest.raises(psycopg.errors.UndefinedFunction, match="REGEXP_COUNT takes 2 to 4"):
        conn.execute("select regexp_count('a', 'a', 1, 'c', 1)")


# ---------------------------------------------------------------- COLLATE
def test_case_insensitive_column(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_examples.html: a case-insensitive column."""
    conn.execute("create temp table T1 ( col1 Varchar(20) collate case_insensitive )")
    conn.execute("insert into T1 values ('bob'), ('john'), ('Tom'), ('JOHN'), ('Bob')")
    assert sorted(column(conn, "select * from T1 where col1 = 'John'")) == ["JOHN", "john"]
    # Grouping and DISTINCT are case-insensitive too (r_CREATE_DATABASE, "Database collation").
    assert one(conn, "select count(distinct col1) from T1") == (3,)


def test_collate_function_and_case_sensitive_column(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_COLLATE.html: the page's example."""
    conn.execute("CREATE TEMP TABLE T ( col1 Varchar(20) COLLATE case_sensitive )")
    conn.execute("INSERT INTO T VALUES ('john'),('JOHN')")
    assert column(conn, "SELECT * FROM T WHERE col1 = 'john'") == ["john"]
    assert sorted(column(conn, "SELECT * FROM T WHERE collate(col1, 'case_insensitive') = 'john'")) == [
        "JOHN", "john"]
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="case_sensitive"):
        conn.execute("SELECT collate(col1, 'en_US') FROM T")


def test_mixed_collations_and_case_insensitive_patterns_are_refused(conn):
    """https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_DATABASE.html, "Database collation limitations".

    Comparing a case-insensitive with a case-sensitive column fails in Redshift ("Query with different collations
    is not supported yet") and fails here. LIKE and regular expressions on a case-insensitive value match
    without case in Redshift; PostgreSQL 15 refuses them on a nondeterministic collation: refused, never
    answered case-sensitively.
    """
    conn.execute("CREATE TEMP TABLE test (ci_col varchar(10) COLLATE case_insensitive, "
                 "cs_col varchar(10) COLLATE case_sensitive, cint int, cbigint bigint)")
    conn.execute("insert into test values ('Amazon', 'amazon', 1, 1)")
    with pytest.raises(psycopg.errors.IndeterminateCollation):
        conn.execute("SELECT ci_col = cs_col FROM test")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="LIKE"):
        conn.execute("SELECT count(*) FROM test WHERE ci_col LIKE 'AMA%'")
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="nondeterministic collations"):
        conn.execute("SELECT regexp_count(ci_col, 'a') FROM test")
    assert one(conn, "SELECT count(*) FROM test WHERE ci_col = 'AMAZON' AND cs_col = 'amazon'") == (1,)
