"""COPY parameters, DATEFORMAT/TIMEFORMAT strings, JSONPaths rules and chunking (endpoint unit tests).

Doc pages cited: "COPY parameter reference" (Data source / Authorization / Data format / Data
conversion / Data load operations), "DATEFORMAT and TIMEFORMAT strings", "Data format parameters"
(JSONPaths file, JSONPath expressions), "COPY from JSON format".
"""

from __future__ import annotations

import pytest

from redshift_endpoint import timefmt
from redshift_endpoint.convert import (
    INDEX_ERROR,
    JsonPathsError,
    convert_unit,
    parse_jsonpaths_file,
    split_chunks,
)
from redshift_endpoint.copy_parse import is_s3_copy, parse_copy
from redshift_endpoint.copy_spec import CopySyntaxError
from redshift_endpoint.load_spec import Column, LoadSpec
from redshift_endpoint.sql.translate import rewrite
from redshift_endpoint.tokens import tokenize

SECRET = "wJalrXUtnFEMI-very-secret"
HEAD = f"COPY t FROM 's3://b/p' credentials 'aws_access_key_id=AK;aws_secret_access_key={SECRET}' "


def sig(sql: str):
    return [t for t in tokenize(sql) if t.significant]


def parse(opts: str):
    return parse_copy(sig(HEAD + opts))


def refused(opts: str) -> CopySyntaxError:
    with pytest.raises(CopySyntaxError) as e:
        parse(opts)
    assert SECRET not in e.value.message
    return e.value


# ---------------------------------------------------------------- which statements the endpoint owns

@pytest.mark.parametrize("sql", [
    "COPY t FROM 's3://b/k'", "copy t from E's3://b/k'", "COPY t FROM 'S3://b/k'",
    "COPY t FROM '/etc/passwd'", "COPY t FROM PROGRAM 'cat /etc/passwd'", "COPY t FROM $$s3://b/k$$",
    "COPY t FROM STDIN CREDENTIALS 'aws_access_key_id=a;aws_secret_access_key=b'",
    "COPY t FROM s3bucket IAM_ROLE 'arn'", "COPY t (a, b) FROM 'dynamodb://T' READRATIO 50",
    "/* c */ COPY t FROM 'x'",
])
def test_redshift_copies_are_the_endpoints(sql):
    assert is_s3_copy(sig(sql))


@pytest.mark.parametrize("sql", [
    "COPY t FROM STDIN", "COPY t (a) FROM stdin WITH (FORMAT csv)", "COPY t TO STDOUT",
    "COPY (SELECT a FROM t) TO STDOUT", "SELECT 'COPY t FROM x'", "COPY region FROM STDIN",
    "COPY public.json (manifest) FROM STDIN WITH (FORMAT csv)", "COPY t TO STDOUT WITH CSV HEADER",
])
def test_postgres_own_copies_pass(sql):
    assert not is_s3_copy(sig(sql))


def test_unparseable_copy_never_reaches_postgres_as_text():
    """An invalid argument (MAXERROR 'ten') in a COPY that carries a secret key: refused, secret not echoed."""
    rw = rewrite(HEAD + "JSON 'auto' MAXERROR 'ten';")
    assert not rw.copies and SECRET not in rw.sql
    assert rw.sql.startswith("DO $redshift_copy$") and "MAXERROR" in rw.sql and rw.sql.endswith(";")
    for sql in ("COPY t FROM '/tmp/x' credentials 'aws_access_key_id=AK;aws_secret_access_key=" + SECRET + "'",
                "COPY FROM 's3://b' credentials '" + SECRET + "'",
                "COPY t FROM $$s3://b$$ credentials '" + SECRET + "'"):
        out = rewrite(sql).sql
        assert SECRET not in out and out.startswith("DO $redshift_copy$"), out


def test_refusal_quotes_user_text_safely():
    rw = rewrite("COPY t FROM 's3://b/p' DATEFORMAT 'x$redshift_copy$; DROP TABLE t; --'")
    assert rw.sql.startswith("DO $redshift_copy1$ ") and rw.sql.endswith(" END $redshift_copy1$")


# ---------------------------------------------------------------- parameters (COPY parameter reference)

