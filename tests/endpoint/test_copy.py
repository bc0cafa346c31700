"""COPY FROM 's3://...' through the endpoint, against the real PostgreSQL and moto server."""

from __future__ import annotations

import gzip
import json
import re

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import (
    CREDS,
    STAGING_EVENTS_DDL,
    jsonl,
    jsonpaths,
    make_events,
    pg,
    run,
    unique,
)
from tests.real_sample import real_sample_dir

pytestmark = pytest.mark.integration


def count(pg_server, table: str) -> int:
    with pg(pg_server) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_jsonpaths_bracket_epochmillisecs(rs, bucket, pg_server):
    table = unique("ev")
    run(rs, STAGING_EVENTS_DDL.format(name=table))
    events = make_events(500)
    bucket.put("log_data/2018/11/2018-11-01-events.json", jsonl(events[:200]))
    bucket.put("log_data/2018/11/2018-11-02-events.json", jsonl(events[200:]))
    bucket.put("paths.json", jsonpaths("bracket"))
    run(rs, f"""
        COPY {table}
        FROM '{bucket.url("log_data/2018/11")}'
        credentials
        '{CREDS}'
        region 'us-east-1'
        FORMAT AS JSON '{bucket.url("paths.json")}'
        TIMEFORMAT 'epochmillisecs';
    """)
    with pg(pg_server) as c:
        rows = c.execute(f"SELECT count(*), min(ts), max(ts), count(*) FILTER (WHERE userid = ''),"
                         f" count(*) FILTER (WHERE artist IS NULL) FROM {table}").fetchone()
        sample = c.execute(f"SELECT artist, song, useragent FROM {table} WHERE iteminsession = 1 "
                           f"AND sessionid = 10").fetchone()
    assert rows[0] == 500
    assert str(rows[1]) == "2018-11-01 20:57:10.796000"
    assert str(rows[2]) == "2018-11-01 21:05:29.796000"
    assert rows[3] == sum(1 for e in events if e["userId"] == "")
    assert rows[4] == sum(1 for e in events if e["artist"] is None)
    e = events[1]
    assert sample == (e["artist"], e["song"], e["userAgent"])


def test_jsonpaths_dot_notation(rs, bucket, pg_server):
    table = unique("ev")
    run(rs, STAGING_EVENTS_DDL.format(name=table))
    bucket.put("d/events.json", jsonl(make_events(50)))
    bucket.put("paths.json", jsonpaths("dot"))
    run(rs, f"COPY {table} FROM '{bucket.url('d/')}' credentials '{CREDS}' "
            f"FORMAT AS JSON '{bucket.url('paths.json')}' TIMEFORMAT 'epochmillisecs'")
    assert count(pg_server, table) == 50


def test_pretty_printed_and_multi_object_gzip_auto(rs, bucket, pg_server):
    table = unique("songs")
    run(rs, f"CREATE TABLE {table} (song_id VARCHAR(18) PRIMARY KEY, title VARCHAR(MAX), duration FLOAT, "
            f"year INT, artist_latitude FLOAT)")
    pretty = json.dumps({"song_id": "S1", "title": "Pretty", "duration": 1.5, "year": 0}, indent=4)
    multi = '{"song_id": "S2", "title": "A", "year": 1969}{"song_id": "S3", "title": "", "extra": 1}\n' \
            '{"song_id": "S4",\n "title": "Multi\\nline",\n "artist_latitude": null}'
    bucket.put("song_data/A/pretty.json", pretty.encode())
    bucket.put("song_data/A/multi.json", multi.encode())
    bucket.put("song_data/B/gz.json.gz", gzip.compress(b'{"song_id": "S5", "title": "Zipped"}'))
    run(rs, f"COPY {table} FROM '{bucket.url('song_data/A')}' credentials '{CREDS}' JSON 'auto'")
    run(rs, f"COPY {table} FROM '{bucket.url('song_data/B')}' credentials '{CREDS}' JSON 'auto' GZIP")
    with pg(pg_server) as c:
        rows = dict(c.execute(f"SELECT song_id, title FROM {table}").fetchall())
        year = c.execute(f"SELECT year FROM {table} WHERE song_id = 'S2'").fetchone()[0]
    assert rows == {"S1": "Pretty", "S2": "A", "S3": "", "S4": "Multi\nline", "S5": "Zipped"}
    assert year == 1969


