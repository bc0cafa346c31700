"""JSON -> binary COPY rows (pure logic): the same values the CSV path produces, in binary form."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

import pytest

from redshift_endpoint.binary import HEADER, TRAILER, usable
from redshift_endpoint.convert import convert_unit
from redshift_endpoint.load_spec import Column, LoadSpec, binary_type

PG_EPOCH = datetime(2000, 1, 1)


def decode(data: bytes, encodings: list[str]) -> list[tuple]:
    """Parse binary COPY tuples back into Python values (a test-side reader of the format)."""
    rows, pos = [], 0
    while pos < len(data):
        (n,), pos = struct.unpack_from(">h", data, pos), pos + 2
        assert n == len(encodings)
        row = []
        for enc in encodings:
            (size,), pos = struct.unpack_from(">i", data, pos), pos + 4
            if size == -1:
                row.append(None)
                continue
            raw, pos = data[pos: pos + size], pos + size
            if enc == "text":
                row.append(raw.decode())
            elif enc == "bool":
                row.append(raw == b"\x01")
            elif enc == "float8":
                row.append(struct.unpack(">d", raw)[0])
            elif enc in ("ts", "tstz"):
                row.append(PG_EPOCH + timedelta(microseconds=int.from_bytes(raw, "big", signed=True)))
            else:
                row.append(int.from_bytes(raw, "big", signed=True))
        rows.append(tuple(row))
    return rows


def col(name: str, pg_type: str, kind: str, maxlen: int | None = None) -> Column:
    return Column(name, kind, maxlen, binary_type(pg_type))


@pytest.mark.parametrize("pg_type, enc", [
    ("character varying(256)", "text"), ("VARCHAR(12)", "text"), ("text", "text"), ("character(8)", "text"),
    ("integer", "int4"), ("INT", "int4"), ("smallint", "int2"), ("bigint", "int8"), ("double precision", "float8"),
    ("FLOAT", "float8"), ("boolean", "bool"), ("timestamp without time zone", "ts"), ("TIMESTAMP", "ts"),
    ("timestamp with time zone", "tstz"), ("numeric(10,2)", None), ("real", None), ("date", None),
    ("integer[]", None), ("jsonb", None), ("citext", None),
])
def test_binary_types(pg_type, enc):
    assert binary_type(pg_type) == enc


def test_usable_needs_json_every_column_and_epoch_timestamps():
    cols = (col("a", "integer", "int4"), col("t", "timestamp", "ts"))
    assert usable(cols, "json", "epochmillisecs") and usable(cols, "json", "EPOCHSECS")
    assert not usable(cols, "json", None) and not usable(cols, "csv", "epochmillisecs")
    assert not usable((*cols, col("n", "numeric", "num")), "json", "epochmillisecs")


def test_values_nulls_and_slow_paths():
    cols = (col("s", "varchar(5)", "text", 5), col("i", "integer", "int4"), col("b", "bigint", "int8"),
            col("f", "double precision", "num"), col("ok", "boolean", "bool"), col("t", "timestamp", "ts"),
            col("z", "timestamptz", "tstz"))
    spec = LoadSpec(cols, "json", "auto", timeformat="epochmillisecs", binary=True)
    data = (b'{"s": "", "i": 1, "b": 9007199254740993, "f": 1.5, "ok": true, "t": 1541105830796, "z": 0}\n'
            b'{"s": null, "i": "42", "b": 3.0, "f": 2, "ok": "yes", "t": "1541105830796.5", "z": -1000}\n'
            b'{"s": "\xc3\xa9t\xc3\xa9", "f": "-0.25", "ok": 0, "t": ""}\n'
            b'{"s": {"x": 1}, "i": 2147483648}\n{"s": "toolong"}\n{"ok": "maybe"}\n{"f": "1e400"}\n{"f": "1_0"}')
    out = convert_unit(spec, "f", data)
    assert decode(out.data, [c.binary for c in cols]) == [
        ("", 1, 9007199254740993, 1.5, True, datetime(2018, 11, 1, 20, 57, 10, 796000), datetime(1970, 1, 1)),
        (None, 42, 3, 2.0, True, datetime(2018, 11, 1, 20, 57, 10, 796500), datetime(1969, 12, 31, 23, 59, 59)),
        ("été", None, None, -0.25, False, None, None),
    ]
    assert list(out.lines) == [1, 2, 3]
    assert [(e.line_number, e.colname) for e in out.errors] == [(4, "s"), (5, "s"), (6, "ok"), (7, "f"), (8, "f")]


def test_truncate_and_null_options():
    cols = (col("b", "varchar(3)", "text", 3),)
    spec = LoadSpec(cols, "json", "auto", truncate_columns=True, empty_as_null=True, blanks_as_null=True,
                    binary=True)
    out = convert_unit(spec, "f", b'{"b": "abcdef"}\n{"b": ""}\n{"b": "  "}\n{"b": "a\\"b"}')
    assert decode(out.data, ["text"]) == [("abc",), (None,), (None,), ('a"b',)]


def test_epochsecs_and_stream_framing():
    spec = LoadSpec((col("t", "timestamp", "ts"),), "json", "auto", timeformat="epochsecs", binary=True)
    out = convert_unit(spec, "f", b'{"t": 946684800}\n{"t": 1.5}')
    assert decode(out.data, ["ts"]) == [(PG_EPOCH,), (datetime(1970, 1, 1, 0, 0, 1, 500000),)]
    assert HEADER == b"PGCOPY\n\xff\r\n\x00" + bytes(8) and TRAILER == b"\xff\xff"
