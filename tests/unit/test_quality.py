"""DataQualityOperator: declaration parsing, compiled SQL, pass/fail messages (no database)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException

from sparkify.quality import DataQualityOperator

ROOT = Path(__file__).resolve().parents[2]


def operator(checks):
    return DataQualityOperator(task_id="quality", checks=checks)


def run(checks, answer, monkeypatch, fake_hook_factory):
    op = operator(checks)
    hook = fake_hook_factory(answer=answer)
    monkeypatch.setattr(op, "get_db_hook", lambda: hook)
    return op, hook, op.execute({})


# ------------------------------------------------------------------------------- compiled SQL
@pytest.mark.parametrize(
    ("check", "expected_sql"),
    [
        ({"table": "users", "check": "row_count"}, "SELECT COUNT(*) FROM users"),
        (
            {"table": "users", "check": "row_count", "where": "level = 'paid'"},
            "SELECT COUNT(*) FROM users WHERE (level = 'paid')",
        ),
        (
            {"table": "songplays", "check": "not_null", "column": "start_time"},
            "SELECT COUNT(*) FROM songplays WHERE start_time IS NULL",
        ),
        (
            {"table": "songplays", "check": "unique", "columns": ["session_id", "item_in_session"]},
            "SELECT COUNT(*) FROM (SELECT session_id, item_in_session FROM songplays "
            "GROUP BY session_id, item_in_session HAVING COUNT(*) > 1) duplicates",
        ),
        (
            {
                "table": "songplays",
                "check": "relationships",
                "column": "user_id",
                "to": "users",
                "field": "user_id",
            },
            "SELECT COUNT(*) FROM songplays child WHERE child.user_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM users parent WHERE parent.user_id = child.user_id)",
        ),
        (
            {"table": "users", "check": "accepted_values", "column": "level", "values": ["free", "it's"]},
            "SELECT COUNT(*) FROM users WHERE level IS NOT NULL AND level NOT IN ('free', 'it''s')",
        ),
        ({"check": "sql", "sql": "SELECT 1;", "expected": 1}, "SELECT 1"),
    ],
)
def test_compiled_sql(check, expected_sql):
    assert DataQualityOperator._build_check_sql(check) == expected_sql


# ------------------------------------------------------------------------------- pass / fail
CHECKS = [
    {"table": "songs", "check": "row_count"},
    {"table": "songplays", "check": "not_null", "column": "start_time"},
    {"table": "songplays", "check": "relationships", "column": "user_id", "to": "users", "field": "user_id"},
    {"table": "users", "check": "accepted_values", "column": "level", "values": ["free", "paid"]},
    {
        "name": "plays_equal_events",
        "table": "songplays",
        "check": "sql",
        "sql": "SELECT COUNT(*) FROM songplays",
        "expected_sql": "SELECT COUNT(*) FROM staging_events",
    },
]


def healthy(sql):
    if sql == "SELECT COUNT(*) FROM songs":
        return (71,)
    if sql.endswith("FROM songplays") or sql.endswith("FROM staging_events"):
        return (12,)
    return (0,)


def test_all_checks_pass_and_each_logs_its_observed_value(monkeypatch, fake_hook_factory, capsys):
    op, hook, result = run(CHECKS, healthy, monkeypatch, fake_hook_factory)
    assert (result["checks"], result["failed"]) == (len(CHECKS), 0)
    observed = {entry["check"]: entry["observed"] for entry in result["results"]}
    assert observed == {DataQualityOperator._label(check): healthy(DataQualityOperator._build_check_sql(check))[0]
                        for check in CHECKS}
    assert hook.autocommit_set == [True] and hook.connection.closed
    out = capsys.readouterr().out
    pass_lines = [line for line in out.splitlines() if "PASS " in line]
    assert len(pass_lines) == len(CHECKS)
    assert any("songs row_count: observed 71, expected >= 1" in line for line in pass_lines)
    assert any("plays_equal_events" in line and "observed 12, expected 12" in line for line in pass_lines)


def test_failure_lists_every_failed_check(monkeypatch, fake_hook_factory):
    def broken(sql):
        if sql == "SELECT COUNT(*) FROM songs":
            return (0,)
        if "parent.user_id" in sql:
            return (3,)
        if sql.endswith("FROM staging_events"):
            return (13,)
        if sql.endswith("FROM songplays"):
            return (12,)
        return (0,)

    with pytest.raises(AirflowException) as excinfo:
        run(CHECKS, broken, monkeypatch, fake_hook_factory)
    message = str(excinfo.value)
    assert message.startswith("3 of 5 data quality checks failed")
    assert "songs row_count: observed 0, expected >= 1" in message
    assert "songplays relationships(user_id -> users.user_id): observed 3, expected 0" in message
    assert "songplays sql(plays_equal_events): observed 12, expected 13" in message
    assert "not_null" not in message and "accepted_values" not in message


def test_a_query_error_is_a_failed_check_and_the_others_still_run(monkeypatch, fake_hook_factory):
    def answer(sql):
        if "not_a_table" in sql:
            return RuntimeError('relation "not_a_table" does not exist')
        return (1,)

    checks = [{"table": "not_a_table", "check": "row_count"}, {"table": "songs", "check": "row_count"}]
    op = operator(checks)
    hook = fake_hook_factory(answer=answer)
    monkeypatch.setattr(op, "get_db_hook", lambda: hook)
    with pytest.raises(AirflowException, match=r"(?s)1 of 2 .*not_a_table row_count: error: RuntimeError"):
        op.execute({})
    assert len(hook.cursor.executed) == 2


def test_row_count_range_and_sql_min(monkeypatch, fake_hook_factory):
    checks = [
        {"table": "users", "check": "row_count", "min": 0, "max": 5},
        {"check": "sql", "sql": "SELECT 7", "min": 1},
    ]
    run(checks, lambda sql: (7,) if sql == "SELECT 7" else (0,), monkeypatch, fake_hook_factory)
    with pytest.raises(AirflowException, match="observed 6, expected between 0 and 5"):
        run(checks, lambda sql: (6,), monkeypatch, fake_hook_factory)


def test_decimal_and_string_results_compare_as_numbers(monkeypatch, fake_hook_factory):
    from decimal import Decimal

    checks = [
        {"check": "sql", "sql": "SELECT a", "expected": 2},
        {"check": "sql", "sql": "SELECT b", "expected": 2},
    ]
    run(checks, lambda sql: (Decimal("2"),) if sql.endswith("a") else ("2",), monkeypatch, fake_hook_factory)


# ------------------------------------------------------------------------------- declaration
@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ([], "non-empty list"),
        ([{"table": "users", "check": "fresh"}], "unknown check 'fresh'"),
        ([{"table": "users", "check": "not_null"}], "invalid column name None"),
        ([{"table": "users", "check": "row_count", "colum": "x"}], "unknown keys"),
        ([{"table": "users; drop", "check": "row_count"}], "invalid table"),
        ([{"check": "sql", "sql": "SELECT 1"}], "needs one of"),
        (
            [{"table": "u", "check": "accepted_values", "column": "c", "values": []}],
            "non-empty list 'values'",
        ),
        ([{"table": "u", "check": "relationships", "column": "c", "to": "p"}], "invalid field name None"),
    ],
)
def test_invalid_declarations_are_rejected_before_any_query(monkeypatch, fake_hook_factory, checks, message):
    op = operator(checks)
    hook = fake_hook_factory()
    monkeypatch.setattr(op, "get_db_hook", lambda: hook)
    with pytest.raises(ValueError, match=re.escape(message)):
        op.execute({})
    assert hook.cursor.executed == []


def test_every_invalid_entry_is_reported_at_once():
    op = operator([{"table": "a", "check": "nope"}, {"table": "b", "check": "row_count"}, {"check": "x"}])
    with pytest.raises(ValueError) as excinfo:
        op._load_checks()
    assert "check #1" in str(excinfo.value) and "check #3" in str(excinfo.value)
    assert "check #2" not in str(excinfo.value)


def test_yaml_and_json_strings_are_accepted():
    assert operator("- {table: users, check: row_count}")._load_checks() == [
        {"table": "users", "check": "row_count"}
    ]
    assert (
        operator('{"checks": [{"table": "users", "check": "row_count"}]}')._load_checks()[0]["table"]
        == "users"
    )


# ------------------------------------------------------------------------------- the project's checks
def project_checks(etl_dag, render, task_id="run_quality_checks", catalog_rebuilt=False):
    """The rendered declaration of a gate task for 2018-11-15T13; optionally in a run that rebuilt the catalog."""
    import pendulum

    from tests.hour_context import hour_context

    task = etl_dag.get_task(task_id)
    context = hour_context(etl_dag, task, pendulum.datetime(2018, 11, 15, 13, tz="UTC"))
    if catalog_rebuilt:
        context["ti"] = SimpleNamespace(xcom_pull=lambda task_ids: {"inserted": 71})
    rendered = task.render_template(task.checks, context, etl_dag.get_template_env())
    return operator(rendered)._load_checks()


def test_the_gate_checks_the_audit_tables_and_the_staged_day_file(etl_dag, render):
    checks = project_checks(etl_dag, render)
    tables = {c["table"] for c in checks}
    assert tables == {"staging_state", "staging_events_20181115", "audit_songplays", "audit_users", "audit_time",
                      "songplays"}
    kinds = {c["check"] for c in checks}
    assert {"not_null", "unique", "relationships", "accepted_values", "sql"} <= kinds
    related = {(c["column"], c["to"]) for c in checks if c["check"] == "relationships"}
    assert related == {("start_time", "audit_time"), ("user_id", "audit_users")}
    names = {c.get("name") for c in checks}
    assert "staging_events_20181115 holds s3://udacity-dend/log_data/2018/11/2018-11-15-events.json " \
           "as recorded in staging_state" in names
    assert "staging_events_next_day_20181115 holds the next day's file as recorded in staging_state " \
           "(nothing while it does not exist)" in names
    assert {"plays_equal_nextsong_events_of_the_day_file", "hour_does_not_shrink",
            "late_plays_in_the_day_file_never_published"} <= names
    # every check of an hourly table is bounded by the interval (cost independent of history)
    for check in checks:
        if check["table"] in {"audit_songplays", "audit_time", "audit_users"} and check["check"] != "sql":
            assert "2018-11-15 13:00:00" in check.get("where", ""), check


def test_the_catalog_is_checked_against_all_history_only_when_rebuilt(etl_dag, render):
    plain = project_checks(etl_dag, render)
    rebuilt = project_checks(etl_dag, render, catalog_rebuilt=True)
    extra = [c for c in rebuilt if c not in plain]
    assert {c["table"] for c in extra} == {"audit_songs", "audit_artists", "songplays"}
    history = {(c["column"], c["to"]) for c in extra if c["table"] == "songplays"}
    assert history == {("song_id", "audit_songs"), ("artist_id", "audit_artists")}
    assert all("where" not in c for c in extra if c["table"] == "songplays")  # all history, not the hour


def test_after_publish_the_hour_points_at_the_published_dimensions(etl_dag, render):
    checks = project_checks(etl_dag, render, task_id="check_published")
    related = {(c["column"], c["to"].strip('"')) for c in checks if c["check"] == "relationships"}
    assert related == {("user_id", "users"), ("song_id", "songs"), ("artist_id", "artists"), ("start_time", "time")}
    assert all("2018-11-15 13:00:00" in c["where"] for c in checks if c["check"] == "relationships")


def test_project_checks_pass_on_an_empty_hour(etl_dag, render, monkeypatch, fake_hook_factory):
    """An hour without events: the audit tables' interval may be empty (0 == 0 everywhere)."""
    checks = project_checks(etl_dag, render)
    catalog = {"audit_songs", "audit_artists"}

    def empty_hour(sql):
        match = re.fullmatch(r"SELECT COUNT\(\*\) FROM (\w+)", sql)
        return (71,) if match and match.group(1) in catalog else (0,)

    run(checks, empty_hour, monkeypatch, fake_hook_factory)


def test_project_checks_fail_when_plays_do_not_reconcile(etl_dag, render, monkeypatch, fake_hook_factory):
    checks = project_checks(etl_dag, render)

    def answer(sql):
        if "FROM staging_events_next_day_20181115 WHERE ts >=" in sql and "WHERE page = 'NextSong'" in sql:
            return (9,)
        return (0,)

    with pytest.raises(
        AirflowException, match=r"(?s)1 of \d+ .*plays_equal_nextsong_events_of_the_day_file.*observed 0, expected 9"
    ):
        run(checks, answer, monkeypatch, fake_hook_factory)
