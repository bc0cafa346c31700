"""COPY as Redshift documents it, through the endpoint (real PostgreSQL, endpoint process, moto server).

Each test names the documentation page it follows; where the page has an example, the test is
that example (input, COPY, expected rows).
"""

from __future__ import annotations

import bz2
import json
import uuid

import psycopg
import pytest
import redshift_connector

from redshift_endpoint.loader import WORKER_FETCH_BYTES
from tests.endpoint.endpoint_helpers import CREDS, pg, rows, run, unique

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------- no row lost across chunks

def test_csv_ignoreheader_object_larger_than_a_worker_unit_loses_no_row(rs, bucket, pg_server):
    """CSV IGNOREHEADER 1 on an object larger than a chunk skips one header line, not one per chunk.

    The object is larger than what a worker converts whole, so the relay splits it into chunks;
    every row has a quoted field with a newline, so chunk ends also land inside quotes.
    """
    table = unique("big")
    run(rs, f"CREATE TABLE {table} (id INTEGER, body VARCHAR(400), n INTEGER)")
    pad = "x" * 180
    lines = ["id,body,n"]
    i = 0
    size = 0
    while size <= WORKER_FETCH_BYTES + (1 << 20):
        line = f'{i},"row {i}\n{pad}, ""q""",{i % 7}'
        lines.append(line)
        size += len(line) + 1
        i += 1
    total = i
    bucket.put("big/data.csv", ("\n".join(lines) + "\n").encode())
    cur = run(rs, f"COPY {table} FROM '{bucket.url('big/')}' credentials '{CREDS}' CSV IGNOREHEADER 1")
    assert cur.rowcount == total
    expected_body = f"'row ' || id || E'\\n{pad}, \"q\"'"
    got = rows(pg_server, f"SELECT count(*), count(DISTINCT id), min(id), max(id), sum(id), "
                          f"count(*) FILTER (WHERE body = {expected_body} AND n = id % 7) FROM {table}")[0]
    assert got == (total, total, 0, total - 1, total * (total - 1) // 2, total)


# ---------------------------------------------------------------- DATEFORMAT and TIMEFORMAT strings

def test_dateformat_and_timeformat_strings(rs, bucket, pg_server):
    """"DATEFORMAT and TIMEFORMAT strings": the page's examples, and a day-first DD/MM/YYYY."""
    table = unique("dates")
    run(rs, f"CREATE TABLE {table} (k INT, d DATE, t TIMESTAMP)")
    bucket.put("d/us.csv", b"1,03/31/2003,03.31.2003 18:45:05\n2,03/31/2003,03.31.2003 18:45:05.123456\n")
    bucket.put("e/eu.csv", b"3|02/11/2018|02/11/2018 01:05 PM\n")
    run(rs, f"COPY {table} FROM '{bucket.url('d/')}' credentials '{CREDS}' CSV "
            f"DATEFORMAT AS 'MM/DD/YYYY' TIMEFORMAT AS 'MM.DD.YYYY HH:MI:SS'")
    run(rs, f"COPY {table} FROM '{bucket.url('e/')}' credentials '{CREDS}' "
            f"DATEFORMAT 'DD/MM/YYYY' TIMEFORMAT 'DD/MM/YYYY HH12:MI AM'")
    got = rows(pg_server, f"SELECT k, d::text, t::text FROM {table} ORDER BY k")
    assert got == [(1, "2003-03-31", "2003-03-31 18:45:05"), (2, "2003-03-31", "2003-03-31 18:45:05.123456"),
                   (3, "2018-11-02", "2018-11-02 13:05:00")]


def test_acceptanydate_loads_null_for_dates_that_do_not_match(rs, bucket, pg_server):
    """"Data conversion parameters", ACCEPTANYDATE: 00/00/00 loads without error, as NULL."""
    table = unique("anyd")
    run(rs, f"CREATE TABLE {table} (k INT, d DATE)")
    bucket.put("anyd/a.txt", b"1|00/00/00\n2|31/12/18\n")
    run(rs, f"COPY {table} FROM '{bucket.url('anyd/')}' credentials '{CREDS}' ACCEPTANYDATE DATEFORMAT 'DD/MM/YY'")
    assert rows(pg_server, f"SELECT k, d::text FROM {table} ORDER BY k") == [(1, None), (2, "2018-12-31")]


def test_default_date_format_rejects_other_orders(rs, bucket, pg_server):
    """No DATEFORMAT: the default is 'YYYY-MM-DD' (Data conversion parameters), not a guess."""
    table = unique("dflt")
    run(rs, f"CREATE TABLE {table} (d DATE)")
    bucket.put("f/a.txt", b"2018-11-02\n11/02/2018\n")
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('f/')}' credentials '{CREDS}'")
    run(rs, f"COPY {table} FROM '{bucket.url('f/')}' credentials '{CREDS}' MAXERROR 2")
    assert rows(pg_server, f"SELECT d::text FROM {table}") == [("2018-11-02",)]
    err = rows(pg_server, f"SELECT line_number, colname, err_code FROM stl_load_errors WHERE tablename = '{table}'")
    assert set(err) == {(2, "d", 1205)}


