"""Late plays, corrections, honest catalog asset events and visible reasons, through the real scheduler.

The seeded day is 2018-11-01. The log shipper names a file by the UTC day an event *arrived*, so a play of
23:55 can land in the next day's file: the module writes `2018-11-02-events.json` holding such late plays,
backfills 2018-11-01 22:00 .. 2018-11-02 00:00 as users do (`airflow backfill create`), and then drives
the reruns an operator would: a late file found after its hour ran, a corrected (shrunk) day file.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DAG_ID

pytestmark = pytest.mark.timeout(2400)

CONSUMER = "sparkify_catalog_consumer"
DAY_KEY = "log_data/2018/11/2018-11-01-events.json"
NEXT_KEY = "log_data/2018/11/2018-11-02-events.json"
HOURS = [datetime(2018, 11, 1, 22, tzinfo=UTC), datetime(2018, 11, 1, 23, tzinfo=UTC),
         datetime(2018, 11, 2, 0, tzinfo=UTC)]


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def late_play(template: dict, moment: datetime, session: int) -> dict:
    """A NextSong event of `moment`, copied from a real one (same user, song, catalog match)."""
    return {**template, "ts": millis(moment), "sessionId": session, "itemInSession": 0}


def put(stack, key: str, events: list[dict] | list[str]) -> None:
    lines = [event if isinstance(event, str) else json.dumps(event) for event in events]
    stack.s3_client().put_object(Bucket=stack.config.bucket, Key=key, Body="\n".join(lines).encode())


def hour_plays(stack, start: datetime) -> list[tuple]:
    return stack.warehouse_rows(
        "SELECT session_id, item_in_session FROM songplays WHERE start_time >= %s AND start_time < %s",
        (start.replace(tzinfo=None), (start + timedelta(hours=1)).replace(tzinfo=None)))


def run_of(api, start: datetime) -> dict:
    return next(run for run in api.runs(DAG_ID)
                if run.get("data_interval_start") and datetime.fromisoformat(run["data_interval_start"]) == start)


def states(api, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run_id)}


def rerun(api, start: datetime) -> tuple[dict, int]:
    """Clear every task of the hour's run (as the UI's "Clear" does); the final run and the gate's try."""
    run = run_of(api, start)
    tries = {ti["task_id"]: ti["try_number"] for ti in api.task_instances(DAG_ID, run["dag_run_id"])}
    api.clear_tasks(DAG_ID, run["dag_run_id"], list(tries))
    return api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=900), tries["run_quality_checks"] + 1


def top_level_lines(log: str) -> list[str]:
    """The log lines the UI shows outside any collapsed group (it keeps a stack of open groups)."""
    depth, shown = 0, []
    for line in log.splitlines():
        if "::group::" in line:
            depth += 1
        elif "::endgroup::" in line:
            depth = max(depth - 1, 0)
        elif depth == 0:
            shown.append(line)
    return shown


def consumer_runs(api) -> list[dict]:
    return api.runs(CONSUMER)


