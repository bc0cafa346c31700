"""sparkify.notify: what a failure or late-hour message says, when one is sent, and the DAG's wiring.

The sending itself goes to a real SMTP server in tests/integration/test_mailsink.py and through the real
scheduler in tests/scheduler/test_notifications.py; here the channel is patched (our own logic only).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from sparkify import notify

GATE_FAILURE = (
    "2 of 30 data quality checks failed:\n"
    "  - FAIL audit_songplays accepted_values(level) where start_time >= '2018-11-01 15:00:00': observed 1, "
    "expected 0\n"
    "      songplay_id=abc, level=premium\n"
    "  - FAIL songplays sql(hour_does_not_shrink): observed 3, expected >= 5\n"
)


def ti(**overrides):
    fields = {"dag_id": "sparkify_etl", "run_id": "manual__2018-11-01T15:00:00+00:00", "task_id": "run_quality_checks",
              "try_number": 1, "log_url": "http://ui/dags/sparkify_etl/runs/r/tasks/run_quality_checks?try_number=1"}
    return SimpleNamespace(**{**fields, **overrides})


def context(exception=None, **ti_fields):
    start = datetime(2018, 11, 1, 15, tzinfo=UTC)
    return {"ti": ti(**ti_fields), "data_interval_start": start, "data_interval_end": start + timedelta(hours=1),
            "exception": exception}


def test_the_late_delay_defaults_to_two_hours_and_reads_the_environment():
    assert notify.late_after({}) == timedelta(hours=2)
    assert notify.late_after({notify.LATE_AFTER_ENV: "0.5"}) == timedelta(seconds=30)
    for bad in ("0", "-3", "two hours"):
        with pytest.raises(ValueError, match=notify.LATE_AFTER_ENV):
            notify.late_after({notify.LATE_AFTER_ENV: bad})


def test_the_reason_keeps_the_first_line_and_the_failed_checks_not_their_rows():
    lines = notify.reason_lines(GATE_FAILURE)
    assert lines == [
        "2 of 30 data quality checks failed:",
        "- FAIL audit_songplays accepted_values(level) where start_time >= '2018-11-01 15:00:00': observed 1, "
        "expected 0",
        "- FAIL songplays sql(hour_does_not_shrink): observed 3, expected >= 5",
    ]


def test_the_reason_of_an_exception_names_its_type_and_is_bounded():
    assert notify.reason_lines(ValueError("bad value\nsecond line")) == ["ValueError: bad value"]
    many = "many failed:\n" + "\n".join(f"  - FAIL check {i}" for i in range(40))
    lines = notify.reason_lines(many)
    assert len(lines) == notify.MAX_REASON_LINES + 1 and lines[-1].startswith("... (29 more")
    assert len(notify.reason_lines("x" * 5000)[0]) < notify.MAX_LINE_CHARS + 10
    assert notify.reason_lines(None) == ["(no exception recorded)"]


def test_the_reason_goes_through_the_secrets_masker():
    from airflow.sdk.log import mask_secret

    mask_secret("s3cr3t-password-value")
    assert notify.reason_lines("login failed for s3cr3t-password-value") == ["login failed for ***"]


def test_a_task_failure_message_names_dag_hour_task_try_reason_and_log():
    message = notify.task_failure_message(context(GATE_FAILURE))
    assert message.kind == "failed" and message.run_id == "manual__2018-11-01T15:00:00+00:00"
    assert message.subject == "[sparkify_etl] FAILED run_quality_checks for hour 2018-11-01 15:00 (try 1)"
    body = message.body.splitlines()
    assert body[:4] == ["DAG:    sparkify_etl", "Hour:   2018-11-01 15:00 to 2018-11-01 16:00 (UTC)",
                        "Run:    manual__2018-11-01T15:00:00+00:00",
                        "Task:   run_quality_checks, try 1 (final: no retry left)"]
    assert body[4] == "Reason: 2 of 30 data quality checks failed:"
    assert body[5].strip().startswith("- FAIL audit_songplays accepted_values(level)")
    assert body[-1] == "Log:    http://ui/dags/sparkify_etl/runs/r/tasks/run_quality_checks?try_number=1"
    assert "songplay_id=abc" not in message.body
    assert message.html().startswith("<pre>") and "&#x27;2018-11-01 15:00:00&#x27;" in message.html()
    assert message.all_headers() == {"X-Sparkify-Kind": "failed", "X-Sparkify-Run-Id": message.run_id}


def test_a_late_hour_message_names_the_hour_and_the_state():
    run = {"dag_id": "sparkify_etl", "dag_run_id": "scheduled__2018-11-01T17:00:00+00:00", "state": "running",
           "data_interval_start": "2018-11-01T17:00:00Z", "data_interval_end": "2018-11-01T18:00:00Z"}
    message = notify.late_hour_message(run, {"deadline_time": "2018-11-01T20:00:00Z"}, base_url="http://ui/")
    assert message.kind == "late"
    assert message.subject == "[sparkify_etl] LATE hour 2018-11-01 17:00: run is running"
    assert "Hour:   2018-11-01 17:00 to 2018-11-01 18:00 (UTC)" in message.body
    assert "State:  running (not succeeded by its deadline 2018-11-01T20:00:00Z)" in message.body
    assert "Run page: http://ui/dags/sparkify_etl/runs/scheduled__2018-11-01T17%3A00%3A00%2B00%3A00" in message.body


def test_without_the_connection_nothing_is_sent_and_one_line_says_so(monkeypatch, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_SPARKIFY_ALERTS", raising=False)
    with caplog.at_level(logging.INFO, logger="sparkify.notify"):
        notify.notify_task_failure(context(GATE_FAILURE))
    lines = [record.getMessage() for record in caplog.records if record.name == "sparkify.notify"]
    assert lines == ["NOTIFY: no connection 'sparkify_alerts' configured: nothing sent "
                     "([sparkify_etl] FAILED run_quality_checks for hour 2018-11-01 15:00 (try 1))"]


def test_a_broken_channel_is_logged_and_does_not_raise(monkeypatch, caplog):
    def broken(message, logger=None):
        raise ConnectionRefusedError("no SMTP server")

    monkeypatch.setattr(notify, "send", broken)
    with caplog.at_level(logging.ERROR, logger="sparkify.notify"):
        notify.notify_task_failure(context(GATE_FAILURE))
    assert "could not send the failure notification: ConnectionRefusedError: no SMTP server" in caplog.text


def test_the_dag_sends_final_failures_and_a_late_hour_deadline(etl_dag):
    from sparkify.lateness import HourDue

    assert etl_dag.default_args["on_failure_callback"] is notify.notify_task_failure
    assert "on_retry_callback" not in etl_dag.default_args
    assert not etl_dag.on_failure_callback  # dag.test() cannot run one in Airflow 3.3.2
    assert all(task.on_failure_callback == [notify.notify_task_failure] or
               task.on_failure_callback is notify.notify_task_failure for task in etl_dag.tasks)
    (alert,) = etl_dag.deadline if isinstance(etl_dag.deadline, list) else [etl_dag.deadline]
    assert isinstance(alert.reference, HourDue)
    assert alert.interval == notify.late_after()
    assert alert.callback.path == "sparkify.notify.notify_late_hour"


def test_an_hour_is_due_at_its_end_or_when_its_run_was_created_if_later():
    from sparkify.lateness import due

    end = datetime(2026, 12, 3, 19, tzinfo=UTC)
    assert due(end, end, end + timedelta(seconds=3)) == end + timedelta(seconds=3)  # scheduled: at the hour's end
    assert due(end, end, end - timedelta(seconds=1)) == end
    old = datetime(2018, 11, 1, 16, tzinfo=UTC)  # a backfilled hour: due when created, not in 2018
    assert due(old, old, end) == end
    assert due(None, end + timedelta(hours=1), end) == end + timedelta(hours=1)  # no interval: run_after
    assert due(None, None, end) == end


def test_the_plugin_registers_the_deadline_reference():
    import sparkify_plugin

    from sparkify.lateness import HourDue

    assert sparkify_plugin.SparkifyPlugin.deadline_references == [HourDue]