def test_auto_is_case_sensitive_ignorecase_is_not(rs, bucket, pg_server):
    table = unique("users")
    run(rs, f"CREATE TABLE {table} (userid VARCHAR(10), firstname VARCHAR(50))")
    bucket.put("u/users.json", b'{"userId": "7", "firstName": "Ann"}\n{"userid": "8", "firstname": "Bo"}')
    run(rs, f"COPY {table} FROM '{bucket.url('u/')}' credentials '{CREDS}' FORMAT AS JSON 'auto'")
    run(rs, f"COPY {table} FROM '{bucket.url('u/')}' credentials '{CREDS}' FORMAT AS JSON 'auto ignorecase'")
    with pg(pg_server) as c:
        rows = c.execute(f"SELECT userid, firstname FROM {table}").fetchall()
    # 'auto': only the lower-case keys match; 'auto ignorecase': both records match fully.
    assert sorted(rows, key=str) == sorted([(None, None), ("8", "Bo"), ("7", "Ann"), ("8", "Bo")], key=str)


def test_missing_prefix_is_an_error(rs, bucket):
    table = unique("t")
    run(rs, f"CREATE TABLE {table} (a INT)")
    with pytest.raises(redshift_connector.ProgrammingError, match="prefix 'nothing/here' does not exist"):
        run(rs, f"COPY {table} FROM '{bucket.url('nothing/here')}' credentials '{CREDS}' JSON 'auto'")


def test_unsupported_option_is_named(endpoint, bucket):
    table = unique("t")
    bucket.put("x/a.json", b'{"a": 1}')
    with psycopg.connect(endpoint.dsn(), autocommit=True) as c:
        c.execute(f"CREATE TABLE {table} (a INT)")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="EXPLICIT_IDS"):
            c.execute(f"COPY {table} FROM '{bucket.url('x/')}' credentials '{CREDS}' JSON 'auto' EXPLICIT_IDS")


def _load_errors(pg_server, table: str):
    with pg(pg_server) as c:
        return c.execute("SELECT filename, line_number, colname, raw_line, err_reason FROM stl_load_errors "
                         "WHERE tablename = %s ORDER BY line_number", (table,)).fetchall()


def test_malformed_line_fails_records_error_and_loads_nothing(rs, bucket, pg_server):
    table = unique("ev")
    run(rs, STAGING_EVENTS_DDL.format(name=table))
    run(rs, f"INSERT INTO {table} (auth) VALUES ('existing')")
    good = jsonl(make_events(5)).split(b"\n")
    body = b"\n".join(good[:3] + [b'{"artist": "broken", "auth": '] + good[3:])
    url = bucket.put("bad/events.json", body)
    bucket.put("paths.json", jsonpaths())
    rs.autocommit = False
    with pytest.raises(redshift_connector.ProgrammingError) as err:
        run(rs, f"COPY {table} FROM '{bucket.url('bad/')}' credentials '{CREDS}' "
                f"FORMAT AS JSON '{bucket.url('paths.json')}' TIMEFORMAT 'epochmillisecs'")
    rs.rollback()
    assert err.value.args[0]["C"] == "XX000"
    assert err.value.args[0]["M"] == (f"Load into table '{table}' failed. "
                                      "Check 'stl_load_errors' system table for details.")
    assert count(pg_server, table) == 1
    errors = _load_errors(pg_server, table)
    assert len(errors) == 1
    filename, line, _col, raw, reason = errors[0]
    assert (filename.strip(), line, raw) == (url, 4, '{"artist": "broken", "auth": ')
    assert "JSON" in reason


def test_maxerror_tolerates_bad_records_and_still_records_them(rs, bucket, pg_server):
    table = unique("nums")
    run(rs, f"CREATE TABLE {table} (id INT, name VARCHAR(5))")
    body = b'{"id": 1, "name": "a"}\n{"id": "x", "name": "b"}\n{"id": 3, "name": "toolong"}\nnot json\n' \
           b'{"id": 5, "name": "e"}'
    bucket.put("m/data.json", body)
    # "Data load operations": the load fails when it returns error_count errors or more.
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('m/')}' credentials '{CREDS}' JSON 'auto' MAXERROR 3")
    assert count(pg_server, table) == 0
    run(rs, f"COPY {table} FROM '{bucket.url('m/')}' credentials '{CREDS}' JSON 'auto' MAXERROR 4")
    with pg(pg_server) as c:
        assert c.execute(f"SELECT id, name FROM {table} ORDER BY id").fetchall() == [(1, "a"), (5, "e")]
    errors = _load_errors(pg_server, table)
    # 3 bad records from the failed load and 3 from the tolerated one.
    assert [(e[1], e[2]) for e in errors] == [(2, "id"), (2, "id"), (3, "name"), (3, "name"), (4, ""), (4, "")]


