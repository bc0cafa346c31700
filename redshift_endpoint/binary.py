"""Rows in PostgreSQL's binary COPY format, for loads whose every column type has a simple encoding.

Why: PostgreSQL parses binary COPY about twice as fast as CSV (no quoting, no int4in/float8in/
timestamp_in), and on the endpoint's side a binary field costs no more than a quoted CSV field
(epoch timestamps get cheaper: int64 microseconds since 2000-01-01 instead of formatted text).

Only types whose binary form we can produce exactly are encoded (``load_spec.binary_type``); a load with
any other column (numeric, date, json, ...), or with timestamps that PostgreSQL itself must parse
(TIMEFORMAT other than epochmillisecs/epochsecs), stays on the CSV path.

A row is int16 field count, then per field int32 length (-1 = NULL) and the bytes; the stream
starts with ``HEADER`` and ends with ``TRAILER``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redshift_endpoint.load_spec import Column, FieldError, LoadSpec, fits

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)
NULL = struct.pack(">i", -1)
PG_EPOCH_MS = 946_684_800_000          # 2000-01-01 in Unix epoch milliseconds
PG_EPOCH_US = PG_EPOCH_MS * 1000
# Python datetimes (what the CSV path formats) cover years 1..9999: keep the same range.
MIN_MS, MAX_MS = -62_135_596_800_000, 253_402_300_800_000

_EPOCH_FORMATS = ("epochmillisecs", "epochsecs")

_LEN = struct.Struct(">i").pack
PACK = {"int2": struct.Struct(">ih").pack, "int4": struct.Struct(">ii").pack, "int8": struct.Struct(">iq").pack,
        "float8": struct.Struct(">id").pack}
# Length prefixes of short values, indexed by length: a list lookup is cheaper than a pack call.
LENGTHS = [_LEN(n) for n in range(4096)]
# Encoded text fields by value, shared by the loads of this process (str -> length prefix + UTF-8).
TEXT_CACHE: dict[str, bytes] = {}
TEXT_CACHE_MAX = 50_000
_INT_BITS = {"int2": 15, "int4": 31, "int8": 63}
_BOOL = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}
_TRUE = frozenset(("t", "true", "1", "y", "yes", "on"))
_EPOCH_2000 = datetime(2000, 1, 1)
_EPOCH_2000_TZ = datetime(2000, 1, 1, tzinfo=UTC)


def usable(columns: Sequence[Column], fmt: str, timeformat: str | None) -> bool:
    """Whether a load can be sent as binary COPY (decided before the statement goes to PostgreSQL).

    JSON only: its values arrive typed (ints, floats), which is what makes binary cheap; CSV and
    delimited sources are all strings and stay on the CSV path.
    """
    if fmt != "json" or not columns:
        return False
    epoch = (timeformat or "").lower() in _EPOCH_FORMATS
    return all(c.binary is not None and (epoch or c.binary not in ("ts", "tstz")) for c in columns)


def field_expr(i: int, col: Column, spec: LoadSpec, get: str) -> str:
    """One binary field as an expression over ``v``; common value types inline, the rest via B[i]."""
    v = f"(v := {get})"
    slow = f"(NULL if v is None else B[{i}](v))"
    enc = col.binary
    plain_text = not (spec.empty_as_null or spec.blanks_as_null or spec.trim_blanks)
    if enc == "text" and plain_text:
        # Lengths are bytes: a fitting value of a short column always indexes LENGTHS.
        short = col.maxlen is not None and col.maxlen < len(LENGTHS)
        prefix = "LENGTHS[len(b := v.encode())]" if short else "LEN(len(b := v.encode()))"
        # Most text values repeat (levels, pages, names, user agents): look the field up first.
        return (f"((TEXT.get(v) or TEXT.setdefault(v, {prefix} + b)) if {v}.__class__ is str and {fits(col)} "
                f"else {slow})")
    if enc in _INT_BITS:
        lim = 2 ** _INT_BITS[enc]
        return f"({enc.upper()}({_width(enc)}, v) if {v}.__class__ is int and {-lim} <= v < {lim} else {slow})"
    if enc == "bool":
        return f"(TRUE if {v} is True else FALSE if v is False else {slow})"
    if enc == "float8":
        return f"(F8(8, v) if {v}.__class__ is float else {slow})"
    if enc in ("ts", "tstz"):
        ms = (spec.timeformat or "").lower() == "epochmillisecs"
        scale, lo, hi = (1000, MIN_MS, MAX_MS) if ms else (1_000_000, MIN_MS // 1000, MAX_MS // 1000)
        return f"(INT8(8, v * {scale} - {PG_EPOCH_US}) if {v}.__class__ is int and {lo} <= v < {hi} else {slow})"
    return f"(NULL if {v} is None else B[{i}](v))"


def namespace(spec: LoadSpec, text_converters: list) -> dict:
    if len(TEXT_CACHE) > TEXT_CACHE_MAX:
        TEXT_CACHE.clear()  # checked per converted object: the bound is approximate
    return {"TEXT": TEXT_CACHE, "B": [make_slow(c, spec, t) for c, t in zip(spec.columns, text_converters, strict=True)],
            "NULL": NULL, "LENGTHS": LENGTHS, "LEN": _LEN, "INT2": PACK["int2"], "INT4": PACK["int4"],
            "INT8": PACK["int8"], "F8": PACK["float8"], "TRUE": _BOOL[True],
            "FALSE": _BOOL[False], "HEAD": struct.pack(">h", len(spec.columns))}


def make_slow(col: Column, spec: LoadSpec, csv_field):
    """value -> binary field, by way of the CSV path's converter (so both paths validate alike)."""
    enc = col.binary
    tz = enc == "tstz"

    def convert(v: object) -> bytes:
        s = _unquote(csv_field(v))
        if s is None:
            return NULL
        if enc == "text":
            b = s.encode()
            return _LEN(len(b)) + b
        if enc in _INT_BITS:
            return PACK[enc](_width(enc), int(s))
        if enc == "float8":
            return PACK["float8"](8, _float(s))
        if enc == "bool":
            return _BOOL[s.lower() in _TRUE]
        # ts/tstz: the CSV path's epoch conversion yields an ISO timestamp.
        dt = datetime.fromisoformat(s)
        return PACK["int8"](8, (dt - (_EPOCH_2000_TZ if tz else _EPOCH_2000)) // timedelta(microseconds=1))

    return convert


def _width(enc: str) -> int:
    return (_INT_BITS[enc] + 1) // 8


def _unquote(field: str) -> str | None:
    """A CSV field of the text converters -> its value (None for NULL, the unquoted empty field)."""
    if field == "":
        return None
    if field[0] == '"':
        return field[1:-1].replace('""', '"')
    return field


def _float(s: str) -> float:
    if "_" in s:  # Python accepts 1_000, PostgreSQL does not
        raise FieldError(f"Invalid digit, Value '{s[:20]}', Type: Double", 1207, s)
    f = float(s)
    if f in (float("inf"), float("-inf")) and "inf" not in s.lower():
        raise FieldError(f"Overflow, Value '{s[:20]}', Type: Double", 1216, s)
    return f
