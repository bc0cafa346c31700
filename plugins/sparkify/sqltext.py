"""SQL text helpers shared by the operators: identifier validation, literals, timestamps.

Import-cheap (standard library only): the DAG's macros (``sparkify.intervals``) use the timestamp format,
the operators build their statements with the rest. Every value that ends up inside generated SQL goes
through one of these functions: names are validated (never quoted on the fly), values are quoted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

#: The format of timestamp literals in generated SQL and in the SQL files (Redshift and PostgreSQL).
SQL_TIMESTAMP = "%Y-%m-%d %H:%M:%S"

#: A table reference: ``name``, ``schema.name``, each part plain or double-quoted.
_IDENT_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")'
_TABLE_RE = re.compile(rf"^{_IDENT_PART}(?:\.{_IDENT_PART})?$")
_COLUMN_RE = re.compile(rf"^{_IDENT_PART}$")


def validate_table(table: str) -> str:
    """Return ``table`` if it is a plain (optionally schema-qualified, optionally quoted) name."""
    if not isinstance(table, str) or not _TABLE_RE.match(table):
        raise ValueError(f"invalid table name {table!r}")
    return table


def validate_columns(columns: Sequence[str] | None, what: str = "column") -> list[str]:
    """Return ``columns`` as a list after checking every name."""
    if columns is None:
        return []
    if isinstance(columns, str):
        raise ValueError(f"{what}s must be a list of names, got the string {columns!r}")
    for column in columns:
        if not isinstance(column, str) or not _COLUMN_RE.match(column):
            raise ValueError(f"invalid {what} name {column!r}")
    return list(columns)


def validate_select(sql: str) -> str:
    """Return the SELECT without its trailing semicolon; reject empty SQL or several statements."""
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("sql is empty: expected one SELECT statement (or a .sql file holding one)")
    body = sql.strip().rstrip(";").rstrip()
    code = "\n".join(line.split("--", 1)[0] for line in body.splitlines())
    if ";" in code:
        raise ValueError("sql must hold exactly one SELECT statement; found ';' inside it")
    first_word = code.split(None, 1)[0].upper() if code.split() else ""
    if first_word not in {"SELECT", "WITH", "("}:
        raise ValueError(f"sql must be a SELECT (or WITH ... SELECT), starts with {first_word!r}")
    return body


def column_list(columns: Sequence[str]) -> str:
    """`` (a, b)`` for an INSERT's target columns; empty when there are none (table order)."""
    return f" ({', '.join(columns)})" if columns else ""


def quote_literal(value: Any) -> str:
    """A string or number as a SQL literal: strings single-quoted with quotes doubled, numbers as is."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"literal value {value!r} must be a string or a number")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def to_utc_naive(value: datetime | str, what: str) -> datetime:
    """Parse a rendered timestamp (ISO 8601, with or without offset) into naive UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError(f"{what} is not an ISO 8601 timestamp: {value!r}") from err
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime or an ISO 8601 string, got {type(value).__name__}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def sql_timestamp(value: datetime) -> str:
    """``value`` (naive UTC) in :data:`SQL_TIMESTAMP` format, microseconds appended when present."""
    text = value.strftime(SQL_TIMESTAMP)
    return f"{text}.{value.microsecond:06d}" if value.microsecond else text


def timestamp_literal(value: datetime) -> str:
    """``value`` (naive UTC) as a quoted timestamp literal understood by Redshift and PostgreSQL."""
    return f"'{sql_timestamp(value)}'"


def now_literal() -> str:
    """The current UTC time to the second, as a literal (GETDATE() is Redshift's, now() PostgreSQL's)."""
    return timestamp_literal(datetime.now(UTC).replace(tzinfo=None, microsecond=0))


def interval_predicate(column: str, start: datetime, end: datetime, separator: str = " ") -> str:
    """``column >= 'start' AND column < 'end'``: the half-open interval [start, end) of ``column``."""
    return (
        f"{column} >= {timestamp_literal(start)}{separator}AND {column} < {timestamp_literal(end)}"
    )
