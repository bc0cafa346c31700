"""Fact and dimension loads: a templated SELECT from ``sql/load/`` wrapped in one transaction.

The SQL files hold only a SELECT; the operators build the DELETE / INSERT statements around it (one
small ``_build_*`` method each) and run them with
:meth:`~sparkify.transactional.TransactionalSQLOperator.run_in_transaction`: one connection, one
transaction, one COMMIT at the end, a rollback when any statement fails.

Two ways to replace rows, shared by both operators:

- **interval**: ``DELETE FROM <table> WHERE <time_column> >= <start> AND <time_column> < <end>``, then
  ``INSERT INTO <table> <sql>``: exactly one data interval is replaced, so rerunning or backfilling an
  interval never duplicates or loses rows. The fact always loads this way; so do the hour-scoped
  dimensions (the users and time rows of an hour).
- **truncate-insert** (dimensions only): ``DELETE FROM <table>`` then the INSERT: the whole table is
  rebuilt (the catalog dimensions songs and artists).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from airflow.providers.common.sql.operators.sql import BaseSQLOperator

from sparkify.config import REDSHIFT_CONN_ID
from sparkify.sqltext import (
    column_list,
    interval_predicate,
    to_utc_naive,
    validate_columns,
    validate_select,
    validate_table,
)
from sparkify.transactional import TransactionalSQLOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: The modes of :class:`LoadDimensionOperator`.
MODES = ("truncate-insert", "interval")


class _TableLoadOperator(TransactionalSQLOperator):
    """What both loads share: the target table, the SELECT, the interval DELETE and the INSERT."""

    template_fields: Sequence[str] = (
        "table",
        "sql",
        "interval_start",
        "interval_end",
        *BaseSQLOperator.template_fields,
    )

    def __init__(
        self,
        *,
        table: str,
        sql: str,
        time_column: str | None = None,
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

    def _interval(self) -> tuple[datetime, datetime]:
        """The rendered interval as naive UTC datetimes; rejects an empty or reversed one."""
        validate_columns([self.time_column], "time column")
        start = to_utc_naive(self.interval_start, "interval_start")
        end = to_utc_naive(self.interval_end, "interval_end")
        if end <= start:
            raise ValueError(f"empty or reversed interval: [{start}, {end})")
        return start, end

    def _build_interval_delete(self, start: datetime, end: datetime) -> str:
        where = interval_predicate(self.time_column, start, end, separator="\n  ")
        return f"DELETE FROM {self.table}\nWHERE {where}"

    def _build_insert(self, select: str, columns: list[str]) -> str:
        return f"INSERT INTO {self.table}{column_list(columns)}\n{select}"

    def _build_statements(self) -> tuple[list[str], str]:
        """Validate the rendered arguments; return the statements and what they replace (for the log)."""
        raise NotImplementedError

    def execute(self, context: Context) -> dict[str, int | None]:
        statements, replaced = self._build_statements()
        deleted, inserted = self.run_in_transaction(statements)
        self.log.info("%s: replaced %s: %s rows deleted, %s rows inserted", self.table, replaced, deleted, inserted)
        return {"deleted": deleted, "inserted": inserted}


class LoadFactOperator(_TableLoadOperator):
    """Replace exactly one data interval of a fact table, in one transaction.

    Runs ``DELETE FROM <table> WHERE <time_column> >= <start> AND <time_column> < <end>`` and then
    ``INSERT INTO <table> <sql>``. ``sql`` must select the same interval; the data quality
    reconciliation check verifies it. Returns ``{"deleted": n, "inserted": m}``.

    :param table: target table, e.g. ``songplays`` (templated).
    :param sql: the SELECT producing the interval's rows, or a path ending in ``.sql`` (templated).
    :param time_column: the column the interval applies to (default ``start_time``).
    :param interval_start: start of the interval, inclusive (templated; ISO 8601; default the run's
        interval start, the ``interval_start()`` macro). Offsets are converted to UTC.
    :param interval_end: end of the interval, exclusive (templated; default ``interval_end()``).
    :param columns: optional target column list for the INSERT; by default the SELECT must produce the
        table's columns in table order.
    :param conn_id: the database connection (type ``redshift`` or ``postgres``).
    """

    ui_color = "#f9c784"

    def __init__(self, *, time_column: str = "start_time", **kwargs) -> None:
        super().__init__(time_column=time_column, **kwargs)

    def _build_statements(self) -> tuple[list[str], str]:
        validate_table(self.table)
        columns = validate_columns(self.columns)
        select = validate_select(self.sql)
        start, end = self._interval()
        return [self._build_interval_delete(start, end), self._build_insert(select, columns)], "interval"


class LoadDimensionOperator(_TableLoadOperator):
    """Load a dimension table from a SELECT, in one transaction, in one of two modes.

    - ``truncate-insert`` (default): ``DELETE FROM <table>`` then ``INSERT ... <sql>``. Deliberately not
      TRUNCATE, which commits implicitly on Redshift: readers see the old rows until the COMMIT, never
      an empty table, and a failure leaves the old rows in place.
    - ``interval``: the rows of one data interval, as :class:`LoadFactOperator` does:
      ``DELETE ... WHERE <time_column>`` in ``[interval_start, interval_end)``, then the INSERT. For
      dimensions built per hour (a user's latest event of the hour, the hour's play times).

    Returns ``{"deleted": n, "inserted": m}`` in both modes.

    :param table: target table (templated); may be quoted, e.g. ``'"time"'``.
    :param sql: the SELECT producing the rows, or a path ending in ``.sql`` (templated).
    :param mode: ``truncate-insert`` or ``interval`` (templated).
    :param time_column: the column the interval applies to; required by ``interval``.
    :param interval_start: / :param interval_end: the interval of ``interval`` mode (templated; default
        the run's interval, the ``interval_start()`` / ``interval_end()`` macros).
    :param columns: optional target column list; by default the SELECT produces every column in
        table order.
    :param conn_id: the database connection (type ``redshift`` or ``postgres``).
    """

    template_fields: Sequence[str] = ("mode", *_TableLoadOperator.template_fields)
    ui_color = "#a0d2db"

    def __init__(self, *, mode: str = "truncate-insert", **kwargs) -> None:
        super().__init__(**kwargs)
        self.mode = mode

    def _build_truncate(self) -> str:
        return f"DELETE FROM {self.table}"

    def _build_statements(self) -> tuple[list[str], str]:
        validate_table(self.table)
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        columns = validate_columns(self.columns)
        select = validate_select(self.sql)
        if self.mode == "interval":
            if not self.time_column:
                raise ValueError(f"mode 'interval' of {self.table} needs time_column")
            start, end = self._interval()
            return [self._build_interval_delete(start, end), self._build_insert(select, columns)], "interval"
        return [self._build_truncate(), self._build_insert(select, columns)], "all rows"
