"""Templates of sparkify_etl rendered for concrete data intervals (Variables from AIRFLOW_VAR_*)."""

from __future__ import annotations

import re

import pytest

VARIABLES = ("SPARKIFY_S3_BUCKET", "SPARKIFY_LOG_PREFIX", "SPARKIFY_SONG_PREFIX", "SPARKIFY_LOG_JSONPATH")


@pytest.fixture(autouse=True)
def no_variables(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)


@pytest.mark.parametrize(
    ("interval_start", "expected_key"),
    [
        ("2018-11-15T13:00:00", "log_data/2018/11/2018-11-15-events.json"),
        ("2018-11-01T00:00:00", "log_data/2018/11/2018-11-01-events.json"),
        ("2018-11-30T23:00:00", "log_data/2018/11/2018-11-30-events.json"),
        ("2018-12-01T00:00:00", "log_data/2018/12/2018-12-01-events.json"),
        ("2019-01-09T07:00:00", "log_data/2019/01/2019-01-09-events.json"),
    ],
)
def test_events_key_follows_the_data_interval(etl_dag, render, interval_start, expected_key):
    task = etl_dag.get_task("stage_events")
    assert render(task, task.s3_key, interval_start) == expected_key


def test_staging_defaults(etl_dag, render):
    events = etl_dag.get_task("stage_events")
    songs = etl_dag.get_task("stage_songs")
    start = "2018-11-15T13:00:00"
    assert render(events, events.s3_bucket, start) == "udacity-dend"
    options = [render(events, option, start) for option in events.copy_options]
    assert "FORMAT AS JSON 's3://udacity-dend/log_json_path.json'" in options
    assert "TIMEFORMAT 'epochmillisecs'" in options
    assert render(songs, songs.s3_key, start) == "song_data/"
    assert [render(songs, option, start) for option in songs.copy_options] == ["FORMAT AS JSON 'auto'"]


def test_staging_follows_variables(etl_dag, render, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_S3_BUCKET", "other-bucket")
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_LOG_PREFIX", "events/raw")
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_SONG_PREFIX", "catalog")
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_LOG_JSONPATH", "meta/paths.json")
    events = etl_dag.get_task("stage_events")
    songs = etl_dag.get_task("stage_songs")
    start = "2018-11-03T05:00:00"
    assert render(events, events.s3_bucket, start) == "other-bucket"
    assert render(events, events.s3_key, start) == "events/raw/2018/11/2018-11-03-events.json"
    assert "FORMAT AS JSON 's3://other-bucket/meta/paths.json'" in [
        render(events, option, start) for option in events.copy_options
    ]
    assert render(songs, songs.s3_bucket, start) == "other-bucket"
    assert render(songs, songs.s3_key, start) == "catalog/"


def _literals(sql: str) -> set[str]:
    return set(re.findall(r"'(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})'", sql))


@pytest.mark.parametrize(
    "task_id", ["load_songplays_fact", "load_users_dim", "load_time_dim", "run_quality_checks"]
)
def test_interval_sql_is_bounded_by_the_run_interval(etl_dag, render, task_id):
    task = etl_dag.get_task(task_id)
    source = task.sql if hasattr(task, "sql") else task.checks
    rendered = render(task, source, "2018-11-15T13:00:00")
    assert "{{" not in rendered
    # the gate also looks at the day file's plays of other days: bounded by the day's start
    day = {"2018-11-15 00:00:00"} if task_id == "run_quality_checks" else set()
    assert _literals(rendered) == {"2018-11-15 13:00:00", "2018-11-15 14:00:00", *day}


@pytest.mark.parametrize(
    ("interval_start", "expected_key", "table"),
    [
        ("2018-11-15T13:00:00", "log_data/2018/11/2018-11-16-events.json", "staging_events_next_day_20181115"),
        ("2018-11-30T23:00:00", "log_data/2018/12/2018-12-01-events.json", "staging_events_next_day_20181130"),
        ("2018-12-31T23:00:00", "log_data/2019/01/2019-01-01-events.json", "staging_events_next_day_20181231"),
    ],
)
def test_the_next_day_file_is_staged_into_the_run_days_own_table(etl_dag, render, interval_start, expected_key,
                                                                  table):
    task = etl_dag.get_task("stage_events_next_day")
    assert render(task, task.s3_key, interval_start) == expected_key
    assert render(task, task.table, interval_start) == table


@pytest.mark.parametrize("task_id", ["load_songplays_fact", "load_users_dim", "run_quality_checks"])
def test_the_interval_events_come_from_the_day_file_and_the_next_days(etl_dag, render, task_id):
    """Late plays of 23:55 arrive in the next day's file: every reader of the interval's events reads both."""
    task = etl_dag.get_task(task_id)
    rendered = " ".join(render(task, getattr(task, "sql", None) or task.checks, "2018-11-30T23:00:00").split())
    both = ("(SELECT *, 'log_data/2018/11/2018-11-30-events.json' AS source_file FROM staging_events_20181130 "
            "WHERE ts >= '2018-11-30 23:00:00' AND ts < '2018-12-01 00:00:00' UNION ALL "
            "SELECT *, 'log_data/2018/12/2018-12-01-events.json' AS source_file FROM staging_events_next_day_20181130 "
            "WHERE ts >= '2018-11-30 23:00:00' AND ts < '2018-12-01 00:00:00')")
    assert both in rendered


def test_fact_interval_fields_render_to_the_data_interval(etl_dag, render):
    from datetime import datetime

    from sparkify.sqltext import to_utc_naive

    task = etl_dag.get_task("load_songplays_fact")
    start = render(task, task.interval_start, "2018-11-15T13:00:00")
    end = render(task, task.interval_end, "2018-11-15T13:00:00")
    assert to_utc_naive(start, "start") == datetime(2018, 11, 15, 13)
    assert to_utc_naive(end, "end") == datetime(2018, 11, 15, 14)