def test_truncatecolumns_blanksasnull_emptyasnull(rs, bucket, pg_server):
    table = unique("t")
    run(rs, f"CREATE TABLE {table} (k INT, a VARCHAR(3), b VARCHAR(10))")
    bucket.put("t/data.json", b'{"k": 1, "a": "abcdef", "b": ""}\n{"k": 2, "a": "  ", "b": "x"}')
    run(rs, f"COPY {table} FROM '{bucket.url('t/')}' credentials '{CREDS}' JSON 'auto' "
            f"TRUNCATECOLUMNS BLANKSASNULL EMPTYASNULL STATUPDATE OFF COMPUPDATE OFF")
    with pg(pg_server) as c:
        assert c.execute(f"SELECT k, a, b FROM {table} ORDER BY k").fetchall() == [(1, "abc", None),
                                                                                 (2, None, "x")]


def test_csv_ignoreheader_null_as_and_manifest(rs, bucket, pg_server):
    table = unique("t")
    run(rs, f"CREATE TABLE {table} (k INT, name VARCHAR(20), d DATE)")
    bucket.put("c/part1.csv", b'k,name,d\n1,"a, b",2018-11-01\n2,NULL,2018-11-02\n')
    bucket.put("c/part2.csv", b'k,name,d\n3,"say ""hi""",\n')
    manifest = {"entries": [{"url": bucket.url("c/part1.csv"), "mandatory": True},
                            {"url": bucket.url("c/part2.csv"), "mandatory": True}]}
    bucket.put("c.manifest", json.dumps(manifest).encode())
    run(rs, f"COPY {table} FROM '{bucket.url('c.manifest')}' credentials '{CREDS}' "
            f"CSV IGNOREHEADER 1 NULL AS 'NULL' DATEFORMAT 'auto' MANIFEST")
    with pg(pg_server) as c:
        rows = c.execute(f"SELECT k, name, d::text FROM {table} ORDER BY k").fetchall()
    assert rows == [(1, "a, b", "2018-11-01"), (2, None, "2018-11-02"), (3, 'say "hi"', None)]


def test_copy_in_a_transaction_with_psycopg_rolls_back(endpoint, bucket, pg_server):
    table = unique("t")
    bucket.put("r/a.json", b'{"a": 1}\n{"a": 2}')
    with psycopg.connect(endpoint.dsn()) as c:
        c.execute(f"CREATE TABLE {table} (a INT)")
        cur = c.execute(f"COPY {table} FROM '{bucket.url('r/')}' credentials '{CREDS}' JSON 'auto'")
        assert cur.rowcount == 2
        assert c.execute(f"SELECT sum(a) FROM {table}").fetchone()[0] == 3
        c.rollback()
        c.execute(f"CREATE TABLE {table} (a INT)")
        # Pipeline mode: two COPYs under one Sync, with the extended protocol.
        with c.pipeline():
            c.execute(f"COPY {table} FROM '{bucket.url('r/')}' credentials '{CREDS}' JSON 'auto'", prepare=True)
            c.execute(f"COPY {table} FROM '{bucket.url('r/')}' credentials '{CREDS}' JSON 'auto'", prepare=True)
        c.commit()
    assert count(pg_server, table) == 4