# ---------------------------------------------------------------- refused before PostgreSQL parses it

@pytest.mark.parametrize("option, named, sqlstate", [
    ("MAXERROR 'ten'", "MAXERROR", "42601"),
    ("TIMEFORMAT 'epochmilisecs'", "TIMEFORMAT", "42601"),
    ("EXPLICIT_IDS", "EXPLICIT_IDS", "0A000"),
    ("FORMAT AS PARQUET", "PARQUET", "0A000"),
])
def test_bad_or_unsupported_copy_is_answered_without_postgres_seeing_the_secret(endpoint, bucket, pg_server,
                                                                                  option, named, sqlstate):
    secret = f"secret-{uuid.uuid4().hex}"
    creds = f"aws_access_key_id=sparkify-local-key;aws_secret_access_key={secret}"
    table = unique("t")
    sql = f"COPY {table} FROM '{bucket.url('x/')}' credentials '{creds}' JSON 'auto' {option}"
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        # No table: the refusal does not depend on the target (nothing is looked up or fetched).
        for prepare in (False, True):   # simple Query, then Parse/Bind/Execute
            with pytest.raises(psycopg.Error) as err:
                c.execute(sql, prepare=prepare)
            assert err.value.sqlstate == sqlstate and named in str(err.value)
            assert secret not in str(err.value)
        assert c.execute("SELECT 1").fetchone() == (1,)   # the session goes on
    assert secret not in pg_server.log_file.read_text(errors="replace")
    assert secret not in endpoint.log_file.read_text(errors="replace")


def test_copy_from_a_local_file_is_refused(endpoint):
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        with pytest.raises(psycopg.Error, match="LOAD source is not supported"):
            c.execute("COPY t FROM '/etc/passwd'")


# ---------------------------------------------------------------- JSON arrays, JSONPaths rules

CATEGORY_DDL = "CREATE TABLE {name} (catid SMALLINT, catgroup VARCHAR(10), catname VARCHAR(10), catdesc VARCHAR(50))"
# "COPY examples", Load from JSON data: category_array_data.json and category_array_jsonpath.json.
CATEGORY_ARRAYS = b"""[1,"Sports","MLB","Major League Baseball"]
[2,"Sports","NHL","National Hockey League"]
[3,"Sports","NFL","National Football League"]
[4,"Sports","NBA","National Basketball Association"]
[5,"Concerts","Classical","All symphony, concerto, and choir concerts"]
"""


def test_json_arrays_with_jsonpaths_file(rs, bucket, pg_server):
    table = unique("category")
    run(rs, CATEGORY_DDL.format(name=table))
    bucket.put("cat/category_array_data.json", CATEGORY_ARRAYS)
    bucket.put("category_array_jsonpath.json", b'{"jsonpaths": ["$[0]", "$[1]", "$[2]", "$[3]"]}')
    run(rs, f"COPY {table} FROM '{bucket.url('cat/category_array_data.json')}' credentials '{CREDS}' "
            f"JSON '{bucket.url('category_array_jsonpath.json')}'")
    assert rows(pg_server, f"SELECT * FROM {table} ORDER BY catid") == [
        (1, "Sports", "MLB", "Major League Baseball"), (2, "Sports", "NHL", "National Hockey League"),
        (3, "Sports", "NFL", "National Football League"), (4, "Sports", "NBA", "National Basketball Association"),
        (5, "Concerts", "Classical", "All symphony, concerto, and choir concerts")]


