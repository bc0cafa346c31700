"""Unit tests of the run-safety pieces: intervals of runs without a logical date, fail-fast render errors,
the staging cache's fingerprint/skip logic, the publish transaction, and devstack's run convention."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pendulum
import pytest

from sparkify.failfast import RenderErrorsFailFast, raised_while_rendering
from sparkify.publish import PublishOperator, split_statements
from sparkify.staging import Listing, StagingCache, check_single_file
from tests.unit.conftest import SQL_DIR


# --- runs without a logical date --------------------------------------------------------------
def manual_context(dag, task, run_after: str) -> dict:
    """What Airflow 3 gives a run triggered without a logical date: no data_interval_* keys at all."""
    from airflow.sdk.execution_time.context import VariableAccessor

    return {
        "dag_run": SimpleNamespace(run_after=pendulum.parse(run_after), logical_date=None),
        "var": {"value": VariableAccessor(deserialize_json=False), "json": VariableAccessor(True)},
        "params": {}, "task": task, "dag": dag,
    }


@pytest.mark.parametrize("task_id", ["load_songplays_fact", "load_users_dim", "load_time_dim"])
def test_manual_run_without_logical_date_renders_the_last_complete_hour(etl_dag, task_id):
    task = etl_dag.get_task(task_id)
    env = etl_dag.get_template_env()
    context = manual_context(etl_dag, task, "2018-11-15T14:20:00+00:00")
    sql = task.render_template(task.sql, context, env)
    assert "'2018-11-15 13:00:00'" in sql and "'2018-11-15 14:00:00'" in sql
    assert task.render_template(task.interval_start, context, env) == "2018-11-15 13:00:00"


def test_manual_run_stages_the_day_of_the_last_complete_hour(etl_dag):
    """Just after midnight the last complete hour is the previous day's 23:00: its day file and table."""
    task = etl_dag.get_task("stage_events")
    env = etl_dag.get_template_env()
    context = manual_context(etl_dag, task, "2018-11-16T00:05:00+00:00")
    assert task.render_template(task.s3_key, context, env) == "log_data/2018/11/2018-11-15-events.json"
    assert task.render_template(task.table, context, env) == "staging_events_20181115"
    checks = etl_dag.get_task("run_quality_checks")
    rendered = checks.render_template(checks.checks, manual_context(etl_dag, checks, "2018-11-16T00:05:00Z"), env)
    assert "staging_events_20181115" in rendered and "'2018-11-15 23:00:00'" in rendered


