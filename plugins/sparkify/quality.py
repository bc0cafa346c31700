"""Data-quality gate: checks declared as data (dbt style), compiled to one SQL query each.

The operator knows a small vocabulary of check kinds; which tables, columns and expectations are
checked comes entirely from the declaration, by default ``sql/quality/checks.yaml`` (rendered by Jinja,
so a check can use ``data_interval_start`` and friends). A declaration is a list of mappings:

============== ============================================ ========================================
``check``       other keys                                   observed value (passes when)
============== ============================================ ========================================
row_count       ``min`` (default 1), ``max``                 ``COUNT(*)`` (min <= n <= max)
not_null        ``column``                                   rows where column IS NULL (== 0)
unique          ``column`` or ``columns``                    key values occurring twice or more (== 0)
relationships   ``column``, ``to``, ``field``                non-null values missing in ``to.field`` (== 0)
accepted_values ``column``, ``values``                       non-null values outside ``values`` (== 0)
sql             ``sql`` + one of ``expected``,               first column of the first row
                ``expected_sql``, ``min``/``max``            (== expected / result of expected_sql,
                                                             or within min..max)
============== ============================================ ========================================

Every check also takes ``table`` (required except for ``sql``), ``where`` (an extra SQL predicate on
``table``), ``name`` and ``description``, and optionally:

* ``details_sql``: a query naming the offending rows; when the check fails (or is accepted), its first
  :data:`DETAILS_LIMIT` rows are logged under the check's line and added to the failure message;
* ``accepted_by_param``: the name of a boolean run param; when the run sets it true, a failure of this
  check is logged as ``ACCEPTED`` (with its details) instead of failing the task: a deliberate override.

Each check logs one line with its observed value; when any fails, the task fails with one message
listing every failed check, also logged on a top-level ``FAILED:`` line (:mod:`sparkify.reasons`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.sql.operators.sql import BaseSQLOperator

from sparkify import reasons
from sparkify.config import REDSHIFT_CONN_ID
from sparkify.sqltext import quote_literal, validate_columns, validate_table

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Rows of ``details_sql`` logged for a failed or accepted check.
DETAILS_LIMIT = 20
CHECK_KINDS = ("row_count", "not_null", "unique", "relationships", "accepted_values", "sql")
_KNOWN_KEYS = {
    "check",
    "table",
    "column",
    "columns",
    "to",
    "field",
    "values",
    "where",
    "min",
    "max",
    "expected",
    "expected_sql",
    "sql",
    "name",
    "description",
    "details_sql",
    "accepted_by_param",
}


@dataclass
class CheckResult:
    """Outcome of one check."""

    label: str
    observed: Any
    expected: str
    passed: bool
    error: str | None = None
    accepted_by: str | None = None  # the run param that accepted a failure
    details: list[str] | None = None  # the offending rows, one line each

    def line(self) -> str:
        status = "ACCEPTED" if self.accepted_by else "PASS" if self.passed else "FAIL"
        if self.error:
            return f"{status} {self.label}: error: {self.error}"
        text = f"{status} {self.label}: observed {self.observed}, expected {self.expected}"
        if self.accepted_by:
            text += f" (accepted by run param {self.accepted_by})"
        return text

    def report(self) -> str:
        """The line and, indented below it, the offending rows."""
        return "\n".join([self.line(), *(f"      {row}" for row in self.details or [])])


def _number(value: Any) -> Any:
    """Normalise a fetched scalar (Decimal, int, str) for comparison and logging."""
    if value is None or isinstance(value, int | float):
        return value
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        return value
    return int(as_float) if as_float.is_integer() else as_float


class DataQualityOperator(BaseSQLOperator):
    """Run declared data-quality checks; fail listing every failed check.

    :param checks: a list of check mappings, or a path ending in ``.yaml``/``.yml``/``.json`` under
        ``template_searchpath`` (templated: the file is rendered by Jinja, then parsed).
    :param conn_id: the database connection (type ``redshift`` or ``postgres``).
    """

    template_fields: Sequence[str] = ("checks", *BaseSQLOperator.template_fields)
    template_ext: Sequence[str] = (".yaml", ".yml", ".json")
    template_fields_renderers: ClassVar[dict[str, str]] = {"checks": "yaml"}
    ui_color = "#c3e6cb"

    def __init__(
        self, *, checks: str | list[dict[str, Any]], conn_id: str = REDSHIFT_CONN_ID, **kwargs
    ) -> None:
        super().__init__(conn_id=conn_id, **kwargs)
        self.checks = checks

    # ------------------------------------------------------------------ declaration
    def _load_checks(self) -> list[dict[str, Any]]:
        """Parse the rendered declaration (YAML is a superset of JSON) and validate every entry."""
        checks = self.checks
        if isinstance(checks, str):
            import yaml

            checks = yaml.safe_load(checks)
        if isinstance(checks, dict) and "checks" in checks:
            checks = checks["checks"]
        if not isinstance(checks, list) or not checks:
            raise ValueError("checks must be a non-empty list of check mappings")
        problems = []
        for index, check in enumerate(checks):
            try:
                self._validate_check(check)
            except ValueError as err:
                problems.append(f"check #{index + 1}: {err}")
        if problems:
            raise ValueError("invalid data quality declaration:\n  " + "\n  ".join(problems))
        return checks

    @staticmethod
    def _validate_check(check: Any) -> None:
        if not isinstance(check, dict):
            raise ValueError(f"expected a mapping, got {check!r}")
        kind = check.get("check")
        if kind not in CHECK_KINDS:
            raise ValueError(f"unknown check {kind!r}; expected one of {', '.join(CHECK_KINDS)}")
        unknown = set(check) - _KNOWN_KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)} in {kind} check")
        if kind != "sql" or "table" in check:
            validate_table(check.get("table"))
        if kind in {"not_null", "relationships", "accepted_values"}:
            validate_columns([check.get("column")])
        if kind == "unique":
            validate_columns(check.get("columns") or [check.get("column")])
        if kind == "relationships":
            validate_table(check.get("to"))
            validate_columns([check.get("field")], "field")
        if kind == "accepted_values":
            values = check.get("values")
            if not isinstance(values, list) or not values:
                raise ValueError("accepted_values needs a non-empty list 'values'")
            for value in values:
                quote_literal(value)
        if kind == "sql":
            if not isinstance(check.get("sql"), str) or not check["sql"].strip():
                raise ValueError("sql check needs 'sql'")
            if not {"expected", "expected_sql", "min", "max"} & set(check):
                raise ValueError("sql check needs one of expected, expected_sql, min, max")
        if kind == "row_count" and "min" in check and not isinstance(check["min"], int):
            raise ValueError("row_count min must be an integer")
        if "details_sql" in check and (not isinstance(check["details_sql"], str) or not check["details_sql"].strip()):
            raise ValueError("details_sql must be a non-empty query")
        if "accepted_by_param" in check and not isinstance(check["accepted_by_param"], str):
            raise ValueError("accepted_by_param must name a run param")

    # ------------------------------------------------------------------ compilation
    @staticmethod
    def _label(check: dict[str, Any]) -> str:
        kind = check["check"]
        target = check.get("table", "")
        if check.get("name"):
            detail = check["name"]
        elif kind == "unique":
            detail = ", ".join(check.get("columns") or [check["column"]])
        elif kind == "relationships":
            detail = f"{check['column']} -> {check['to']}.{check['field']}"
        else:
            detail = check.get("column", "")
        where = f" where {check['where']}" if check.get("where") else ""
        call = f"{kind}({detail})" if detail else kind
        return f"{target} {call}{where}".strip()

    @staticmethod
    def _build_check_sql(check: dict[str, Any]) -> str:
        """The query whose first column of the first row is the check's observed value."""
        kind = check["check"]
        if kind == "sql":
            return check["sql"].strip().rstrip(";")
        table = check["table"]
        where = f"({check['where']})" if check.get("where") else ""
        conditions = " AND ".join(filter(None, [where]))
        if kind == "row_count":
            return f"SELECT COUNT(*) FROM {table}" + (f" WHERE {conditions}" if conditions else "")
        if kind == "not_null":
            predicate = " AND ".join(filter(None, [f"{check['column']} IS NULL", where]))
            return f"SELECT COUNT(*) FROM {table} WHERE {predicate}"
        if kind == "unique":
            key = ", ".join(check.get("columns") or [check["column"]])
            filter_clause = f" WHERE {conditions}" if conditions else ""
            return (
                f"SELECT COUNT(*) FROM (SELECT {key} FROM {table}{filter_clause} "
                f"GROUP BY {key} HAVING COUNT(*) > 1) duplicates"
            )
        if kind == "relationships":
            column, parent, field = check["column"], check["to"], check["field"]
            predicate = " AND ".join(
                filter(
                    None,
                    [
                        f"child.{column} IS NOT NULL",
                        where,
                        f"NOT EXISTS (SELECT 1 FROM {parent} parent WHERE parent.{field} = child.{column})",
                    ],
                )
            )
            return f"SELECT COUNT(*) FROM {table} child WHERE {predicate}"
        if kind == "accepted_values":
            values = ", ".join(quote_literal(v) for v in check["values"])
            column = check["column"]
            predicate = " AND ".join(
                filter(None, [f"{column} IS NOT NULL", f"{column} NOT IN ({values})", where])
            )
            return f"SELECT COUNT(*) FROM {table} WHERE {predicate}"
        raise ValueError(f"unknown check {kind!r}")

    @staticmethod
    def _expectation(check: dict[str, Any]) -> tuple[str, Any]:
        """(kind, value): ('eq', x), ('eq_sql', sql) or ('range', (min, max))."""
        kind = check["check"]
        if kind == "row_count":
            return "range", (check.get("min", 1), check.get("max"))
        if kind == "sql":
            if "expected_sql" in check:
                return "eq_sql", check["expected_sql"].strip().rstrip(";")
            if "expected" in check:
                return "eq", check["expected"]
            return "range", (check.get("min"), check.get("max"))
        return "eq", 0

    # ------------------------------------------------------------------ evaluation
    @staticmethod
    def _fetch_scalar(cursor, sql: str) -> Any:
        cursor.execute(sql)
        row = cursor.fetchone()
        if row is None:
            raise ValueError("query returned no row")
        return _number(row[0])

    @staticmethod
    def _fetch_details(cursor, sql: str) -> list[str]:
        """The first :data:`DETAILS_LIMIT` rows of ``sql``, each as ``column=value, ...``."""
        try:
            cursor.execute(sql.strip().rstrip(";"))
            rows = cursor.fetchmany(DETAILS_LIMIT + 1)
            names = [column[0] for column in cursor.description or []]
        except Exception as err:  # the check's verdict stands; say why the rows are missing
            return [f"(details_sql failed: {type(err).__name__}: {err})".strip()]
        lines = [", ".join(f"{name}={value}" for name, value in zip(names, row, strict=False)) for row in rows]
        if len(lines) > DETAILS_LIMIT:
            lines[DETAILS_LIMIT:] = [f"... (first {DETAILS_LIMIT} rows shown)"]
        return lines

    def _evaluate(self, cursor, check: dict[str, Any], params: dict[str, Any] | None = None) -> CheckResult:
        result = self._verdict(cursor, check)
        if result.passed or result.error:
            return result
        param = check.get("accepted_by_param")
        if param and (params or {}).get(param) is True:
            result.passed, result.accepted_by = True, param
        if check.get("details_sql"):
            result.details = self._fetch_details(cursor, check["details_sql"])
        return result

    def _verdict(self, cursor, check: dict[str, Any]) -> CheckResult:
        label = self._label(check)
        sql = self._build_check_sql(check)
        self.log.debug("%s: %s", label, sql)
        kind, expectation = self._expectation(check)
        try:
            observed = self._fetch_scalar(cursor, sql)
            if kind == "eq_sql":
                expectation = self._fetch_scalar(cursor, expectation)
                kind = "eq"
        except Exception as err:  # a broken query is a failed check, reported with the others
            return CheckResult(label, None, "", False, error=f"{type(err).__name__}: {err}".strip())
        if kind == "eq":
            expected_text = str(_number(expectation))
            passed = observed == _number(expectation)
        else:
            low, high = expectation
            expected_text = (
                f">= {low}" if high is None else f"<= {high}" if low is None else f"between {low} and {high}"
            )
            passed = (
                observed is not None
                and (low is None or observed >= low)
                and (high is None or observed <= high)
            )
        return CheckResult(label, observed, expected_text, bool(passed))

    def execute(self, context: Context) -> dict[str, Any]:
        checks = self._load_checks()
        hook = self.get_db_hook()
        results: list[CheckResult] = []
        # One connection in autocommit mode: a check whose query errors does not abort the others.
        with closing(hook.get_conn()) as conn:
            hook.set_autocommit(conn, True)
            with closing(conn.cursor()) as cursor:
                for check in checks:
                    result = self._evaluate(cursor, check, context.get("params"))
                    self.log.info("%s", result.report())
                    results.append(result)
        failed = [r for r in results if not r.passed]
        if failed:
            message = f"{len(failed)} of {len(results)} data quality checks failed:\n" + "\n".join(
                f"  - {r.report()}" for r in failed
            )
            # The reason on a top-level line of the task log, whatever the runner's log groups.
            reasons.announce("FAILED", message, close_group=False)
            # common.sql: AirflowException (retried) or, with retry_on_failure=False, AirflowFailException
            self._raise_exception(message)
        self.log.info("All %d data quality checks passed", len(results))
        # Returned as XCom so reports (the demo, downstream DAGs) can show what was checked.
        return {
            "checks": len(results),
            "failed": 0,
            "results": [{"check": r.label, "observed": r.observed, "expected": r.expected,
                         **({"accepted_by": r.accepted_by} if r.accepted_by else {})} for r in results],
        }
