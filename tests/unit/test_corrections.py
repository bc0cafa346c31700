"""Unit tests of late plays, corrections, catalog announcements and visible reasons (no servers).

The behaviour itself is proven through the real scheduler in tests/scheduler/test_scheduler_corrections.py;
these pin the pieces: the reason lines and log groups, the staging hooks' decisions, the quality operator's
``details_sql`` and ``accepted_by_param``, the project's gate declarations, and ``announce_catalog``.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from sparkify import reasons
from sparkify.announce import AnnounceCatalogOperator
from sparkify.quality import DETAILS_LIMIT, DataQualityOperator
from sparkify.staging import Listing, StagingCache, check_single_file
from tests.hour_context import hour_context


def messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "sparkify.reasons"]


# --- reasons ------------------------------------------------------------------------------------
def test_skip_closes_the_runners_group_then_logs_the_reason(caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(AirflowSkipException, match="^unchanged source$"):
        reasons.skip("unchanged source")
    assert messages(caplog) == ["::endgroup::", "SKIPPED: unchanged source"]


def test_fail_does_not_retry_unless_asked_and_can_leave_groups_alone(caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(AirflowFailException, match="^broken$"):
        reasons.fail("broken")
    with pytest.raises(AirflowException) as retried:
        reasons.fail("missing", retry=True, close_group=False)
    assert not isinstance(retried.value, AirflowFailException)
    assert messages(caplog) == ["::endgroup::", "FAILED: broken", "FAILED: missing"]


def test_the_task_runner_still_opens_pre_execute_before_the_hooks_and_closes_it_after():
    """The group reasons.skip/fail close: pre_execute hooks run inside "::group::Pre Execute", which the
    runner ends only after them; an exception leaving a hook is logged inside it unless we close it."""
    import inspect

    from airflow.sdk.execution_time import task_runner

    source = inspect.getsource(task_runner._execute_task)
    hooks, end = source.index("_pre_execute_hook"), source.index('log.info("::endgroup::")')
    assert hooks < end < source.index("_run_execute_callable")
    assert 'log.info("::group::Pre Execute")' in inspect.getsource(task_runner.main)


# --- staging hooks ------------------------------------------------------------------------------
CATALOG = Listing("s3://bucket/song_data/", ())
DAY_KEY = "log_data/2018/11/2018-11-02-events.json"
NEXT_DAY = Listing(f"s3://bucket/{DAY_KEY}", ((DAY_KEY, "e", 5),))


class RecordingHook:
    def __init__(self):
        self.runs: list[list[str]] = []
        self.queries: list[str] = []

    def run(self, sql, autocommit=False):
        self.runs.append(sql)

    def get_first(self, sql):
        self.queries.append(sql)
        return None


def cache_with(monkeypatch, cache: StagingCache, listing: Listing) -> RecordingHook:
    hook = RecordingHook()
    monkeypatch.setattr(StagingCache, "listing", lambda self, task: listing)
    monkeypatch.setattr(StagingCache, "db_hook", staticmethod(lambda task: hook))
    return hook


def test_an_empty_catalog_prefix_fails_at_once_saying_so(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    cache_with(monkeypatch, StagingCache(single_file=False, require_published=True), CATALOG)
    with pytest.raises(AirflowFailException) as failed:
        StagingCache(single_file=False).pre_execute({"task": SimpleNamespace(schema="public", table="t"),
                                                     "params": {}})
    assert str(failed.value) == "song catalog prefix s3://bucket/song_data/ holds no objects"
    assert messages(caplog)[-1] == "FAILED: song catalog prefix s3://bucket/song_data/ holds no objects"


def test_a_missing_next_day_file_empties_its_table_and_skips(monkeypatch):
    cache = StagingCache(single_file=True, optional=True, keyed_by_table=True)
    hook = cache_with(monkeypatch, cache, Listing(NEXT_DAY.source, ()))
    task = SimpleNamespace(schema="public", table="staging_events_next_day_20181101")
    with pytest.raises(AirflowSkipException, match=r"no object at s3://bucket/.*2018-11-02-events\.json yet"):
        cache.pre_execute({"task": task, "params": {}})
    assert hook.runs == [[
        "DELETE FROM public.staging_events_next_day_20181101",
        f"DELETE FROM staging_state WHERE source = '{NEXT_DAY.source} into public.staging_events_next_day_20181101'",
    ]]


def test_the_next_day_copy_keeps_its_own_state_row(monkeypatch):
    """The next day's file is also that day's own day file: the two copies must not evict each other."""
    cache = StagingCache(single_file=True, optional=True, keyed_by_table=True)
    hook = cache_with(monkeypatch, cache, NEXT_DAY)
    task = SimpleNamespace(schema="public", table="staging_events_next_day_20181101")
    cache.pre_execute({"task": task, "params": {}})  # nothing recorded: copies
    assert f"WHERE source = '{NEXT_DAY.source} into public.staging_events_next_day_20181101'" in hook.queries[0]
    own = StagingCache(single_file=True)
    assert own.state_source(SimpleNamespace(schema="public", table="staging_events_20181102"), NEXT_DAY) \
        == NEXT_DAY.source


def test_an_empty_day_file_is_staged_only_with_accept_smaller_hour():
    empty = Listing(NEXT_DAY.source, ((DAY_KEY, "e", 0),))
    with pytest.raises(AirflowFailException, match="accept_smaller_hour"):
        check_single_file(empty)
    check_single_file(empty, allow_empty=True)


# --- the quality operator: details_sql, accepted_by_param -----------------------------------------
SHRINK = {"name": "shrinks", "table": "songplays", "check": "sql", "sql": "SELECT COUNT(*) FROM removed",
          "expected": 0, "details_sql": "SELECT * FROM removed", "accepted_by_param": "accept_smaller_hour"}
ROWS = {"columns": ["start_time", "session_id"], "rows": [(f"2018-11-01 02:{i:02d}:00", i) for i in range(25)]}


def run_checks(checks, params, monkeypatch, fake_hook_factory):
    op = DataQualityOperator(task_id="quality", checks=checks)
    hook = fake_hook_factory(answer=lambda sql: ROWS if sql == "SELECT * FROM removed" else (25,))
    monkeypatch.setattr(op, "get_db_hook", lambda: hook)
    return op.execute({"params": params})


def test_a_failed_check_names_its_offending_rows(monkeypatch, fake_hook_factory):
    with pytest.raises(AirflowException) as failed:
        run_checks([SHRINK], {}, monkeypatch, fake_hook_factory)
    text = str(failed.value)
    assert "FAIL songplays sql(shrinks): observed 25, expected 0" in text
    assert "start_time=2018-11-01 02:00:00, session_id=0" in text
    assert f"session_id={DETAILS_LIMIT - 1}" in text and f"session_id={DETAILS_LIMIT}" not in text
    assert f"... (first {DETAILS_LIMIT} rows shown)" in text


def test_a_run_param_accepts_a_failure_and_the_rows_are_logged(monkeypatch, fake_hook_factory, capsys):
    result = run_checks([SHRINK], {"accept_smaller_hour": True}, monkeypatch, fake_hook_factory)
    assert result["results"][0]["accepted_by"] == "accept_smaller_hour"
    logged = capsys.readouterr().out
    assert "ACCEPTED songplays sql(shrinks): observed 25, expected 0 (accepted by run param accept_smaller_hour)" \
        in logged
    assert "start_time=2018-11-01 02:19:00, session_id=19" in logged


def test_a_param_accepts_only_the_checks_that_name_it(monkeypatch, fake_hook_factory):
    other = {**SHRINK, "name": "strict"}
    del other["accepted_by_param"]
    with pytest.raises(AirflowException, match=r"(?s)1 of 2 .*FAIL songplays sql\(strict\)"):
        run_checks([SHRINK, other], {"accept_smaller_hour": True}, monkeypatch, fake_hook_factory)


# --- the project's gate -------------------------------------------------------------------------
def gate(etl_dag, params=None):
    task = etl_dag.get_task("run_quality_checks")
    context = hour_context(etl_dag, task, pendulum.datetime(2018, 11, 23, 23, tz="UTC"))
    context["params"] = params or {}
    rendered = task.render_template(task.checks, context, etl_dag.get_template_env())
    return {check.get("name"): check for check in DataQualityOperator(task_id="q", checks=rendered)._load_checks()}


def test_the_shrink_check_is_the_one_accept_smaller_hour_overrides(etl_dag):
    checks = gate(etl_dag)
    shrink = checks["hour_does_not_shrink"]
    assert shrink["accepted_by_param"] == "accept_smaller_hour"
    assert "LIMIT 20" in shrink["details_sql"] and "p.session_id, p.item_in_session" in shrink["details_sql"]
    assert [name for name, check in checks.items() if "accepted_by_param" in check] == ["hour_does_not_shrink"]


def test_late_plays_of_the_day_file_are_named_by_ts_user_session_and_file(etl_dag):
    late = gate(etl_dag)["late_plays_in_the_day_file_never_published"]
    details = " ".join(late["details_sql"].split())
    assert re.search(r"SELECT e\.ts, e\.userid, e\.sessionid, e\.iteminsession, "
                     r"'s3://udacity-dend/log_data/2018/11/2018-11-23-events\.json' AS file", details)
    assert details.endswith("LIMIT 20")
    # a play is lost when its hour was published without it, or when no hour can read it (over a day off)
    assert "TIMESTAMP '2018-11-23 00:00:00' - INTERVAL '1 day'" in late["sql"]
    assert "TIMESTAMP '2018-11-23 00:00:00' + INTERVAL '1 day'" in late["sql"]
    assert "FROM publish_log l" in late["sql"] and "FROM songplays p WHERE p.start_time = e.ts" in late["sql"]


# --- announce_catalog ---------------------------------------------------------------------------
def announce(result):
    from sparkify import assets

    op = AnnounceCatalogOperator(task_id="announce_catalog", outlets=[assets.SONGS, assets.ARTISTS])
    return op.execute({"ti": SimpleNamespace(xcom_pull=lambda task_ids: result)})


@pytest.mark.parametrize("result", [None, {"catalog": False, "statements": 9}])
def test_announce_catalog_skips_unless_the_catalog_was_published(result):
    with pytest.raises(AirflowSkipException, match="not published in this run"):
        announce(result)


def test_announce_catalog_succeeds_when_the_catalog_was_published():
    assert announce({"catalog": True}) == {"announced": ["sparkify.public.songs", "sparkify.public.artists"]}
