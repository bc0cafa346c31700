"""Publish an audited hour: one transaction moves the hour from the audit tables into the published ones.

Write-audit-publish: the loads write the run's interval into ``audit_*`` tables, the quality gate checks
them, and only then does :class:`PublishOperator` apply them, in one transaction:

1. ``LOCK publish_log``: concurrent runs (a 10-wide backfill) publish one at a time, so the users
   "newer wins" merge never races; readers of the published tables are not blocked by this lock.
2. the statements of ``hour_sql`` (``sql/publish/hour.sql``: songplays, time, users of the interval);
3. in runs that restaged the catalog (the tasks in ``catalog_task_ids`` returned a result), the statements
   of ``catalog_sql`` (``sql/publish/catalog.sql``: songs, artists) and the mark that the staged catalog
   is published (``staging_state.published_fingerprint``);
4. a row in ``publish_log``.

A failure anywhere rolls everything back: the published tables are left as they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.sql.hooks.sql import DbApiHook
from airflow.providers.common.sql.operators.sql import BaseSQLOperator

from sparkify.config import REDSHIFT_CONN_ID
from sparkify.sqltext import interval_predicate, now_literal, quote_literal, timestamp_literal, to_utc_naive
from sparkify.staging import mark_published_sql
from sparkify.transactional import TransactionalSQLOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

LOCK_TABLE = "publish_log"
# "INSERT INTO songplays ...", "DELETE FROM users USING ...": the verb and the (possibly quoted) target.
_WRITE = re.compile(r'^\s*(INSERT\s+INTO|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


def split_statements(sql: str) -> list[str]:
    """The statements of a rendered SQL file, comments dropped, without their semicolons."""
    import sqlparse

    statements = []
    for statement in DbApiHook.split_sql_string(sql, strip_semicolon=True):
        body = sqlparse.format(statement, strip_comments=True).strip().rstrip(";").strip()
        if body:
            statements.append(body)
    return statements


def rows_written(statements: Sequence[str], counts: Sequence[int | None]) -> dict[str, int | None]:
    """Rows affected per ``"<verb> <table>"`` (``"insert songplays"``, ``"delete users"``), summed by key."""
    written: dict[str, int | None] = {}
    for statement, count in zip(statements, counts, strict=False):
        match = _WRITE.match(statement)
        if not match:
            continue
        key = f"{match.group(1).split()[0].lower()} {match.group(2).lower()}"
        previous = written.get(key, 0)
        written[key] = None if count is None or previous is None else previous + count
    return written


def publish_summary(statements: Sequence[str], counts: Sequence[int | None], *, catalog: bool) -> dict[str, Any]:
    """What the publish did, named: plays published, users written (and how many were new), the catalog.

    ``users`` is "newer wins" (``sql/publish/hour.sql``): a user with a newer event is deleted and inserted
    again, a user not yet published is inserted, so rows inserted = users updated, of which
    inserted - deleted are new. None where the driver gave no row count.
    """
    written = rows_written(statements, counts)
    users, replaced = written.get("insert users"), written.get("delete users")
    return {
        "plays": written.get("insert songplays"),
        "users": users,
        "new_users": None if users is None or replaced is None else users - replaced,
        "catalog": catalog,
    }


class PublishOperator(TransactionalSQLOperator):
    """Apply the run's audited interval (and, when restaged, the audited catalog) in one transaction.

    :param hour_sql: statements publishing the interval (a ``.sql`` path, templated).
    :param catalog_sql: statements publishing the catalog (a ``.sql`` path, templated).
    :param catalog_task_ids: tasks whose results mean "the catalog was rebuilt in this run"; when any of
        them was skipped the catalog statements are left out.
    :param catalog_source: the catalog's S3 source as recorded in ``staging_state`` (templated).
    :param interval_start: / :param interval_end: the run's interval (templated; default the DAG macros).
    """

    template_fields: Sequence[str] = (
        "hour_sql",
        "catalog_sql",
        "catalog_source",
        "interval_start",
        "interval_end",
        *BaseSQLOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"hour_sql": "sql", "catalog_sql": "sql"}
    ui_color = "#b5e7a0"

    def __init__(
        self,
        *,
        hour_sql: str,
        catalog_sql: str,
        catalog_task_ids: Sequence[str] = (),
        catalog_source: str = "",
        interval_start: str = "{{ interval_start() }}",
        interval_end: str = "{{ interval_end() }}",
        conn_id: str = REDSHIFT_CONN_ID,
        **kwargs,
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.hour_sql = hour_sql
        self.catalog_sql = catalog_sql
        self.catalog_task_ids = list(catalog_task_ids)
        self.catalog_source = catalog_source
        self.interval_start = interval_start
        self.interval_end = interval_end

    def catalog_restaged(self, context: Context) -> bool:
        """True when every catalog task ran in this run (a skipped task leaves no result)."""
        if not self.catalog_task_ids:
            return False
        ti = context["ti"]
        return all(ti.xcom_pull(task_ids=task_id) is not None for task_id in self.catalog_task_ids)

    def build_statements(self, run_id: str, with_catalog: bool) -> list[str]:
        start = to_utc_naive(self.interval_start, "interval_start")
        end = to_utc_naive(self.interval_end, "interval_end")
        statements = [f"LOCK {LOCK_TABLE}", *split_statements(self.hour_sql)]
        if with_catalog:
            statements += [*split_statements(self.catalog_sql), mark_published_sql(self.catalog_source)]
        statements.append(
            f"INSERT INTO {LOCK_TABLE} (interval_start, interval_end, run_id, plays, catalog_published, "
            f"published_at)\nSELECT {timestamp_literal(start)}, {timestamp_literal(end)}, {quote_literal(run_id)}, "
            f"COUNT(*), {'TRUE' if with_catalog else 'FALSE'}, {now_literal()}\nFROM audit_songplays\n"
            f"WHERE {interval_predicate('start_time', start, end)}"
        )
        return statements

    def execute(self, context: Context) -> dict[str, Any]:
        with_catalog = self.catalog_restaged(context)
        self.log.info(
            "Publishing [%s, %s)%s", self.interval_start, self.interval_end,
            " and the restaged catalog" if with_catalog else "; catalog unchanged, songs/artists untouched",
        )
        run_id = str(getattr(context.get("dag_run"), "run_id", "") or "")
        statements = self.build_statements(run_id, with_catalog)
        counts = self.run_in_transaction(statements)
        return {
            "statements": len(counts),
            "rows": [c for c in counts if c is not None],
            "interval": [self.interval_start, self.interval_end],
            **publish_summary(statements, counts, catalog=with_catalog),
        }