def test_the_raw_templates_never_name_the_context_interval(raw_dags):
    """data_interval_start is undefined in runs without a logical date: templates use the macros."""
    offenders = [path.name for path in SQL_DIR.rglob("*") if path.is_file() and "data_interval_" in
                 "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("--"))]
    assert offenders == []


# --- render errors fail fast -------------------------------------------------------------------
def test_render_error_fails_without_retry(etl_dag):
    from airflow.sdk.definitions.retry_policy import RetryAction

    policy = etl_dag.default_args["retry_policy"]
    assert isinstance(policy, RenderErrorsFailFast)
    env = etl_dag.get_template_env()
    task = etl_dag.get_task("stage_events")
    with pytest.raises(jinja2.UndefinedError) as caught:
        task.render_template("{{ data_interval_start.strftime('%Y') }}", manual_context(etl_dag, task, "2018-11-15T14:00Z"), env)
    decision = policy.evaluate(caught.value, try_number=1, max_tries=4, context={"task": task})
    assert decision.action is RetryAction.FAIL
    assert decision.reason.startswith("TEMPLATE RENDER ERROR of task stage_events, not retried:")
    assert "data_interval_start" in decision.reason


def test_errors_raised_while_rendering_fail_fast_others_retry():
    from airflow.sdk.definitions.retry_policy import RetryAction

    def render_templates():  # the Task SDK's frame name
        raise KeyError("Variable sparkify_s3_bucket does not exist")

    with pytest.raises(KeyError) as during_render:
        render_templates()
    with pytest.raises(ConnectionError) as during_execute:
        raise ConnectionError("server closed the connection")
    policy = RenderErrorsFailFast()
    assert raised_while_rendering(during_render.value)
    assert policy.evaluate(during_render.value, 1, 4).action is RetryAction.FAIL
    assert not raised_while_rendering(during_execute.value)
    assert policy.evaluate(during_execute.value, 1, 4).action is RetryAction.DEFAULT


# --- staging cache -----------------------------------------------------------------------------
DAY = "s3://bucket/log_data/2018/11/2018-11-01-events.json"


def test_fingerprint_follows_keys_etags_and_sizes():
    base = Listing(DAY, (("log_data/2018/11/2018-11-01-events.json", "e1", 10),))
    assert base.fingerprint == Listing(DAY, base.objects).fingerprint
    for changed in ((("log_data/2018/11/2018-11-01-events.json", "e2", 10),),
                    (("log_data/2018/11/2018-11-01-events.json", "e1", 11),),
                    (("log_data/2018/11/2018-11-01-events.jsonl", "e1", 10),)):
        assert Listing(DAY, changed).fingerprint != base.fingerprint


def test_day_file_must_be_one_non_empty_object():
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    key = "log_data/2018/11/2018-11-01-events.json"
    check_single_file(Listing(DAY, ((key, "e", 5),)))
    with pytest.raises(AirflowFailException, match=r"2 objects match .*events\.json, .*events\.json\.bak"):
        check_single_file(Listing(DAY, ((key, "e", 5), (key + ".bak", "f", 5))))
    with pytest.raises(AirflowFailException, match="empty \\(0 bytes\\)"):
        check_single_file(Listing(DAY, ((key, "e", 0),)))
    with pytest.raises(AirflowException, match="no object at"):
        check_single_file(Listing(DAY, ()))


class StateHook:
    """A DB hook answering the cache's two queries: the state row and the table's row count."""

    def __init__(self, state, rows):
        self.state, self.rows = state, rows

    def get_first(self, sql):
        if "FROM staging_state" in sql:
            return self.state
        if self.rows is None:
            raise RuntimeError("relation does not exist")
        return (self.rows,)


LISTING = Listing(DAY, (("log_data/2018/11/2018-11-01-events.json", "e", 5),))
TASK = SimpleNamespace(schema="public", table="staging_events_20181101")
TABLE = "public.staging_events_20181101"


@pytest.mark.parametrize(
    ("state", "rows", "require_published", "skips"),
    [
        ((LISTING.fingerprint, 7, TABLE, None), 7, False, True),     # unchanged: skip
        (None, 7, False, False),                                      # never staged
        (("other", 7, TABLE, None), 7, False, False),                 # the source changed
        ((LISTING.fingerprint, 7, TABLE, None), 6, False, False),     # the table lost rows
        ((LISTING.fingerprint, 7, TABLE, None), None, False, False),  # the table was dropped
        ((LISTING.fingerprint, 7, "public.other", None), 7, False, False),
        ((LISTING.fingerprint, 7, TABLE, None), 7, True, False),      # catalog staged, never published
        ((LISTING.fingerprint, 7, TABLE, LISTING.fingerprint), 7, True, True),
    ],
)
def test_unchanged_reason(monkeypatch, state, rows, require_published, skips):
    cache = StagingCache(single_file=True, require_published=require_published)
    monkeypatch.setattr(StagingCache, "db_hook", staticmethod(lambda task: StateHook(state, rows)))
    reason = cache.unchanged_reason(TASK, LISTING)
    assert (reason is not None) == skips
    if skips:
        assert reason.startswith(f"unchanged source: {DAY}") and "\n" not in reason


def test_pre_execute_skips_unless_forced(monkeypatch):
    from airflow.sdk.exceptions import AirflowSkipException

    cache = StagingCache(single_file=True)
    monkeypatch.setattr(StagingCache, "listing", lambda self, task: LISTING)
    monkeypatch.setattr(StagingCache, "unchanged_reason", lambda self, task, listing: "unchanged source: x")
    task = SimpleNamespace()
    with pytest.raises(AirflowSkipException, match="unchanged source"):
        cache.pre_execute({"task": task, "params": {"force_restage": False}})
    cache.pre_execute({"task": task, "params": {"force_restage": True}})  # copies
    assert task.sparkify_listing is LISTING


# --- publish -----------------------------------------------------------------------------------
def publish_operator(etl_dag) -> PublishOperator:
    task = etl_dag.get_task("publish")
    env = etl_dag.get_template_env()
    from tests.hour_context import hour_context

    task = task.prepare_for_execution()
    task.render_template_fields(hour_context(etl_dag, task, pendulum.datetime(2018, 11, 1, 13, tz="UTC")), env)
    return task


def test_publish_is_one_locked_transaction(etl_dag):
    task = publish_operator(etl_dag)
    hour_only = task.build_statements("run-1", with_catalog=False)
    assert hour_only[0] == "LOCK publish_log"
    assert hour_only[-1].startswith("INSERT INTO publish_log")
    targets = [s.split()[2] for s in hour_only[1:-1]]
    assert targets == ["songplays", "songplays", '"time"', '"time"', "users", "users"]
    assert all("'2018-11-01 13:00:00'" in s and "'2018-11-01 14:00:00'" in s for s in hour_only[1:])
    with_catalog = task.build_statements("run-1", with_catalog=True)
    extra = with_catalog[len(hour_only) - 1:-1]
    assert [s.split()[0] for s in extra] == ["DELETE", "INSERT", "DELETE", "INSERT", "UPDATE"]
    assert "published_fingerprint = fingerprint" in extra[-1] and "s3://udacity-dend/song_data/" in extra[-1]
    assert not any("TRUNCATE" in s.upper() for s in with_catalog)


def test_publish_includes_the_catalog_only_when_rebuilt(etl_dag):
    task = publish_operator(etl_dag)
    ran = SimpleNamespace(xcom_pull=lambda task_ids: {"inserted": 3})
    skipped = SimpleNamespace(xcom_pull=lambda task_ids: None if task_ids == "load_artists_dim" else {"x": 1})
    assert task.catalog_restaged({"ti": ran}) is True
    assert task.catalog_restaged({"ti": skipped}) is False


def test_split_statements_drops_comments():
    assert split_statements("-- a\nDELETE FROM x;\n\n-- b\nINSERT INTO x SELECT 1;\n") == [
        "DELETE FROM x", "INSERT INTO x SELECT 1"]


# --- devstack's run convention -----------------------------------------------------------------
def test_a_second_devstack_window_waits_for_the_first(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys
    import time

    from devstack.dagrun import exclusive_window

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         f"lock = open({str(tmp_path / 'dagrun.lock')!r}, 'w'); fcntl.flock(lock, fcntl.LOCK_EX)\n"
         "print('locked', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        began = time.monotonic()
        with exclusive_window():
            waited = time.monotonic() - began
    finally:
        holder.wait(timeout=30)
    assert waited >= 1.0
    assert "another devstack run holds" in capsys.readouterr().out
