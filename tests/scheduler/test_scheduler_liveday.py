"""The live days (`devstack.liveday`, what `make airflow` seeds for the scheduler's own runs) never change
a row of the dataset in the warehouse, through the real scheduler.

The session's stack holds a generated dataset for 2018-11-01 whose users have the generator's ids
(2..41), the same ids the live days used to take. Some hours of that day are backfilled first,
so its users are published; then hours of the live days (yesterday, 2026 timestamps, "newer wins")
are backfilled on top. Every dataset user's row, and every dataset play, must be exactly as before,
while the live hours did publish plays and users of their own.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from conftest import DAG_ID

from devstack.liveday import LIVE_SESSION_ID_OFFSET, LIVE_USER_ID_OFFSET

pytestmark = pytest.mark.timeout(2400)

# Hours no other module of tests/scheduler uses (they share one Airflow: a run's logical date is unique).
DATASET_HOURS = (datetime(2018, 11, 1, 15, tzinfo=UTC), datetime(2018, 11, 1, 17, tzinfo=UTC))


def wait_no_running_backfill(api, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while any(b["completed_at"] is None for b in api.get("/backfills", dag_id=DAG_ID)["backfills"]):
        assert time.monotonic() < deadline, "another backfill of the DAG is still running"
        time.sleep(2)


def backfill(api, first: datetime, last: datetime) -> list[dict]:
    """Backfill [first, last] at the default concurrency; wait until complete; return its runs."""
    wait_no_running_backfill(api)
    response = api.backfill(DAG_ID, first, last, reprocess_behavior="completed")
    response.raise_for_status()
    wait_no_running_backfill(api)
    # Runs without a data interval (manual runs of other modules without a logical date) are not ours.
    runs = [run for run in api.runs(DAG_ID)
            if run["data_interval_start"] and first <= datetime.fromisoformat(run["data_interval_start"]) <= last]
    assert len(runs) == int((last - first) / timedelta(hours=1)) + 1
    return runs


def dataset_state(stack) -> dict:
    """Every dataset user's row, and the dataset plays' count and checksum."""
    users = stack.warehouse_rows("SELECT * FROM users WHERE user_id < %s ORDER BY user_id", (LIVE_USER_ID_OFFSET,))
    plays = stack.warehouse_rows(
        "SELECT COUNT(*), MD5(COALESCE(STRING_AGG(t::text, '|' ORDER BY t::text), '')) FROM songplays t "
        "WHERE session_id < %s", (LIVE_SESSION_ID_OFFSET,))[0]
    return {"users": users, "plays": plays}


@pytest.fixture(scope="module")
def live_after_dataset(local_airflow, airflow_stack):
    api = local_airflow.api()
    dataset_runs = backfill(api, *DATASET_HOURS)
    before = dataset_state(airflow_stack)
    # Hours of the seeded "yesterday" (a live day), published after the dataset's users.
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    live_hours = (yesterday + timedelta(hours=10), yesterday + timedelta(hours=12))
    live_runs = backfill(api, *live_hours)
    yield {"dataset_runs": dataset_runs, "live_runs": live_runs, "before": before,
           "after": dataset_state(airflow_stack), "live_hours": live_hours}
    api.close()


def test_every_run_succeeded(live_after_dataset):
    runs = live_after_dataset["dataset_runs"] + live_after_dataset["live_runs"]
    assert {run["state"] for run in runs} == {"success"}, [(run["dag_run_id"], run["state"]) for run in runs]


def test_live_hours_leave_every_dataset_user_and_play_unchanged(live_after_dataset, airflow_stack):
    before, after = live_after_dataset["before"], live_after_dataset["after"]
    assert before["users"], "no dataset user published: the comparison would be empty"
    generated_ids = {row[0] for row in before["users"]}
    assert generated_ids <= set(range(2, 2 + 40))  # the generator's ids, which the live days used to reuse
    assert after == before
    # Nor did the scheduler's first run (a live hour, before the dataset's hours): every dataset
    # user's newest event is the dataset's own, of 2018.
    assert airflow_stack.warehouse_rows(
        "SELECT user_id, last_event_ts FROM users WHERE user_id < %s AND last_event_ts >= '2019-01-01'",
        (LIVE_USER_ID_OFFSET,)) == []


def test_live_hours_published_their_own_users_and_plays(live_after_dataset, airflow_stack):
    first, last = (moment.replace(tzinfo=None) for moment in live_after_dataset["live_hours"])
    plays = airflow_stack.warehouse_rows(
        "SELECT MIN(user_id), MIN(session_id), COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
        (first, last + timedelta(hours=1)))[0]
    assert plays[2] > 0, "the live hours published no play: the test would prove nothing"
    assert plays[0] >= LIVE_USER_ID_OFFSET + 2 and plays[1] > LIVE_SESSION_ID_OFFSET
    live_users = airflow_stack.warehouse_rows(
        "SELECT COUNT(*) FROM users WHERE user_id >= %s AND last_event_ts >= %s", (LIVE_USER_ID_OFFSET, first))[0][0]
    assert live_users > 0
