"""Notifications through the real scheduler, received by the stack's real SMTP sink (aiosmtpd).

The local Airflow's ``sparkify_alerts`` connection (smtp provider) points at the sink, which files every
message in ``<stack>/mail/``. Each test makes one run of its own hour of the seeded day misbehave and
reads the messages of that run (header ``X-Sparkify-Run-Id``) and kind (``X-Sparkify-Kind``):

* a gate failure sends exactly one message, naming the failed check with its observed and expected values;
* a task going up for retry sends nothing;
* without the connection, nothing is sent, the failed task logs one line saying so, and a good run is green;
* a run held past its deadline (``SPARKIFY_LATE_AFTER_MINUTES``, 2 in this session) sends one late-hour
  message naming the hour and the run's state.
"""

from __future__ import annotations

import html
import json
import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import psycopg
import pytest
from browser import artifacts_dir
from conftest import DAG_ID, LATE_AFTER_MINUTES

from devstack.s3server import DUMMY_CREDENTIALS

pytestmark = pytest.mark.timeout(1800)

DAY_KEY = "log_data/2018/11/2018-11-01-events.json"
ALERTS = "sparkify_alerts"
NO_CONNECTION_LINE = f"NOTIFY: no connection '{ALERTS}' configured: nothing sent"


def trigger_hour(api, hour: datetime, **options) -> str:
    """A manual run whose data interval is ``[hour, hour + 1 h)``: for a manual run Airflow gives the last
    complete interval before its logical date, so the logical date is the hour's end."""
    run = api.trigger(DAG_ID, logical_date=hour + timedelta(hours=1), **options)
    assert datetime.fromisoformat(run["data_interval_start"]) == hour, run
    return run["dag_run_id"]


def mail_of(stack, run_id: str, kind: str) -> list:
    return [m for m in stack.mail.messages() if m["X-Sparkify-Run-Id"] == run_id and m["X-Sparkify-Kind"] == kind]


def wait_for_mail(stack, run_id: str, kind: str, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while not (found := mail_of(stack, run_id, kind)):
        if time.monotonic() > deadline:
            subjects = [m["Subject"] for m in stack.mail.messages()]
            raise TimeoutError(f"no {kind} message for {run_id} after {timeout:.0f}s; received: {subjects}")
        time.sleep(2)
    return found


def text_of(message) -> str:
    """The body as the on-call engineer reads it (the provider sends it as HTML: a <pre> block)."""
    return html.unescape(re.sub(r"</?pre>", "", message.get_body(("html", "plain")).get_content()))


def secrets_of(stack) -> dict[str, str]:
    return {"AWS key id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "AWS secret": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "warehouse password": stack.config.password,
            "metadata DB password": stack.config.airflow_db_password}


@contextmanager
def premium_play_in(stack, hour: datetime):
    """The day file with one NextSong play of ``hour`` at level 'premium' (accepted: free, paid)."""
    path = stack.data_dir / DAY_KEY
    lines = path.read_text().splitlines()
    start_ms, end_ms = int(hour.timestamp() * 1000), int((hour + timedelta(hours=1)).timestamp() * 1000)
    index = next(i for i, line in enumerate(lines)
                 if '"NextSong"' in line and start_ms <= json.loads(line)["ts"] < end_ms)
    changed = json.loads(lines[index])
    changed["level"] = "premium"
    bad = [*lines[:index], json.dumps(changed), *lines[index + 1:]]
    s3 = stack.s3_client()
    s3.put_object(Bucket=stack.config.bucket, Key=DAY_KEY, Body="\n".join(bad).encode())
    try:
        yield
    finally:
        s3.put_object(Bucket=stack.config.bucket, Key=DAY_KEY, Body="\n".join(lines).encode())


def test_a_gate_failure_sends_exactly_one_message_with_the_failed_checks(local_airflow, airflow_stack):
    api, hour = local_airflow.api(), datetime(2018, 11, 1, 15, tzinfo=UTC)
    with premium_play_in(airflow_stack, hour):
        run_id = trigger_hour(api, hour)
        final = api.wait_for_run(DAG_ID, run_id, timeout=900)
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run_id)}
    assert final["state"] == "failed" and states["run_quality_checks"] == "failed", states
    wait_for_mail(airflow_stack, run_id, "failed", timeout=120)
    time.sleep(20)  # the run's own failure callback (dag processor) comes after the task's: it must stay silent
    (message,) = mail_of(airflow_stack, run_id, "failed")
    text = text_of(message)
    assert message["To"] == "oncall@sparkify.local"
    assert "[sparkify_etl] FAILED run_quality_checks for hour 2018-11-01 15:00" in message["Subject"]
    assert "Hour:   2018-11-01 15:00 to 2018-11-01 16:00 (UTC)" in text
    assert f"Run:    {run_id}" in text
    assert "Task:   run_quality_checks, try 1 (final: no retry left)" in text
    assert re.search(r"Reason: .*\b\d+ of \d+ data quality checks failed:$", text, re.MULTILINE)
    # One play of the hour was set to 'premium': the accepted-values check observes 1 where 0 is expected.
    failed = [line for line in text.splitlines() if "FAIL audit_songplays accepted_values(level)" in line]
    assert len(failed) == 1 and failed[0].endswith("observed 1, expected 0"), text
    assert f"/dags/{DAG_ID}/runs/{quote(run_id)}/tasks/run_quality_checks?try_number=1" in text
    raw = message.as_string()
    for name, secret in secrets_of(airflow_stack).items():
        assert secret not in raw, name
    # Kept for the reader (CI artifacts): the message as the on-call engineer receives it.
    (artifacts_dir("notifications") / "gate-failure.txt").write_text(
        f"Subject: {message['Subject']}\nFrom: {message['From']}\nTo: {message['To']}\n\n{text}")
    api.close()