def test_sparkify_sample(rs, bucket, pg_server):
    sample = real_sample_dir()  # the generated fixtures above cover COPY without it
    for path in sample.rglob("*.json"):
        bucket.put(str(path.relative_to(sample)), path.read_bytes())
    events, songs = unique("staging_events"), unique("staging_songs")
    run(rs, STAGING_EVENTS_DDL.format(name=events))
    run(rs, f"""CREATE TABLE {songs} (num_songs INT, artist_id VARCHAR(32), artist_latitude FLOAT,
        artist_longitude FLOAT, artist_location VARCHAR(512), artist_name VARCHAR(512), song_id VARCHAR(32),
        title VARCHAR(512), duration FLOAT, year INT)""")
    run(rs, f"COPY {events} FROM '{bucket.url('log_data')}' credentials '{CREDS}' region 'us-west-2' "
            f"FORMAT AS JSON '{bucket.url('log_json_path.json')}' TIMEFORMAT 'epochmillisecs'")
    run(rs, f"COPY {songs} FROM '{bucket.url('song_data')}' credentials '{CREDS}' FORMAT AS JSON 'auto'")
    with pg(pg_server) as c:
        ev = c.execute(f"SELECT count(*), count(*) FILTER (WHERE page = 'NextSong'), count(DISTINCT userid) "
                       f"FILTER (WHERE userid <> ''), min(ts)::text FROM {events}").fetchone()
        so = c.execute(f"SELECT count(*), count(*) FILTER (WHERE artist_location = ''), "
                       f"count(*) FILTER (WHERE year = 0) FROM {songs}").fetchone()
    # Numbers from SCHEMA.md.
    assert ev == (8056, 6820, 97, "2018-11-01 20:57:10.796")
    assert so == (71, 28, 43)


def test_binary_and_csv_paths_load_the_same_values(rs, bucket, pg_server, endpoint):
    """A table of binary-encodable types goes as binary COPY; one numeric column sends it as CSV."""
    types = ("s VARCHAR(8), c CHAR(3), i SMALLINT, n INTEGER, b BIGINT, f DOUBLE PRECISION, ok BOOLEAN, "
             "t TIMESTAMP, z TIMESTAMPTZ")
    fast, slow = unique("bin"), unique("csv")
    run(rs, f"CREATE TABLE {fast} ({types})")
    run(rs, f"CREATE TABLE {slow} ({types}, pad NUMERIC(5, 2))")
    body = (b'{"s": "", "c": "ab", "i": 7, "n": "42", "b": 9007199254740993, "f": 0.1, "ok": true, '
            b'"t": 1541105830796, "z": 1541105830796}\n'
            b'{"s": null, "c": null, "i": 3.0, "n": -1, "b": "12", "f": "2.5", "ok": "no", "t": "", "z": null}\n'
            b'{"s": "\xc3\xa9t\xc3\xa9\\"q\\"", "f": 10, "ok": 1, "t": 1541105830796.5}\n'  # 8 bytes
            b'{"s": {"k": [1]}, "i": 40000}\n')
    bucket.put("eq/data.json", body)
    for table in (fast, slow):
        run(rs, f"COPY {table} FROM '{bucket.url('eq/')}' credentials '{CREDS}' JSON 'auto' "
                f"TIMEFORMAT 'epochmillisecs' MAXERROR 2")
    log = endpoint.log_file.read_text()
    assert re.search(rf"COPY {fast} FROM \S+ \(json, sent as binary\)", log)
    assert re.search(rf"COPY {slow} FROM \S+ \(json, sent as csv\)", log)
    cols = "s, c, i, n, b, f, ok, t, z"
    with pg(pg_server) as c:
        got = [c.execute(f"SELECT {cols} FROM {t} ORDER BY n NULLS LAST").fetchall() for t in (fast, slow)]
    assert got[0] == got[1]
    assert [r[:4] for r in got[0]] == [(None, None, 3, -1), ("", "ab ", 7, 42), ('été"q"', None, None, None)]
    assert [e[1:3] for e in _load_errors(pg_server, fast)] == [(4, "s")]  # 9 characters of JSON


def test_binary_copy_row_rejected_by_postgres_is_mapped_to_its_line(rs, bucket, pg_server):
    table = unique("nul")
    run(rs, f"CREATE TABLE {table} (k INT, s VARCHAR(10))")
    url = bucket.put("nul/data.json", b'{"k": 1, "s": "a"}\n\n{"k": 2, "s": "a\\u0000b"}\n')
    with pytest.raises(redshift_connector.ProgrammingError, match="Load into table"):
        run(rs, f"COPY {table} FROM '{bucket.url('nul/')}' credentials '{CREDS}' JSON 'auto'")
    assert count(pg_server, table) == 0
    (error,) = _load_errors(pg_server, table)
    assert (error[0].strip(), error[1]) == (url, 3)
