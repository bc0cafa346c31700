"""``TransactionalSQLOperator``: the base of the operators that write (loads, publish).

Built on common.sql's ``BaseSQLOperator``: the hook comes from the connection type, so the same task runs
through ``RedshiftSQLHook`` (connection type ``redshift``, redshift_connector) or ``PostgresHook``
(connection type ``postgres``, psycopg). A subclass builds its statement list (small ``_build_*``
methods, validated in ``execute``) and hands it to :meth:`TransactionalSQLOperator.run_in_transaction`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from airflow.providers.common.sql.operators.sql import BaseSQLOperator


def _rowcount(cursor) -> int | None:
    """Result handler for ``hook.run``: rows affected by the statement just executed."""
    count = getattr(cursor, "rowcount", None)
    return count if isinstance(count, int) and count >= 0 else None


class TransactionalSQLOperator(BaseSQLOperator):
    """Base operator: run a list of statements in one transaction, logging each and its rows affected.

    Subclasses set ``template_fields`` (``template_ext`` is ``.sql``: a field ending in ``.sql`` is read
    from ``template_searchpath`` and rendered) and call :meth:`run_in_transaction` from ``execute``.
    """

    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}

    def run_in_transaction(self, statements: list[str]) -> list[int | None]:
        """Run ``statements`` on one connection with autocommit off, i.e. in a single transaction.

        ``DbApiHook.run`` opens one connection, executes every statement on one cursor and commits
        once at the end; if a statement fails the connection is closed without a commit, which rolls
        the whole transaction back (psycopg and redshift_connector alike). Returns the rows affected by
        each statement (None where the driver does not say).
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