def test_supported_parameters_parse():
    s = parse("FORMAT AS CSV QUOTE AS '''' DELIMITER AS '\\t' IGNOREHEADER AS 2 NULL AS 'nil' "
              "DATEFORMAT AS 'DD/MM/YYYY' TIMEFORMAT AS 'YYYY-MM-DD HH:MI:SS' BLANKSASNULL EMPTYASNULL "
              "TRUNCATECOLUMNS TRIMBLANKS FILLRECORD IGNOREBLANKLINES MAXERROR AS 7 REGION AS 'us-west-2' "
              "BZIP2 MANIFEST ENCODING UTF8 NOLOAD COMPROWS 100000 COMPUPDATE PRESET STATUPDATE OFF")
    assert (s.fmt, s.quote, s.delimiter, s.ignore_header, s.null_as) == ("csv", "'", "\t", 2, "nil")
    assert (s.dateformat, s.timeformat, s.max_error, s.region) == ("DD/MM/YYYY", "YYYY-MM-DD HH:MI:SS", 7,
                                                                   "us-west-2")
    assert s.blanks_as_null and s.empty_as_null and s.truncate_columns and s.trim_blanks and s.fill_record
    assert s.ignore_blank_lines and s.bzip2 and s.manifest and s.no_load
    assert parse("IGNOREALLERRORS JSON 'auto'").max_error > 10**9
    assert parse("MAXERROR 1000000 ESCAPE DELIMITER '|'").max_error == 100000   # "upper limit is 100000"
    assert parse("FORMAT JSON 's3://b/paths.json'").json_mode == "s3://b/paths.json"
    keys = parse_copy(sig("COPY t FROM 's3://b/p' ACCESS_KEY_ID 'AK' SECRET_ACCESS_KEY 'SK' SESSION_TOKEN 'T'"))
    assert keys.credentials == {"aws_access_key_id": "AK", "aws_secret_access_key": "SK", "token": "T"}
    role = parse_copy(sig("COPY t FROM 's3://b/p' IAM_ROLE default"))
    assert role.credentials == {"aws_iam_role": "default"}


@pytest.mark.parametrize("opts, named, code", [
    ("JSON 'auto' MAXERROR 'ten'", "MAXERROR", "42601"),
    ("TIMEFORMAT 'epochmilisecs'", "TIMEFORMAT", "42601"),
    ("TIMEFORMAT 'EPOCHMILLISECS'", "case-sensitive", "42601"),
    ("DATEFORMAT 'YYYY-MM-DD TZ'", "time zone", "42601"),
    ("IGNOREHEADER -1", "IGNOREHEADER", "42601"),
    ("COMPROWS 10", "COMPROWS", "42601"),
    ("FORMAT AS PARQUET", "PARQUET", "0A000"),
    ("FIXEDWIDTH 'a:1'", "FIXEDWIDTH", "0A000"),
    ("LZOP", "LZOP", "0A000"), ("ZSTD", "ZSTD", "0A000"), ("ENCRYPTED", "ENCRYPTED", "0A000"),
    ("EXPLICIT_IDS", "EXPLICIT_IDS", "0A000"), ("ACCEPTINVCHARS AS 'ab'", "ACCEPTINVCHARS", "42601"),
    ("REMOVEQUOTES", "REMOVEQUOTES", "0A000"),
    ("ENCODING UTF16", "ENCODING", "0A000"), ("JSON 'noshred'", "noshred", "0A000"),
    ("SOMETHINGELSE", "SOMETHINGELSE", "42601"),
    ("JSON 'auto' CSV", "CSV", "42601"),                # "options not supported with JSON"
    ("JSON 'auto' NULL AS 'x'", "NULL AS", "42601"),
    ("JSON 'auto' FILLRECORD", "FILLRECORD", "42601"),
    ("CSV ESCAPE", "ESCAPE", "42601"),                   # "CSV cannot be used with ... ESCAPE"
    ("QUOTE '\"'", "QUOTE", "42601"),                    # "QUOTE can be used only with CSV"
    ("MAXERROR 5 IGNOREALLERRORS", "IGNOREALLERRORS", "42601"),
    ("GZIP BZIP2", "BZIP2", "42601"),
    ("JSON 'sometimes'", "JSON", "42601"),
    ("DELIMITER 'ab'", "DELIMITER", "42601"),
    ("MAXERROR 1 MAXERROR 2", "MAXERROR", "42601"),
])
def test_refused_parameters_are_named(opts, named, code):
    err = refused(opts)
    assert named in err.message and err.code == code


def test_bad_credentials_are_refused_without_echoing_them():
    with pytest.raises(CopySyntaxError) as e:
        parse_copy(sig(f"COPY t FROM 's3://b/p' credentials 'aws_secret={SECRET}'"))
    assert SECRET not in e.value.message and "CREDENTIALS" in e.value.message


def test_non_s3_sources():
    with pytest.raises(CopySyntaxError, match="LOAD source is not supported"):
        parse_copy(sig("COPY t FROM '/tmp/data.csv'"))
    with pytest.raises(CopySyntaxError, match="dynamodb"):
        parse_copy(sig("COPY t FROM 'dynamodb://ProductCatalog' READRATIO 50"))


