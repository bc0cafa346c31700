"""Fact and dimension loads: a templated SELECT from ``sql/load/`` wrapped in one transaction.

Both operators are built on common.sql's ``BaseSQLOperator``: the hook comes from the connection type,
so the same task runs through ``RedshiftSQLHook`` (connection type ``redshift``, redshift_connector)
or ``PostgresHook`` (connection type ``postgres``, psycopg). The SQL files hold only a SELECT; the
operator builds the DELETE / INSERT statements around it (one small ``_build_*`` method each) and
runs them with ``hook.run(statements, autocommit=False)``: one connection, one transaction, one
COMMIT at the end, a rollback when any statement fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from airflow.providers.common.sql.operators.sql import BaseSQLOperator

from sparkify.config import REDSHIFT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

#: A table reference: ``name``, ``schema.name``, each part plain or double-quoted.
_IDENT_PART = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"[^"]+")'
_TABLE_RE = re.compile(rf"^{_IDENT_PART}(?:\.{_IDENT_PART})?$")
_COLUMN_RE = re.compile(rf"^{_IDENT_PART}$")

MODES = ("truncate-insert", "upsert", "append")


def _rowcount(cursor) -> int | None:
    """Result handler for ``hook.run``: rows affected by the statement just executed."""
    count = getattr(cursor, "rowcount", None)
    return count if isinstance(count, int) and count >= 0 else None


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
    """A timestamp literal understood by Redshift and PostgreSQL (microseconds kept when present)."""
    return value.isoformat(sep=" ", timespec="microseconds" if value.microsecond else "seconds")


class _TransactionalLoadOperator(BaseSQLOperator):
    """Shared plumbing: run a statement list in one transaction, log SQL and rows affected."""

    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}

    def _run_in_transaction(self, statements: list[str]) -> list[int | None]:
        """Run ``statements`` on one connection with autocommit off, i.e. in a single transaction.

        ``DbApiHook.run`` opens one connection, executes every statement on one cursor and commits
        once at the end; if a statement fails the connection is closed without a commit, which rolls
        the whole transaction back (psycopg and redshift_connector alike).
        """
        for number, statement in enumerate(statements, start=1):
            self.log.info("Statement %d/%d:\n%s", number, len(statements), statement)
        hook = self.get_db_hook()
        counts = hook.run(statements, autocommit=False, handler=_rowcount, return_last=False)
        counts = list(counts or [None] * len(statements))
        for number, (statement, count) in enumerate(zip(statements, counts, strict=False), start=1):
            verb = statement.lstrip().split(None, 1)[0].upper()
            self.log.info("Statement %d/%d (%s): rows affected: %s", number, len(statements), verb, count)
        return counts

    @staticmethod
    def _column_list(columns: list[str]) -> str:
        return f" ({', '.join(columns)})" if columns else ""


class LoadFactOperator(_TransactionalLoadOperator):
    """Replace exactly one data interval of a fact table, in one transaction.

    Runs ``DELETE FROM <table> WHERE <time_column> >= <start> AND <time_column> < <end>`` and then
    ``INSERT INTO <table> <sql>``, so rerunning or backfilling an interval never duplicates or loses
    rows. ``sql`` (a SELECT, usually a ``.sql`` file under ``template_searchpath``) must select the
    same interval; the data quality reconciliation check verifies it.

    :param table: target table, e.g. ``songplays`` (templated).
    :param sql: the SELECT producing the interval's rows, or a path ending in ``.sql`` (templated).
    :param time_column: the column the interval applies to.
    :param interval_start: start of the interval, inclusive (templated; ISO 8601; default the run's
        ``data_interval_start``). Offsets are converted to UTC.
    :param interval_end: end of the interval, exclusive (templated; default ``data_interval_end``).
    :param columns: optional target column list for the INSERT; by default the SELECT must produce the
        table's columns in table order.
    :param conn_id: the database connection (type ``redshift`` or ``postgres``).
    """

    template_fields: Sequence[str] = (
        "table",
        "sql",
        "interval_start",
        "interval_end",
        *BaseSQLOperator.template_fields,
    )
    ui_color = "#f9c784"

    def __init__(
        self,
        *,
        table: str,
        sql: str,
        time_column: str = "start_time",
        interval_start: str | datetime = "{{ interval_start() }}",
        interval_end: str | datetime = "{{ interval_end() }}",
        columns: Sequence[str] | None = None,
        conn_id: str = REDSHIFT_CONN_ID,
        **kwargs,
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.table = table
        self.sql = sql
        self.time_column = time_column
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.columns = columns

    def _build_delete(self, start: datetime, end: datetime) -> str:
        return (
            f"DELETE FROM {self.table}\n"
            f"WHERE {self.time_column} >= '{sql_timestamp(start)}'\n"
            f"  AND {self.time_column} < '{sql_timestamp(end)}'"
        )

    def _build_insert(self, select: str, columns: list[str]) -> str:
        return f"INSERT INTO {self.table}{self._column_list(columns)}\n{select}"

    def _build_statements(self) -> list[str]:
        """Validate the rendered arguments and return [DELETE interval, INSERT SELECT]."""
        validate_table(self.table)
        validate_columns([self.time_column], "time column")
        columns = validate_columns(self.columns)
        select = validate_select(self.sql)
        start = to_utc_naive(self.interval_start, "interval_start")
        end = to_utc_naive(self.interval_end, "interval_end")
        if end <= start:
            raise ValueError(f"empty or reversed interval: [{start}, {end})")
        return [self._build_delete(start, end), self._build_insert(select, columns)]

    def execute(self, context: Context) -> dict[str, int | None]:
        statements = self._build_statements()
        deleted, inserted = self._run_in_transaction(statements)
        self.log.info(
            "%s: replaced interval: %s rows deleted, %s rows inserted", self.table, deleted, inserted
        )
        return {"deleted": deleted, "inserted": inserted}


class LoadDimensionOperator(_TransactionalLoadOperator):
    """Load a dimension table from a SELECT, in one transaction, in one of three modes.

    - ``truncate-insert``: ``DELETE FROM <table>`` then ``INSERT ... <sql>``. Deliberately not TRUNCATE,
      which commits implicitly on Redshift: readers see the old rows until the COMMIT, never an empty
      table, and a failure leaves the old rows in place.
    - ``upsert``: the staging-table merge Redshift recommends: ``CREATE TEMP TABLE <t>_stage AS <sql>``,
      ``DELETE FROM <table> USING <t>_stage`` on ``key_columns``, ``INSERT ... SELECT * FROM <t>_stage``,
      ``DROP TABLE <t>_stage``. Rules such as "newer wins" belong in the SELECT (filter out the rows
      that must not replace the stored ones).
    - ``append``: ``INSERT ... <sql>`` only.

    :param table: target table (templated); may be quoted, e.g. ``'"time"'``.
    :param sql: the SELECT producing the rows, or a path ending in ``.sql`` (templated).
    :param mode: ``truncate-insert`` (default), ``upsert`` or ``append`` (templated).
    :param key_columns: the key of the table, required for ``upsert``.
    :param columns: optional target column list; by default the SELECT produces every column in
        table order.
    :param conn_id: the database connection (type ``redshift`` or ``postgres``).
    """

    template_fields: Sequence[str] = ("table", "sql", "mode", *BaseSQLOperator.template_fields)
    ui_color = "#a0d2db"

    def __init__(
        self,
        *,
        table: str,
        sql: str,
        mode: str = "truncate-insert",
        key_columns: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        conn_id: str = REDSHIFT_CONN_ID,
        **kwargs,
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.table = table
        self.sql = sql
        self.mode = mode
        self.key_columns = key_columns
        self.columns = columns

    @property
    def stage_table(self) -> str:
        """Name of the session-local temp table used by ``upsert`` (e.g. ``users_stage``)."""
        bare = self.table.rsplit(".", 1)[-1].strip('"')
        return re.sub(r"\W", "_", bare) + "_stage"

    def _build_truncate_insert(self, select: str, columns: list[str]) -> list[str]:
        return [
            f"DELETE FROM {self.table}",
            f"INSERT INTO {self.table}{self._column_list(columns)}\n{select}",
        ]

    def _build_append(self, select: str, columns: list[str]) -> list[str]:
        return [f"INSERT INTO {self.table}{self._column_list(columns)}\n{select}"]

    def _build_upsert(self, select: str, columns: list[str], keys: list[str]) -> list[str]:
        stage = self.stage_table
        match = " AND ".join(f"{self.table}.{key} = {stage}.{key}" for key in keys)
        projection = ", ".join(columns) if columns else "*"
        return [
            f"CREATE TEMP TABLE {stage} AS\n{select}",
            f"DELETE FROM {self.table}\nUSING {stage}\nWHERE {match}",
            f"INSERT INTO {self.table}{self._column_list(columns)}\nSELECT {projection} FROM {stage}",
            f"DROP TABLE {stage}",
        ]

    def _build_statements(self) -> list[str]:
        """Validate the rendered arguments and return the statements of the chosen mode."""
        validate_table(self.table)
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        columns = validate_columns(self.columns)
        keys = validate_columns(self.key_columns, "key column")
        select = validate_select(self.sql)
        if self.mode == "upsert":
            if not keys:
                raise ValueError(f"mode 'upsert' of {self.table} needs key_columns")
            return self._build_upsert(select, columns, keys)
        if self.mode == "truncate-insert":
            return self._build_truncate_insert(select, columns)
        return self._build_append(select, columns)

    def execute(self, context: Context) -> dict[str, int | None]:
        statements = self._build_statements()
        counts = self._run_in_transaction(statements)
        if self.mode == "upsert":
            result = {"staged": counts[0], "deleted": counts[1], "inserted": counts[2]}
        elif self.mode == "truncate-insert":
            result = {"deleted": counts[0], "inserted": counts[1]}
        else:
            result = {"inserted": counts[0]}
        self.log.info("%s (%s): %s", self.table, self.mode, result)
        return result
