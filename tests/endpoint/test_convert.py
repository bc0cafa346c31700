"""JSON/CSV -> COPY CSV conversion (pure logic)."""

from __future__ import annotations

import gzip

import pytest

from redshift_endpoint.convert import convert_unit, parse_jsonpath, parse_jsonpaths_file, split_chunks
from redshift_endpoint.load_spec import Column, LoadSpec, column_kind, max_length


def rows(result) -> list[str]:
    return result.data.decode().splitlines()


@pytest.mark.parametrize("expr, parts", [
    ("$['artist']", ("artist",)), ("$.artist", ("artist",)), ('$["a"]["b"][0]', ("a", "b", 0)),
    ("$.a.b[2]", ("a", "b", 2)),
])
def test_jsonpath_notations(expr, parts):
    assert parse_jsonpath(expr)[0] == parts


def test_jsonpaths_file_and_invalid_path():
    assert parse_jsonpaths_file(b'{"jsonpaths": ["$.a", "$.b[0]", "$[1]"]}') == (("a",), ("b", 0), (1,))
    with pytest.raises(ValueError):
        parse_jsonpath("artist")


def test_types_and_lengths():
    assert column_kind("character varying(256)") == "text" and max_length("character varying(256)") == 256
    assert column_kind("timestamp without time zone") == "ts" and column_kind("integer") == "int4"
    assert column_kind("double precision") == "num" and column_kind("BIGINT") == "int8"


def test_auto_missing_fields_are_null_and_empty_string_is_kept():
    spec = LoadSpec((Column("a", "int4"), Column("b", "text"), Column("c", "text")), "json", "auto")
    out = convert_unit(spec, "f", b'{"a": 1, "b": ""}\n{"b": "x\\"y", "A": 5}')
    assert rows(out) == ['1,"",', ',"x""y",']


def test_ignorecase():
    spec = LoadSpec((Column("userid", "text"),), "json", "ignorecase")
    assert rows(convert_unit(spec, "f", b'{"userId": "7"}')) == ['"7"']


def test_jsonpaths_nested_and_epochmillisecs():
    spec = LoadSpec((Column("ts", "ts"), Column("x", "int8")), "json", "paths", (("t",), ("a", "b", 0)),
                    timeformat="epochmillisecs")
    out = convert_unit(spec, "f", b'{"t": 1541105830796, "a": {"b": [42]}}\n{"t": null}')
    assert rows(out) == ["2018-11-01 20:57:10.796,42", ","]


def test_pretty_printed_multi_object_and_malformed_line_numbers():
    data = b'{\n  "a": 1\n}\n{"a": 2}{"a": 3}\n{"a": oops}\n{"a": 4}'
    spec = LoadSpec((Column("a", "int4"),), "json", "auto")
    out = convert_unit(spec, "s3://b/k", data)
    assert rows(out) == ["1", "2", "3", "4"]
    assert list(out.lines) == [1, 4, 4, 6]
    (err,) = out.errors
    assert (err.filename, err.line_number, err.raw_line) == ("s3://b/k", 5, '{"a": oops}')


def test_bad_values_name_the_column():
    spec = LoadSpec((Column("a", "int4"), Column("b", "text", 3)), "json", "auto")
    out = convert_unit(spec, "f", b'{"a": "x", "b": "ok"}\n{"a": 1, "b": "toolong"}\n{"a": 1.5}\n[1, 2]')
    assert [(e.line_number, e.colname) for e in out.errors] == [(1, "a"), (2, "b"), (3, "a"), (4, "")]
    assert out.rows == 0


def test_truncate_and_null_options():
    spec = LoadSpec((Column("b", "text", 3),), "json", "auto", truncate_columns=True, empty_as_null=True,
                    blanks_as_null=True)
    assert rows(convert_unit(spec, "f", b'{"b": "abcdef"}\n{"b": ""}\n{"b": "  "}')) == ['"abc"', "", ""]


def test_gzip_and_csv():
    spec = LoadSpec((Column("k", "int4"), Column("s", "text")), "csv", delimiter=",", ignore_header=1,
                    null_as="NULL")
    data = gzip.compress(b'k,s\n1,"a,b"\n2,NULL\n3,\n')
    assert rows(convert_unit(spec, "f", data, gz=True)) == ['1,"a,b"', "2,", '3,""']


def test_chunk_of_pretty_printed_object_asks_for_the_whole_object():
    spec = LoadSpec((Column("a", "int4"),), "json", "auto")
    assert convert_unit(spec, "f", b'{\n"a": 1\n', whole=False).needs_whole_object
    chunks = split_chunks(b"a\nbb\nccc\n", 2)
    assert [c for c, _ in chunks] == [b"a\nbb\n", b"ccc\n"] and [n for _, n in chunks] == [1, 3]
