"""Each run's one-line summary (its note, written by the `sparkify` plugin's listener in the scheduler)
matches what the warehouse received: plays published in the hour, users rows changed, the catalog; after a
clear the run says it is rerunning, then gets a fresh line that keeps a user's own note; a failed gate
names the task, its try and the failed check.

Runs are triggered one at a time (logical dates 09:00 and 10:00 of the seeded day, which no other module of
the shared Airflow uses; a manual run covers the hour before its logical date) and the `users` table is snapshotted around each, so the expected counts
come from the warehouse, not from the code under test.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DAG_ID

pytestmark = pytest.mark.timeout(2400)

FIRST_AT = datetime(2018, 11, 1, 9, tzinfo=UTC)
SECOND_AT = datetime(2018, 11, 1, 10, tzinfo=UTC)
DAY_KEY = "log_data/2018/11/2018-11-01-events.json"
USER_NOTE = "On-call: checked against the app's dashboard, fine."


def users(stack) -> set[tuple]:
    return set(stack.warehouse_rows("SELECT user_id, level, last_event_ts, last_session_id, last_item_in_session "
                                     "FROM users"))


def hour_of(run: dict) -> datetime:
    return datetime.fromisoformat(run["data_interval_start"]).astimezone(UTC)


def expected_line(stack, run: dict, before: set[tuple], after: set[tuple]) -> str:
    """The line the run should show, from the warehouse: songplays of its hour, users rows that changed
    (newer wins rewrites a row; a new user adds one) and publish_log's catalog flag for the run."""
    hour, run_id = hour_of(run), run["dag_run_id"]
    start = hour.replace(tzinfo=None)
    plays = stack.warehouse_rows("SELECT COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
                                 (start, start + timedelta(hours=1)))[0][0]
    changed = len(after - before)
    new = len({row[0] for row in after} - {row[0] for row in before})
    catalog = stack.warehouse_rows("SELECT catalog_published FROM publish_log WHERE run_id = %s "
                                   "ORDER BY published_at DESC LIMIT 1", (run_id,))[0][0]
    return (f"Hour {hour:%Y-%m-%d %H:%M} UTC: {plays} plays published, {changed} users updated ({new} new), "
            f"catalog {'republished' if catalog else 'unchanged'}")


def run_alone(api, stack, run_id_of) -> tuple[dict, set[tuple], set[tuple]]:
    """Start a run (``run_id_of()`` triggers or clears and returns its id), wait for it; the users table
    before and after, checked to be written by this run only."""
    before, since = users(stack), datetime.now(UTC).replace(tzinfo=None)
    run_id = run_id_of()
    run = api.wait_for_run(DAG_ID, run_id, timeout=900)
    after = users(stack)
    others = stack.warehouse_rows("SELECT run_id FROM publish_log WHERE published_at >= %s AND run_id <> %s",
                                  (since, run_id))
    assert others == [], f"another run published while {run_id} ran: the users diff is not its own"
    return run, before, after


@pytest.fixture(scope="module")
def api(local_airflow):
    client = local_airflow.api()
    yield client
    client.close()


@pytest.fixture(scope="module")
def first_hour(api, airflow_stack):
    run, before, after = run_alone(api, airflow_stack,
                                   lambda: api.trigger(DAG_ID, logical_date=FIRST_AT)["dag_run_id"])
    return {"run": run, "before": before, "after": after}


def test_a_published_hour_shows_its_counts(first_hour, airflow_stack):
    run = first_hour["run"]
    assert run["state"] == "success"
    assert hour_of(run) == FIRST_AT - timedelta(hours=1)
    assert run["note"] == expected_line(airflow_stack, run, first_hour["before"], first_hour["after"])
    print(f"published run's note: {run['note']!r}")
    assert " 0 plays published" not in run["note"]  # the seeded hour has plays: the count is not vacuous


def test_a_republished_catalog_is_named(api, airflow_stack, first_hour):
    run, before, after = run_alone(api, airflow_stack, lambda: api.trigger(
        DAG_ID, logical_date=SECOND_AT, conf={"force_restage": True})["dag_run_id"])
    assert run["state"] == "success"
    assert run["note"] == expected_line(airflow_stack, run, before, after)
    assert run["note"].endswith("catalog republished")


def test_a_cleared_run_reruns_with_a_fresh_line_and_keeps_a_users_note(api, airflow_stack, first_hour):
    run_id = first_hour["run"]["dag_run_id"]
    first = api.run(DAG_ID, run_id)["note"]
    api.patch(f"/dags/{DAG_ID}/dagRuns/{run_id}", {"note": f"{first}\n\n{USER_NOTE}"})
    seen: list[str] = []

    def clear_and_watch() -> str:
        tasks = [ti["task_id"] for ti in api.task_instances(DAG_ID, run_id)]
        api.clear_tasks(DAG_ID, run_id, tasks)
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            run = api.run(DAG_ID, run_id)
            seen.append(run["note"] or "")
            if run["state"] in ("success", "failed"):
                break
            time.sleep(1)
        return run_id

    run, before, after = run_alone(api, airflow_stack, clear_and_watch)
    assert run["state"] == "success"
    assert any(note.startswith(f"Hour {hour_of(run):%Y-%m-%d %H:%M} UTC: rerunning") for note in seen), seen[:5]
    line = expected_line(airflow_stack, run, before, after)
    assert run["note"] == f"{line}\n\n{USER_NOTE}"


def test_a_failed_gate_names_the_task_its_try_and_the_check(api, airflow_stack, first_hour):
    run_id = first_hour["run"]["dag_run_id"]
    lines = (Path(airflow_stack.data_dir) / DAY_KEY).read_text().splitlines()
    hour = hour_of(first_hour["run"])
    cut = int((hour + timedelta(minutes=20)).timestamp() * 1000)
    s3 = airflow_stack.s3_client()
    s3.put_object(Bucket=airflow_stack.config.bucket, Key=DAY_KEY,
                  Body="\n".join(line for line in lines if json.loads(line)["ts"] < cut).encode())
    try:
        api.clear_tasks(DAG_ID, run_id, [ti["task_id"] for ti in api.task_instances(DAG_ID, run_id)])
        run = api.wait_for_run(DAG_ID, run_id, timeout=900)
    finally:
        s3.put_object(Bucket=airflow_stack.config.bucket, Key=DAY_KEY, Body="\n".join(lines).encode())
    gate = next(ti for ti in api.task_instances(DAG_ID, run_id) if ti["task_id"] == "run_quality_checks")
    assert run["state"] == "failed" and gate["state"] == "failed"
    print(f"failed run's note: {run['note']!r}")
    line, _, rest = run["note"].partition("\n\n")
    assert re.match(rf"Hour {hour:%Y-%m-%d %H:%M} UTC: nothing published: run_quality_checks FAILED "
                    rf"\(try {gate['try_number']}\): \d+ of \d+ data quality checks failed: FAIL ", line), line
    assert "FAIL songplays sql(hour_does_not_shrink): observed" in line
    assert "\n" not in line and rest == USER_NOTE