# ---------------------------------------------------------------- DATEFORMAT and TIMEFORMAT strings

@pytest.mark.parametrize("fmt, value, expected", [
    # The table of examples on "DATEFORMAT and TIMEFORMAT strings".
    ("MM/DD/YYYY", "03/31/2003", "2003-03-31"),
    ("MON DD, YYYY", "March 31, 2003", "2003-03-31"),
    ("MON-DD-YYYY", "Jan-01-1999", "1999-01-01"),
    # Day first (a common non-ISO order).
    ("DD/MM/YYYY", "02/11/2018", "2018-11-02"),
    # The default format, and a DATEFORMAT with time parts (ignored).
    (None, "2018-11-02", "2018-11-02"),
    ("YYYY-MM-DD HH:MI:SS", "2018-11-02 10:11:12", "2018-11-02"),
])
def test_dateformat(fmt, value, expected):
    assert timefmt.parse_date(fmt, value) == expected


@pytest.mark.parametrize("fmt, value, expected", [
    ("MM.DD.YYYY HH:MI:SS", "03.31.2003 18:45:05", "2003-03-31 18:45:05"),
    ("MM.DD.YYYY HH:MI:SS", "03.31.2003 18:45:05.123456", "2003-03-31 18:45:05.123456"),
    (None, "2009-01-12 14:15:57.119568", "2009-01-12 14:15:57.119568"),
    ("HH12:MI AM DD/MM/YYYY", "01:05 PM 02/11/2018", "2018-11-02 13:05:00"),
    ("HH24:MI DD/MM/YY", "23:59 02/11/18", "2018-11-02 23:59:00"),
])
def test_timeformat(fmt, value, expected):
    assert timefmt.parse_timestamp(fmt, value) == expected


@pytest.mark.parametrize("fmt, value", [
    ("DD/MM/YYYY", "31/02/2018"), ("DD/MM/YYYY", "2018-11-02"), (None, "11/02/2018"),
    ("MON DD, YYYY", "Foo 31, 2003"), (None, "2018-11-02 25:00:00"),
])
def test_values_that_do_not_match_are_errors(fmt, value):
    with pytest.raises(ValueError):
        (timefmt.parse_timestamp if fmt is None and ":" in value else timefmt.parse_date)(fmt, value)


def test_timestamptz_default_format_with_offset_and_utc_default():
    assert timefmt.parse_timestamptz("2018-11-01 10:00:00-8:00") == "2018-11-01 10:00:00-08:00"
    assert timefmt.parse_timestamptz("2018-11-01 10:00:00") == "2018-11-01 10:00:00+00:00"


def _date_spec(**kw) -> LoadSpec:
    cols = (Column("d", "date"), Column("t", "ts"))
    return LoadSpec(cols, fmt="csv", delimiter=",", **kw)


def test_csv_rows_with_dateformat_and_bad_values():
    spec = _date_spec(dateformat="DD/MM/YYYY", timeformat="DD/MM/YYYY HH:MI")
    res = convert_unit(spec, "s3://b/k", b"02/11/2018,02/11/2018 10:30\n31/02/2018,02/11/2018 10:30\n")
    assert res.data == b"2018-11-02,2018-11-02 10:30:00\n"
    assert [(e.line_number, e.colname, e.err_code) for e in res.errors] == [(2, "d", 1205)]


def test_auto_does_not_read_epoch_numbers():
    """"Automatic recognition does not support epochsecs and epochmillisecs"."""
    spec = LoadSpec((Column("t", "ts"),), fmt="json", json_mode="auto", timeformat="auto")
    res = convert_unit(spec, "s3://b/k", b'{"t": 1541105830796}\n{"t": "2018-11-01 20:57:10"}\n')
    assert res.rows == 1 and [e.line_number for e in res.errors] == [1]


# ---------------------------------------------------------------- JSONPaths file and expressions

