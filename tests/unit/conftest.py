"""Fixtures for the DAG/operator unit tests: no servers, no metadata database."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest

from tests.hour_context import hour_context

ROOT = Path(__file__).resolve().parents[2]
DAGS_DIR = ROOT / "dags"
SQL_DIR = ROOT / "sql"


@pytest.fixture(scope="session")
def dagbag():
    """Every DAG file of dags/, parsed the way the DAG processor parses them."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR), safe_mode=False)


@pytest.fixture(scope="session")
def etl_dag(dagbag):
    return dagbag.dags["sparkify_etl"]


@pytest.fixture
def render(etl_dag):
    """render(value, start) -> value rendered with the DAG's Jinja env for the hour starting at start.

    Uses Airflow's real ``var`` accessor, so Variables come from ``AIRFLOW_VAR_*`` (monkeypatch them).
    """
    env = etl_dag.get_template_env()

    def _render(task, value, start: str):
        context = hour_context(etl_dag, task, pendulum.parse(start, tz="UTC"))
        return task.render_template(value, context, env)

    return _render


class FakeCursor:
    """A DB-API cursor answering ``fetchone`` from a function of the last SQL executed.

    The function returns one row (a tuple), an exception to raise, or ``{"columns": [...], "rows": [...]}``
    for a query read with ``fetchmany`` (then ``description`` names the columns).
    """

    def __init__(self, answer):
        self.answer = answer
        self.executed: list[str] = []
        self._last = None
        self.description = None

    def execute(self, sql, parameters=None):
        self.executed.append(sql)
        self._last = self.answer(sql)
        self.description = None
        if isinstance(self._last, Exception):
            raise self._last
        if isinstance(self._last, dict):
            self.description = [(name, None) for name in self._last["columns"]]

    def fetchone(self):
        if isinstance(self._last, dict):
            return self._last["rows"][0] if self._last["rows"] else None
        return self._last

    def fetchmany(self, size):
        if isinstance(self._last, dict):
            return list(self._last["rows"][:size])
        return [self._last][:size]

    def close(self):
        pass


class FakeConnection:
    def __init__(self, cursor):
        self._cursor = cursor
        self.autocommit = False
        self.closed = False

    def cursor(self):
        return self._cursor

    def close(self):
        self.closed = True


class FakeHook:
    """Stands in for RedshiftSQLHook/PostgresHook: records ``run`` calls, serves a FakeCursor."""

    def __init__(self, answer=None, run_result=None):
        self.cursor = FakeCursor(answer or (lambda sql: (0,)))
        self.connection = FakeConnection(self.cursor)
        self.run_calls: list[dict] = []
        self.run_result = run_result
        self.autocommit_set: list[bool] = []

    def run(self, sql, autocommit=False, parameters=None, handler=None, return_last=True, **kwargs):
        self.run_calls.append({"sql": sql, "autocommit": autocommit, "handler": handler})
        if self.run_result is not None:
            return self.run_result
        return [None] * len(sql)

    def get_conn(self):
        return self.connection

    def set_autocommit(self, conn, autocommit):
        self.autocommit_set.append(autocommit)
        conn.autocommit = autocommit


@pytest.fixture
def fake_hook_factory():
    return FakeHook


def _import_dag_file(path: Path, module_name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def raw_dags():
    """The DAGs as their files define them, before the DagBag resolves template files into content."""
    return {
        path.stem: _import_dag_file(path, f"_raw_{path.stem}").dag for path in sorted(DAGS_DIR.glob("*.py"))
    }