@pytest.fixture(scope="module")
def late(local_airflow, airflow_stack):
    """The next day's file holds a play of 23:55 (arrived after midnight); the three hours are backfilled."""
    api = local_airflow.api()
    api.wait_for_dag(CONSUMER)
    api.unpause(CONSUMER)
    lines = (Path(airflow_stack.data_dir) / DAY_KEY).read_text().splitlines()
    template = next(event for event in map(json.loads, lines) if event["page"] == "NextSong" and event["userId"])
    late_2355 = late_play(template, datetime(2018, 11, 1, 23, 55, tzinfo=UTC), session=990001)
    put(airflow_stack, NEXT_KEY, [late_2355])
    time.sleep(20)  # let any catalog event of the session's first run reach the consumer first
    consumers_before = len(consumer_runs(api))
    result = local_airflow.cli(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", HOURS[0].strftime("%Y-%m-%dT%H:%M:%S"),
        "--to-date", HOURS[-1].strftime("%Y-%m-%dT%H:%M:%S"), "--reprocess-behavior", "completed", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    deadline = time.monotonic() + 1800
    while True:
        runs = [run_of_or_none for run_of_or_none in (
            next((r for r in api.runs(DAG_ID) if r.get("data_interval_start")
                  and datetime.fromisoformat(r["data_interval_start"]) == hour), None) for hour in HOURS)]
        if all(run and run["state"] in ("success", "failed") for run in runs):
            break
        assert time.monotonic() < deadline, runs
        time.sleep(5)
    time.sleep(20)  # time for an (unwanted) asset-triggered consumer run to appear
    yield {"api": api, "lines": lines, "template": template, "late": late_2355, "runs": runs,
           "consumers_before": consumers_before}
    put(airflow_stack, DAY_KEY, lines)  # the seeded day as the other modules expect it
    api.close()


def test_a_late_play_in_the_next_days_file_is_published_in_its_own_hour(late, airflow_stack):
    api, runs = late["api"], late["runs"]
    assert [run["state"] for run in runs] == ["success"] * 3, [states(api, r["dag_run_id"]) for r in runs]
    truth = airflow_stack.truth()["hours"]
    hour_23 = hour_plays(airflow_stack, HOURS[1])
    assert (990001, 0) in hour_23
    assert len(hour_23) == truth.get("2018-11-01T23", {}).get("plays", 0) + 1
    assert len(hour_plays(airflow_stack, HOURS[0])) == truth.get("2018-11-01T22", {}).get("plays", 0)
    # the hour 23 run staged the next day's file into its own table; 2018-11-03 has no file yet
    assert states(api, runs[1]["dag_run_id"])["stage_events_next_day"] in ("success", "skipped")
    assert airflow_stack.warehouse_rows("SELECT COUNT(*) FROM staging_events_next_day_20181101") == [(1,)]
    assert states(api, runs[2]["dag_run_id"])["stage_events_next_day"] == "skipped"


def test_skip_reasons_are_top_level_log_lines(late):
    """The reason is what the collapsed log page shows, not inside "Pre Execute" / "Post Execute"."""
    api, run = late["api"], late["runs"][2]
    log = api.task_log(DAG_ID, run["dag_run_id"], "stage_events_next_day", 1)
    assert "::group::Pre Execute" in log
    shown = "\n".join(top_level_lines(log))
    assert "SKIPPED: no object at s3://" in shown and "2018-11-03-events.json yet" in shown
    announce = api.task_log(DAG_ID, run["dag_run_id"], "announce_catalog", 1)
    assert "SKIPPED: the catalog was not published in this run" in "\n".join(top_level_lines(announce))


def test_songs_asset_events_only_when_the_catalog_is_published(late, airflow_stack):
    """Hourly runs that keep the catalog emit no `songs` event; a run that publishes one emits exactly one."""
    api = late["api"]
    assert all(states(api, run["dag_run_id"])["announce_catalog"] == "skipped" for run in late["runs"])
    assert len(consumer_runs(api)) == late["consumers_before"]
    forced = api.trigger(DAG_ID, logical_date=None, conf={"force_restage": True})
    final = api.wait_for_run(DAG_ID, forced["dag_run_id"], timeout=900)
    assert final["state"] == "success", states(api, forced["dag_run_id"])
    assert states(api, forced["dag_run_id"])["announce_catalog"] == "success"
    deadline = time.monotonic() + 300
    while len(consumer_runs(api)) < late["consumers_before"] + 1 and time.monotonic() < deadline:
        time.sleep(5)
    time.sleep(10)
    consumers = consumer_runs(api)
    assert len(consumers) == late["consumers_before"] + 1
    assert consumers[-1]["run_type"] == "asset_triggered"


def test_a_late_file_after_its_hour_ran_fails_the_next_days_gate_until_that_hour_is_rerun(late, airflow_stack):
    api, truth = late["api"], airflow_stack.truth()["hours"]
    late_2250 = late_play(late["template"], datetime(2018, 11, 1, 22, 50, tzinfo=UTC), session=990002)
    put(airflow_stack, NEXT_KEY, [late["late"], late_2250])  # arrives after hour 22 was published
    final, gate_try = rerun(api, HOURS[2])
    assert final["state"] == "failed"
    log = api.task_log(DAG_ID, final["dag_run_id"], "run_quality_checks", gate_try)
    assert "FAIL staging_events_20181102 sql(late_plays_in_the_day_file_never_published): observed 1, expected 0" in log
    named = f"ts=2018-11-01 22:50:00, userid={late_2250['userId']}, sessionid=990002, iteminsession=0, " \
            f"file=s3://{airflow_stack.config.bucket}/{NEXT_KEY}"
    assert named in log
    assert any(line.split(" ", 1)[1].startswith("FAILED: ") for line in top_level_lines(log) if " " in line)
    # the documented remedy: rerun the named hour, then the refused one
    assert rerun(api, HOURS[0])[0]["state"] == "success"
    assert (990002, 0) in hour_plays(airflow_stack, HOURS[0])
    assert len(hour_plays(airflow_stack, HOURS[0])) == truth.get("2018-11-01T22", {}).get("plays", 0) + 1
    assert rerun(api, HOURS[2])[0]["state"] == "success"


def test_a_corrected_day_file_is_refused_then_published_with_accept_smaller_hour(late, airflow_stack):
    api, lines = late["api"], late["lines"]
    start, end = millis(HOURS[0]), millis(HOURS[1])
    in_hour = [line for line in lines if json.loads(line)["page"] == "NextSong" and start <= json.loads(line)["ts"] < end]
    assert len(in_hour) >= 2, "the seeded hour 22 needs plays to remove"
    removed = [json.loads(line) for line in in_hour[:2]]
    put(airflow_stack, DAY_KEY, [line for line in lines if line not in in_hour[:2]])
    before = set(hour_plays(airflow_stack, HOURS[0]))

    final, gate_try = rerun(api, HOURS[0])
    assert final["state"] == "failed" and states(api, final["dag_run_id"])["publish"] == "upstream_failed"
    refused = api.task_log(DAG_ID, final["dag_run_id"], "run_quality_checks", gate_try)
    assert "FAIL songplays sql(hour_does_not_shrink): observed 2, expected 0" in refused
    assert set(hour_plays(airflow_stack, HOURS[0])) == before

    # A cleared run keeps its conf: a new run of the hour with the param (no logical date, run after its end).
    response = api.post(f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "run_after": HOURS[1].isoformat(),
                                                     "conf": {"accept_smaller_hour": True}})
    assert response.status_code < 300, response.text
    corrected = api.wait_for_run(DAG_ID, response.json()["dag_run_id"], timeout=900)
    assert corrected["state"] == "success", states(api, corrected["dag_run_id"])
    accepted = api.task_log(DAG_ID, corrected["dag_run_id"], "run_quality_checks", 1)
    assert ("ACCEPTED songplays sql(hour_does_not_shrink): observed 2, expected 0 "
            "(accepted by run param accept_smaller_hour)") in accepted
    for event in removed:
        assert f"session_id={event['sessionId']}, item_in_session={event['itemInSession']}" in accepted
    gone = {(event["sessionId"], event["itemInSession"]) for event in removed}
    assert set(hour_plays(airflow_stack, HOURS[0])) == before - gone