@pytest.mark.parametrize("body, message", [
    (b'{"jsonpaths": ["$.a", "$[\'b\']"]}', "mixed"),                      # notations cannot be mixed
    (b'{"jsonpaths": ["$.a[\'b\']"]}', "mixes"),
    (b'{"jsonpaths": ["$.a[*]"]}', "wildcards"),
    (b'{"jsonpaths": ["$..a"]}', "wildcards"),
    (b'{"jsonpaths": ["$.a[?(@.b > 1)]"]}', "filter"),
    (b'{"jsonpaths": ["$.a", 1]}', "not a string"),
    (b'{"jsonpaths": ["$.a", ""]}', "empty string"),
    (b'{"jsonpaths": ["$.a"]', "not valid JSON"),
    (b'{"jsonpaths": ["$.a"]} {"jsonpaths": []}', "not valid JSON"),   # more than one object
    (b'{"jsonpaths": ["$.a"]} x', "not valid JSON"),                    # characters outside
    (b'["$.a"]', "single JSON object"),
    (b'{"jsonpaths": "$.a"}', "must be an array"),
    (b'{"jsonpaths": ["$[-1]"]}', "cannot parse"),                      # indexes are >= 0
    (b'{"jsonpaths": ["a"]}', "start with"),
    (b'{"jsonpaths": ["$.a"], "extra": 1}', "single name/value pair"),
])
def test_jsonpaths_file_rules(body, message):
    with pytest.raises(JsonPathsError, match="Invalid JSONPath format") as e:
        parse_jsonpaths_file(body)
    assert message in str(e.value)


def test_jsonpaths_key_other_than_jsonpaths_means_auto():
    assert parse_jsonpaths_file(b'{"paths": ["$.a"]}') is None


def test_json_arrays_by_index_and_index_out_of_range_is_fatal():
    cols = (Column("catid", "int2"), Column("catgroup", "text", 10), Column("catname", "text", 10))
    spec = LoadSpec(cols, fmt="json", json_mode="paths", paths=((0,), (1,), (2,)))
    res = convert_unit(spec, "s3://b/k", b'[1,"Sports","MLB"]\n[2,"Sports","NHL"]\n')
    assert res.data == b'1,"Sports","MLB"\n2,"Sports","NHL"\n' and res.fatal is None
    res = convert_unit(spec, "s3://b/k", b'[1,"Sports","MLB"]\n[2,"Sports"]\n')
    assert res.fatal == INDEX_ERROR and res.rows == 0


# ---------------------------------------------------------------- chunks: no row lost or split

def _csv_object(rows: int) -> bytes:
    lines = ["id,body,n"] + [f'{i},"row {i}\nsecond ""line"", with comma",{i % 7}' for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("size", [1, 17, 64, 1000])
def test_chunked_csv_with_header_and_quoted_newlines_equals_whole_object(size):
    """IGNOREHEADER skips the object's header once, not once per chunk: chunked equals whole."""
    spec = LoadSpec((Column("id", "int4"), Column("body", "text"), Column("n", "int4")), fmt="csv",
                    delimiter=",", ignore_header=1)
    data = _csv_object(300)
    whole = convert_unit(spec, "u", data)
    chunks = split_chunks(data, size, spec)
    assert len(chunks) > 1 and b"".join(c for c, _ in chunks) == data
    parts = [convert_unit(spec, "u", c, line, False) for c, line in chunks]
    assert whole.rows == 300 and not whole.errors
    assert b"".join(p.data for p in parts) == whole.data
    assert [n for p in parts for n in p.lines] == list(whole.lines)


def test_chunked_text_with_escaped_newlines():
    spec = LoadSpec((Column("id", "int4"), Column("body", "text")), fmt="text", delimiter="|", escape=True)
    data = b"".join(b"%d|line one\\\nline two \\| \\\\\n" % i for i in range(200))
    whole = convert_unit(spec, "u", data)
    parts = [convert_unit(spec, "u", c, line, False) for c, line in split_chunks(data, 10, spec)]
    assert whole.rows == 200 and b"".join(p.data for p in parts) == whole.data
    assert b'"line one\nline two | \\"' in whole.data


def test_json_ignoreheader_counts_lines():
    """"If IGNOREHEADER is specified, COPY ignores the specified number of lines in the JSON data"."""
    spec = LoadSpec((Column("a", "int4"),), fmt="json", json_mode="auto", ignore_header=2)
    res = convert_unit(spec, "u", b'header line\n{"a": 0}\n{"a": 1}\n{"a": 2}\n')
    assert res.data == b"1\n2\n" and list(res.lines) == [3, 4]


def test_iso_8601_needs_timeformat_auto():
    """ISO 8601 is one of the formats only 'auto' recognises ("Using automatic recognition")."""
    spec = LoadSpec((Column("t", "ts"),), fmt="json", json_mode="auto")
    res = convert_unit(spec, "s3://b/k", b'{"t": "2018-11-01T10:00:00"}\n')
    assert [(e.err_code, e.err_reason) for e in res.errors] == [
        (1206, "Invalid timestamp format or value [YYYY-MM-DD HH24:MI:SS]")]
    auto = LoadSpec((Column("t", "ts"),), fmt="json", json_mode="auto", timeformat="auto")
    assert convert_unit(auto, "s3://b/k", b'{"t": "2018-11-01T10:00:00"}\n').data == b'"2018-11-01T10:00:00"\n'
