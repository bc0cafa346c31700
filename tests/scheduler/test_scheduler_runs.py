"""The hourly runs' invariants through the real scheduler (LocalExecutor, PostgreSQL metadata DB), driven the
way users drive it: `airflow backfill create` with its default concurrency (10 runs at once), a clear of
one task, a gate failure, and `airflow dags trigger` without a logical date.

One backfill of the seeded day's first hours is shared by every test of the module (CI time).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import DAG_ID

from sparkify import tables

# The module's first test pays for the session's Airflow start, its first run and the backfill.
pytestmark = pytest.mark.timeout(2400)

# Logical dates 00:00..05:00 of the seeded day (both ends included): 6 runs, all running at once.
FIRST, LAST = datetime(2018, 11, 1, 0, tzinfo=UTC), datetime(2018, 11, 1, 5, tzinfo=UTC)
DAY_KEY = "log_data/2018/11/2018-11-01-events.json"
PUBLISHED = tuple(table.sql_name for table in tables.PUBLISHED)
# Keys unique over the whole table: published and control tables, and the catalog's audit copies (rebuilt whole).
KEYS = {table.sql_name: table.key for table in (*tables.of_kind("fact", "dimension", "control"),
                                                tables.BY_NAME["audit_songs"], tables.BY_NAME["audit_artists"])
        if table.key}


def in_range(run: dict) -> bool:
    return FIRST <= datetime.fromisoformat(run["data_interval_start"]) <= LAST


def hour_key(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def checksums(stack) -> dict:
    return {table: stack.warehouse_rows(
        f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(t::text, '|' ORDER BY t::text), '')) FROM {table} t")[0]
        for table in PUBLISHED}


@pytest.fixture(scope="module")
def backfill(local_airflow, airflow_stack):
    """`airflow backfill create` as the README shows it (default max_active_runs: 10 at once)."""
    started = time.monotonic()
    result = local_airflow.cli(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", FIRST.strftime("%Y-%m-%dT%H:%M:%S"),
        "--to-date", LAST.strftime("%Y-%m-%dT%H:%M:%S"),
        "--reprocess-behavior", "completed", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    api = local_airflow.api()
    # all queued at once; other modules of the session may have backfilled other hours
    created = [run for run in api.runs(DAG_ID) if run["run_type"] == "backfill" and in_range(run)]
    assert len(created) >= 6, result.stdout
    runs = [run for run in api.wait_for_runs(DAG_ID, count=len(created), run_type="backfill", timeout=1800)
            if in_range(run)]
    elapsed = time.monotonic() - started
    instances = {run["dag_run_id"]: api.task_instances(DAG_ID, run["dag_run_id"]) for run in runs}
    starts = sorted(datetime.fromisoformat(run["data_interval_start"]) for run in runs)
    yield {"runs": runs, "instances": instances, "seconds": elapsed, "api": api, "starts": starts}
    api.close()


def test_backfill_runs_ten_wide_and_every_run_succeeds(backfill):
    runs, starts = backfill["runs"], backfill["starts"]
    # consecutive hours of the requested range, one run each, every interval one hour long
    assert starts == [starts[0] + timedelta(hours=i) for i in range(len(starts))]
    assert FIRST <= starts[0] and starts[-1] <= LAST
    assert all(datetime.fromisoformat(r["data_interval_end"]) - datetime.fromisoformat(r["data_interval_start"])
               == timedelta(hours=1) for r in runs)
    assert {run["state"] for run in runs} == {"success"}, [
        (run["dag_run_id"], [(ti["task_id"], ti["state"]) for ti in backfill["instances"][run["dag_run_id"]]])
        for run in runs if run["state"] != "success"]
    # the runs really overlapped: more than one was running at some instant
    spans = sorted((run["start_date"], run["end_date"]) for run in runs)
    assert any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))
    # the day file and the catalog were cached: runs skipped both (and the catalog rebuild)
    skipped = [{ti["task_id"] for ti in tis if ti["state"] == "skipped"} for tis in backfill["instances"].values()]
    assert any({"stage_events", "stage_songs", "load_songs_dim", "load_artists_dim"} <= s for s in skipped)
    unchanged = [run for run, s in zip(runs, skipped, strict=True) if "stage_songs" in s]
    durations = [(datetime.fromisoformat(r["end_date"]) - datetime.fromisoformat(r["start_date"])).total_seconds()
                 for r in unchanged]
    print(f"backfill of {len(runs)} hours: {backfill['seconds']:.0f} s wall; unchanged-catalog runs: "
          f"{len(durations)}, {sum(durations) / max(len(durations), 1):.1f} s per run (start to end)")


def test_published_hours_match_the_truth_file(backfill, airflow_stack):
    truth = airflow_stack.truth()["hours"]
    hours = [hour_key(moment) for moment in backfill["starts"]]
    start = backfill["starts"][0].replace(tzinfo=None)
    end = backfill["starts"][-1].replace(tzinfo=None) + timedelta(hours=1)
    per_hour = dict(airflow_stack.warehouse_rows(
        "SELECT TO_CHAR(DATE_TRUNC('hour', start_time), 'YYYY-MM-DD\"T\"HH24'), COUNT(*) FROM songplays "
        "WHERE start_time >= %s AND start_time < %s GROUP BY 1", (start, end)))
    assert per_hour == {h: truth[h]["plays"] for h in hours if truth.get(h, {}).get("plays")}
    keys = {f"{s}:{i}" for s, i in airflow_stack.warehouse_rows(
        "SELECT session_id, item_in_session FROM songplays WHERE start_time >= %s AND start_time < %s", (start, end))}
    assert keys == {k for h in hours for k in truth.get(h, {}).get("play_keys", [])}

    # latest levels: a user whose newest published event lies in the window has the level of their
    # newest event there (later hours, e.g. the live day, may hold newer events for other users)
    latest: dict[int, dict] = {}
    for h in hours:
        for user, event in truth.get(h, {}).get("users", {}).items():
            order = (event["ts"], event["session_id"], event["item_in_session"])
            if int(user) not in latest or order > latest[int(user)]["order"]:
                latest[int(user)] = {**event, "order": order}
    stored = {user: (level, ts) for user, level, ts in airflow_stack.warehouse_rows(
        "SELECT user_id, level, last_event_ts FROM users")}
    assert set(latest) <= set(stored)
    in_window = {u for u, (_, ts) in stored.items() if start <= ts < end}
    assert in_window, "no user's newest event in the window: the level check would be empty"
    assert {u: stored[u][0] for u in in_window} == {u: latest[u]["level"] for u in in_window}
    assert all(stored[u][1] >= datetime.fromtimestamp(latest[u]["ts"] / 1000, UTC).replace(tzinfo=None)
               for u in latest)


def test_no_duplicate_rows_in_any_table_staging_included(backfill, airflow_stack):
    for table, key in KEYS.items():
        assert airflow_stack.warehouse_rows(
            f"SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1") == [], table
    lines = (Path(airflow_stack.data_dir) / DAY_KEY).read_text().splitlines()
    assert airflow_stack.warehouse_rows("SELECT COUNT(*) FROM staging_events_20181101") == [(len(lines),)]
    songs = len(list((Path(airflow_stack.data_dir) / "song_data").rglob("*.json")))
    assert airflow_stack.warehouse_rows("SELECT COUNT(*) FROM staging_songs") == [(songs,)]
    for table, key in (("audit_songplays", "songplay_id"), ("audit_time", "start_time"),
                       ("audit_users", "user_id, last_event_ts")):
        assert airflow_stack.warehouse_rows(
            f"SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1") == [], table


def run_of_hour(backfill, hour: int) -> dict:
    return next(r for r in backfill["runs"] if r["data_interval_start"].startswith(hour_key(FIRST + timedelta(hours=hour))))


def test_a_cleared_task_reads_its_own_day_and_reruns_change_nothing(backfill, airflow_stack):
    api, before = backfill["api"], checksums(airflow_stack)
    run = run_of_hour(backfill, 3)
    truth = airflow_stack.truth()["hours"].get(hour_key(FIRST + timedelta(hours=3)), {}).get("plays", 0)
    api.clear_tasks(DAG_ID, run["dag_run_id"], ["load_songplays_fact"], include_downstream=False)
    final = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=600)
    assert final["state"] == "success"
    log = api.task_log(DAG_ID, run["dag_run_id"], "load_songplays_fact", try_number=2)
    assert f"{truth} rows inserted" in log
    # the whole run again (every task): identical published tables
    api.clear_tasks(DAG_ID, run["dag_run_id"], [ti["task_id"] for ti in backfill["instances"][run["dag_run_id"]]])
    rerun = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=900)
    assert rerun["state"] == "success"
    assert checksums(airflow_stack) == before
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run["dag_run_id"])}
    assert states["stage_songs"] == states["stage_events"] == "skipped"
    seconds = (datetime.fromisoformat(rerun["end_date"]) - datetime.fromisoformat(rerun["start_date"])).total_seconds()
    print(f"one scheduled run alone, sources and catalog unchanged: {seconds:.1f} s (start to end)")


def test_a_failed_gate_changes_no_published_checksum(backfill, airflow_stack):
    api, before = backfill["api"], checksums(airflow_stack)
    run = run_of_hour(backfill, 2)
    lines = (Path(airflow_stack.data_dir) / DAY_KEY).read_text().splitlines()
    cut = int((FIRST + timedelta(hours=2, minutes=20)).timestamp() * 1000)
    truncated = "\n".join(line for line in lines if json.loads(line)["ts"] < cut).encode()
    s3 = airflow_stack.s3_client()
    s3.put_object(Bucket=airflow_stack.config.bucket, Key=DAY_KEY, Body=truncated)
    try:
        api.clear_tasks(DAG_ID, run["dag_run_id"], [ti["task_id"] for ti in backfill["instances"][run["dag_run_id"]]])
        final = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=900)
    finally:
        s3.put_object(Bucket=airflow_stack.config.bucket, Key=DAY_KEY, Body="\n".join(lines).encode())
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run["dag_run_id"])}
    assert final["state"] == "failed"
    assert states["stage_events"] == "success"  # the changed file was restaged
    assert states["run_quality_checks"] == "failed" and states["publish"] == "upstream_failed"
    assert "FAIL songplays sql(hour_does_not_shrink)" in api.task_log(DAG_ID, run["dag_run_id"], "run_quality_checks", 2)
    assert checksums(airflow_stack) == before


def test_trigger_without_logical_date_loads_the_last_complete_hour(local_airflow, airflow_stack, backfill):
    result = local_airflow.cli("dags", "trigger", DAG_ID, "--output", "json", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    api = backfill["api"]
    manual = [r for r in api.runs(DAG_ID) if r["run_type"] == "manual" and r["logical_date"] is None]
    assert manual, "the CLI trigger made no run without a logical date"
    run = api.wait_for_run(DAG_ID, manual[-1]["dag_run_id"], timeout=900)
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances(DAG_ID, run["dag_run_id"])}
    assert run["state"] == "success", states
    run_after = datetime.fromisoformat(run["run_after"]).astimezone(UTC)
    end = run_after.replace(minute=0, second=0, microsecond=0)
    published = airflow_stack.warehouse_rows(
        "SELECT interval_start, interval_end FROM publish_log WHERE run_id = %s", (run["dag_run_id"],))
    assert published == [((end - timedelta(hours=1)).replace(tzinfo=None), end.replace(tzinfo=None))]