@pytest.mark.parametrize("paths, message", [
    (["$[0]", "$['catgroup']", "$.catname", "$[3]"], "Invalid JSONPath format"),   # mixed notations
    (["$[0]", "$[1]", "$[2]", "$[4]"], "Not an array or index out of range"),       # past the end
    (["$[0]", "$[1]", "$[2]", "$[*]"], "wildcards"),
    (["$[0]", "$[1]", "$[2]", 3], "not a string"),
    ('{"jsonpaths": ["$[0]", ', "not valid JSON"),
])
def test_invalid_jsonpaths_fail_the_copy_and_load_nothing(rs, bucket, pg_server, paths, message):
    table = unique("category")
    run(rs, CATEGORY_DDL.format(name=table))
    bucket.put("cat/data.json", CATEGORY_ARRAYS)
    body = paths if isinstance(paths, str) else json.dumps({"jsonpaths": paths})
    bucket.put("bad_paths.json", body.encode())
    with pytest.raises(redshift_connector.ProgrammingError) as err:
        run(rs, f"COPY {table} FROM '{bucket.url('cat/')}' credentials '{CREDS}' JSON '{bucket.url('bad_paths.json')}'")
    assert err.value.args[0]["C"] == "XX000" and message in err.value.args[0]["M"]
    assert rows(pg_server, f"SELECT count(*) FROM {table}") == [(0,)]


# ---------------------------------------------------------------- system tables on a fresh database

def test_stl_load_errors_exists_before_the_first_load(endpoint, pg_server, bucket):
    dbname = f"fresh_{uuid.uuid4().hex[:8]}"
    with pg(pg_server) as c:
        c.execute(f"CREATE DATABASE {dbname}")
    try:
        with psycopg.connect(endpoint.dsn(dbname), autocommit=True) as c:
            assert c.execute("SELECT count(*) FROM stl_load_errors").fetchone() == (0,)
            # Dropped behind the endpoint's back (a reset that drops every table): a failed load
            # creates it again rather than losing its error rows.
            c.execute("DROP TABLE stl_load_errors")
            c.execute("CREATE TABLE t (a INT)")
            bucket.put("bad/a.json", b'{"a": "x"}\n')
            with pytest.raises(psycopg.errors.InternalError_, match="Load into table 't' failed"):
                c.execute(f"COPY t FROM '{bucket.url('bad/')}' credentials '{CREDS}' JSON 'auto'")
            assert c.execute("SELECT line_number, colname FROM stl_load_errors").fetchall() == [(1, "a")]
    finally:
        with pg(pg_server) as c:
            c.execute(f"DROP DATABASE {dbname} WITH (FORCE)")


# ---------------------------------------------------------------- other data conversion / load parameters

def test_escape_example(rs, bucket, pg_server):
    """"Data conversion parameters", ESCAPE: the page's pipe-delimited example (rows 1-3)."""
    table = unique("esc")
    run(rs, f"CREATE TABLE {table} (k INT, v VARCHAR(100))")
    bucket.put("esc/data.txt", b"1|The quick brown fox\\\njumped over the lazy dog.\n2| A\\\\B\\\\C\n3| A \\| B \\| C\n")
    # IAM_ROLE as in the page's examples: the endpoint uses its default credentials (moto's dummies).
    run(rs, f"COPY {table} FROM '{bucket.url('esc/')}' IAM_ROLE 'arn:aws:iam::0123456789012:role/MyRedshiftRole' "
            f"ESCAPE")
    assert rows(pg_server, f"SELECT v FROM {table} ORDER BY k") == [
        ("The quick brown fox\njumped over the lazy dog.",), (" A\\B\\C",), (" A | B | C",)]
    # Without ESCAPE a backslash is data.
    run(rs, f"TRUNCATE {table}")
    bucket.put("noesc/data.txt", b"1|C:\\temp\\n\n")
    run(rs, f"COPY {table} FROM '{bucket.url('noesc/')}' credentials '{CREDS}'")
    assert rows(pg_server, f"SELECT v FROM {table}") == [("C:\\temp\\n",)]


def test_fillrecord_trimblanks_ignoreblanklines_null_default(rs, bucket, pg_server):
    table = unique("fill")
    run(rs, f"CREATE TABLE {table} (a VARCHAR(10), b VARCHAR(10), c INT)")
    bucket.put("fill/data.txt", b"apple  |orange|1\n\nbanana\n\\N|x  |\n")
    run(rs, f"COPY {table} FROM '{bucket.url('fill/')}' credentials '{CREDS}' FILLRECORD TRIMBLANKS IGNOREBLANKLINES")
    assert rows(pg_server, f"SELECT a, b, c FROM {table} ORDER BY a NULLS LAST") == [
        ("apple", "orange", 1), ("banana", "", None), (None, "x", None)]
    # Without IGNOREBLANKLINES and FILLRECORD the blank line is a record with too few fields.
    bucket.put("blank/data.txt", b"a|b|1\n\nc|d|2\n")
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('blank/')}' credentials '{CREDS}'")
    err = rows(pg_server, f"SELECT line_number, err_reason FROM stl_load_errors WHERE tablename = '{table}'")
    assert err == [(2, "Delimiter not found")]


