"""What a conversion worker gets for one load: the target columns and the COPY's row options.

Shared by the two row encoders, convert.py (CSV rows, and the validation of every value) and
binary.py (binary COPY fields), which both depend on this module and not on each other's types.
Everything here is plain picklable data: a ``LoadSpec`` travels to the worker processes.

A column's PostgreSQL type name (as ``format_type()`` writes it, or as a CREATE statement spelled
it) is classified once, by ``TYPES``, into the converter's kind and the binary encoding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redshift_endpoint.copy_spec import RowOptions

# One row per converter kind, in the order they are tried: the kind's prefix pattern (searched in
# the lower-cased type name) and the spellings of it that binary COPY can encode exactly (matched
# whole, after collapsing whitespace), with that encoding. numeric/real stay CSV, so do nvarchar and
# friends and any timestamp whose precision comes before "without time zone".
TYPES: list[tuple[str, re.Pattern, re.Pattern | None, str | None]] = [
    ("int2", re.compile(r"^(smallint|int2)"), re.compile(r"smallint|int2"), "int2"),
    ("int4", re.compile(r"^(integer|int4|int\b|int$)"), re.compile(r"integer|int|int4"), "int4"),
    ("int8", re.compile(r"^(bigint|int8)"), re.compile(r"bigint|int8"), "int8"),
    ("num", re.compile(r"^(numeric|decimal|real|float|double|money)"),
     re.compile(r"double precision|float8|float"), "float8"),
    ("bool", re.compile(r"^(boolean|bool)"), re.compile(r"boolean|bool"), "bool"),
    ("tstz", re.compile(r"^(timestamp with time zone|timestamptz)"),
     re.compile(r"timestamp\s*(\(\s*\d\s*\))?\s*with time zone|timestamptz"), "tstz"),
    ("ts", re.compile(r"^(timestamp)"), re.compile(r"(timestamp|timestamp without time zone)(\s*\(\s*\d\s*\))?"),
     "ts"),
    ("date", re.compile(r"^date"), None, None),
    ("time", re.compile(r"^(time)"), None, None),
    ("json", re.compile(r"^(json|jsonb|super)"), None, None),
    ("text", re.compile(r"^(character varying|varchar|character|char|bpchar|text|nvarchar|nchar|name|citext)"),
     re.compile(r"(character varying|varchar|character|char|bpchar|text)(\s*\(\s*\d+\s*\))?"), "text"),
]


def column_kind(pg_type: str) -> str:
    """The converter's kind of a column type (``other``: passed through as text)."""
    t = pg_type.strip().lower()
    for kind, prefix, _, _ in TYPES:
        if prefix.search(t):
            return kind
    return "other"


def binary_type(pg_type: str) -> str | None:
    """The binary encoding this endpoint can write for a column type, or None (CSV then)."""
    t = " ".join(pg_type.strip().lower().split())
    for _, _, exact, enc in TYPES:
        if exact is not None and exact.fullmatch(t):
            return enc
    return None


def numeric_scale(pg_type: str) -> int | None:
    """numeric(p, s)/decimal(p, s) -> s; numeric(p) -> 0; unconstrained -> None."""
    m = re.match(r"\s*(?:numeric|decimal)\s*\(\s*\d+\s*(?:,\s*(\d+)\s*)?\)", pg_type.lower())
    return None if not m else int(m.group(1) or 0)


def max_length(pg_type: str) -> int | None:
    """varchar(n)/char(n) -> n, in bytes as Redshift counts (MAX was already rewritten to 65535)."""
    m = re.search(r"char\w*(?:\s+varying)?\s*\(\s*(\d+|max)\s*\)", pg_type.lower())
    if not m:
        return None
    return 65535 if m.group(1) == "max" else int(m.group(1))


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    maxlen: int | None = None
    binary: str | None = None   # binary COPY encoding of the column's type, None if not supported
    scale: int | None = None    # numeric(p, s): s
    single_byte: bool = False   # CHAR: single-byte (ASCII) characters only (r_Character_types)

    @classmethod
    def of(cls, name: str, pg_type: str) -> Column:
        """A target column, classified from its PostgreSQL type name."""
        return cls(name, column_kind(pg_type), max_length(pg_type), binary_type(pg_type), numeric_scale(pg_type),
                   is_fixed_char(pg_type))


def is_fixed_char(pg_type: str) -> bool:
    """CHAR/CHARACTER/BPCHAR/NCHAR (not VARYING): Redshift's CHAR holds single-byte characters only."""
    t = " ".join(pg_type.strip().lower().split())
    return bool(re.fullmatch(r"(n?char|character|bpchar)(\s*\(\s*\d+\s*\))?", t))


def fits(col: Column) -> str:
    """A Python condition on a str ``v`` (a generated converter's fast path): it fits the column as is.

    Lengths are bytes (UTF-8): an ASCII string (``isascii()`` reads a flag: O(1)) has one byte a
    character; any other is encoded to count. CHAR takes ASCII only.
    """
    if col.maxlen is None:
        return "True"
    if col.single_byte:
        return f"v.isascii() and len(v) <= {col.maxlen}"
    return f"len(v) <= {col.maxlen} and (v.isascii() or len(v.encode()) <= {col.maxlen})"


@dataclass
class LoadSpec(RowOptions):
    """Everything a worker needs to convert one object: the COPY's row options plus these (not mutated)."""
    columns: tuple[Column, ...]
    fmt: str = "json"                           # json | csv | text
    json_mode: str = "auto"                     # auto | ignorecase | paths
    paths: tuple[tuple[str | int, ...], ...] = ()
    delimiter: str = ","


class FieldError(ValueError):
    """A value that cannot be loaded into its column: Redshift's reason and error code."""

    def __init__(self, reason: str, code: int = 1200, value: object = None):
        super().__init__(reason)
        self.reason, self.code, self.value = reason, code, value