def test_a_retry_sends_nothing(local_airflow, airflow_stack):
    """A COPY that fails (a quote in the jsonpaths Variable) puts stage_events up for retry: no message."""
    api, hour = local_airflow.api(), datetime(2018, 11, 1, 14, tzinfo=UTC)
    jsonpath = api.variable("sparkify_log_jsonpath")
    api.set_variable("sparkify_log_jsonpath", jsonpath.replace("_", "'_", 1))
    try:
        run_id = trigger_hour(api, hour, conf={"force_restage": True})
        state = api.wait_for_task_state(DAG_ID, run_id, "stage_events", {"up_for_retry", "failed"}, timeout=900)
    finally:
        api.set_variable("sparkify_log_jsonpath", jsonpath)
    try:
        assert state == "up_for_retry"
        time.sleep(20)  # anything the failed try would send has been sent by now
        assert mail_of(airflow_stack, run_id, "failed") == []
        assert "NOTIFY" not in api.task_log(DAG_ID, run_id, "stage_events", try_number=1)
    finally:
        api.set_run_state(DAG_ID, run_id, "failed")  # free the single active-run slot
        api.close()


def test_without_the_connection_nothing_is_sent_one_line_is_logged_and_good_runs_stay_green(
        local_airflow, airflow_stack):
    api, hour = local_airflow.api(), datetime(2018, 11, 1, 16, tzinfo=UTC)
    assert api.client.delete(f"/connections/{ALERTS}").status_code == 204
    try:
        with premium_play_in(airflow_stack, hour):
            run_id = trigger_hour(api, hour)
            failed = api.wait_for_run(DAG_ID, run_id, timeout=900)
        assert failed["state"] == "failed"
        log = api.task_log(DAG_ID, run_id, "run_quality_checks", try_number=1)
        assert [line for line in log.splitlines() if "NOTIFY" in line] == [
            line for line in log.splitlines() if NO_CONNECTION_LINE in line]
        assert len([line for line in log.splitlines() if NO_CONNECTION_LINE in line]) == 1, log
        # The same run with the original file, still without the connection: green.
        api.clear_tasks(DAG_ID, run_id, [ti["task_id"] for ti in api.task_instances(DAG_ID, run_id)])
        green = api.wait_for_run(DAG_ID, run_id, timeout=900)
        assert green["state"] == "success"
        time.sleep(10)
        assert mail_of(airflow_stack, run_id, "failed") == []
    finally:
        local_airflow.ensure_alerts_connection()
        api.close()


def test_a_run_held_past_its_deadline_sends_one_late_hour_message(local_airflow, airflow_stack):
    """The test holds ``publish_log`` (ACCESS EXCLUSIVE) so the hour's run cannot finish; the Deadline Alert
    (2 minutes after the run was created, for an old hour, in this session) fires once, naming the hour and the state."""
    api, hour = local_airflow.api(), datetime(2018, 11, 1, 17, tzinfo=UTC)
    with psycopg.connect(airflow_stack.postgres.dsn()) as conn:
        conn.execute("LOCK TABLE publish_log IN ACCESS EXCLUSIVE MODE")
        run_id = trigger_hour(api, hour)
        queued = time.monotonic()
        (late,) = wait_for_mail(airflow_stack, run_id, "late", timeout=LATE_AFTER_MINUTES * 60 + 300)
        waited = time.monotonic() - queued
        held_state = api.run(DAG_ID, run_id)["state"]
        conn.rollback()  # release the lock: the run finishes
    final = api.wait_for_run(DAG_ID, run_id, timeout=900)
    print(f"late-hour message {waited:.0f} s after the run was triggered (deadline {LATE_AFTER_MINUTES} min)")
    assert held_state == "running" and final["state"] == "success"
    assert waited >= LATE_AFTER_MINUTES * 60 - 5  # not before its deadline
    text = text_of(late)
    assert "[sparkify_etl] LATE hour 2018-11-01 17:00: run is running" in late["Subject"]
    assert "Hour:   2018-11-01 17:00 to 2018-11-01 18:00 (UTC)" in text
    assert "State:  running (not succeeded by its deadline" in text
    assert f"/dags/{DAG_ID}/runs/{quote(run_id)}" in text
    time.sleep(10)
    assert len(mail_of(airflow_stack, run_id, "late")) == 1
    assert mail_of(airflow_stack, run_id, "failed") == []
    (artifacts_dir("notifications") / "late-hour.txt").write_text(
        f"Subject: {late['Subject']}\nFrom: {late['From']}\nTo: {late['To']}\n\n{text}")
    api.close()