def test_noload_checks_without_loading_and_ignoreallerrors(rs, bucket, pg_server):
    table = unique("nl")
    run(rs, f"CREATE TABLE {table} (a INT)")
    bucket.put("nl/data.json", b'{"a": 1}\n{"a": "x"}\n{"a": 3}\n')
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('nl/')}' credentials '{CREDS}' JSON 'auto' NOLOAD")
    run(rs, f"COPY {table} FROM '{bucket.url('nl/')}' credentials '{CREDS}' JSON 'auto' NOLOAD MAXERROR 2")
    assert rows(pg_server, f"SELECT count(*) FROM {table}") == [(0,)]
    run(rs, f"COPY {table} FROM '{bucket.url('nl/')}' credentials '{CREDS}' JSON 'auto' IGNOREALLERRORS")
    assert rows(pg_server, f"SELECT a FROM {table} ORDER BY a") == [(1,), (3,)]


def test_bzip2_quote_delimiter_encoding_access_keys(rs, bucket, pg_server):
    """"Data format parameters" (CSV QUOTE, DELIMITER, BZIP2), "Authorization parameters" (access keys)."""
    table = unique("bz")
    run(rs, f"CREATE TABLE {table} (a INT, b VARCHAR(5))")
    bucket.put("bz/data.csv.bz2", bz2.compress(b"1;%x;y%\n2;%%%q%\n"))
    run(rs, f"COPY {table} (a, b) FROM '{bucket.url('bz/')}' ACCESS_KEY_ID 'sparkify-local-key' "
            f"SECRET_ACCESS_KEY 'sparkify-local-secret' CSV QUOTE AS '%' DELIMITER ';' BZIP2 ENCODING UTF8 "
            f"COMPROWS 1000")
    assert rows(pg_server, f"SELECT a, b FROM {table} ORDER BY a") == [(1, "x;y"), (2, "%q")]


def test_roundec_example(rs, bucket, pg_server):
    """"Data conversion parameters", ROUNDEC: 20.259 into DECIMAL(8,2) is 20.25, with ROUNDEC 20.26."""
    table = unique("dec")
    run(rs, f"CREATE TABLE {table} (k INT, v DECIMAL(8,2))")
    bucket.put("dec/a.txt", b"1|20.259\n")
    bucket.put("decj/a.json", b'{"k": 2, "v": 20.259}\n')
    run(rs, f"COPY {table} FROM '{bucket.url('dec/')}' credentials '{CREDS}'")
    run(rs, f"COPY {table} FROM '{bucket.url('decj/')}' credentials '{CREDS}' JSON 'auto'")
    run(rs, f"COPY {table} FROM '{bucket.url('decj/')}' credentials '{CREDS}' JSON 'auto' ROUNDEC")
    assert rows(pg_server, f"SELECT k, v::text FROM {table} ORDER BY k, v") == [
        (1, "20.25"), (2, "20.25"), (2, "20.26")]


def test_invalid_utf8_is_a_load_error(rs, bucket, pg_server):
    """"Multibyte character load errors": without ACCEPTINVCHARS a record with invalid UTF-8 fails."""
    table = unique("utf")
    run(rs, f"CREATE TABLE {table} (k INT, v VARCHAR(10))")
    bucket.put("utf/a.txt", b"1|ok\n2|bad\xff\n")
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('utf/')}' credentials '{CREDS}'")
    err = rows(pg_server, f"SELECT line_number, err_code FROM stl_load_errors WHERE tablename = '{table}'")
    assert err == [(2, 1220)]


def test_acceptinvchars_replaces_each_invalid_byte(rs, bucket, pg_server):
    """"Data conversion parameters", ACCEPTINVCHARS: an invalid three-byte character with '^' is '^^^'."""
    table = unique("inv")
    run(rs, f"CREATE TABLE {table} (k INT, v VARCHAR(20))")
    bucket.put("inv/a.txt", b"1|a\xe2\x28\xa1b\n2|ok\n")
    bucket.put("invj/a.json", b'{"k": 3, "v": "c\xffd"}\n')
    run(rs, f"COPY {table} FROM '{bucket.url('inv/')}' credentials '{CREDS}' ACCEPTINVCHARS AS '^'")
    run(rs, f"COPY {table} FROM '{bucket.url('invj/')}' credentials '{CREDS}' JSON 'auto' ACCEPTINVCHARS")
    assert rows(pg_server, f"SELECT k, v FROM {table} ORDER BY k") == [(1, "a^(^b"), (2, "ok"), (3, "c?d")]
