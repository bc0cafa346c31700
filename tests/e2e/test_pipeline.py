"""The whole pipeline on the local stack: real PostgreSQL behind the Redshift endpoint, a real
moto S3 server, the real DAG with the provider's S3ToRedshiftOperator, and generated data whose
truth file says what the warehouse must hold."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from e2e_support import TABLES, hour

from devstack.datagen.truth import expected_user_levels
from devstack.s3server import DUMMY_CREDENTIALS

WINDOW = ("2018-11-01T21", 6)  # 21:00 .. 02:59 next day: crosses the day boundary


def window_hours(first: str, count: int) -> list[str]:
    return [(hour(first) + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(count)]


def assert_all_succeeded(records: list[dict]) -> None:
    failed = [(r["interval_start"], r["failed_tasks"]) for r in records if r["state"] != "success"]
    assert not failed, f"failed runs: {failed}; log: {records[0]['log']}"


def test_window_across_midnight_matches_truth(warehouse, run_hours, truth):
    records = run_hours(*WINDOW)
    assert_all_succeeded(records)  # the quality gate is the last task: every check passed
    hours = window_hours(*WINDOW)

    plays_per_hour = dict(warehouse.rows(
        "SELECT TO_CHAR(DATE_TRUNC('hour', start_time), 'YYYY-MM-DD\"T\"HH24'), COUNT(*) FROM songplays GROUP BY 1"
    ))
    expected_plays = {h: truth["hours"][h]["plays"] for h in hours if truth["hours"].get(h, {}).get("plays")}
    assert plays_per_hour == expected_plays
    assert sum(expected_plays.values()) > 0

    keys = {f"{s}:{i}" for s, i in warehouse.rows("SELECT session_id, item_in_session FROM songplays")}
    assert keys == {k for h in hours for k in truth["hours"].get(h, {}).get("play_keys", [])}

    assert dict(warehouse.rows("SELECT user_id, level FROM users")) == expected_user_levels(truth, hours)

    for table, key in TABLES.items():
        duplicates = warehouse.rows(f"SELECT {key} FROM {table} GROUP BY {key} HAVING COUNT(*) > 1")
        assert duplicates == [], f"duplicate {key} in {table}"
    assert warehouse.rows("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL")[0][0] > 0


def test_rerun_and_backfill_are_idempotent(warehouse, run_hours):
    assert_all_succeeded(run_hours("2018-11-01T23", 3))
    first = warehouse.checksums()
    assert first["songplays"][0] > 0

    assert_all_succeeded(run_hours("2018-11-02T00", 1))  # rerun one hour
    assert warehouse.checksums() == first

    assert_all_succeeded(run_hours("2018-11-01T23", 3))  # backfill the same window again
    assert warehouse.checksums() == first


def upload_day(stack, day: str, lines: list[str]) -> None:
    s3 = stack.s3_client()
    key = f"log_data/{day[:4]}/{day[5:7]}/{day}-events.json"
    s3.put_object(Bucket=stack.config.bucket, Key=key, Body="\n".join(lines).encode())


def events_of(stack, day: str) -> list[dict]:
    path = Path(stack.data_dir) / "log_data" / day[:4] / day[5:7] / f"{day}-events.json"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_hour_without_events_succeeds(stack, warehouse, run_hours):
    # A day whose file holds events at 05:xx only; the run for 09:00 sees none of them.
    shifted = []
    for event in events_of(stack, "2018-11-01")[:30]:
        event["ts"] = int((hour("2018-11-04T05").timestamp() + (event["ts"] / 1000) % 3600) * 1000)
        shifted.append(json.dumps(event))
    upload_day(stack, "2018-11-04", shifted)

    assert_all_succeeded(run_hours("2018-11-04T09", 1))
    assert warehouse.rows("SELECT COUNT(*) FROM songplays")[0][0] == 0
    assert warehouse.rows("SELECT COUNT(*) FROM staging_events_20181104")[0][0] == len(shifted)


def test_corrupt_log_file_fails_staging_and_leaves_warehouse_untouched(stack, warehouse, run_hours):
    assert_all_succeeded(run_hours("2018-11-01T22", 1))
    before = warehouse.checksums()

    good = [json.dumps(e) for e in events_of(stack, "2018-11-02")[:20]]
    upload_day(stack, "2018-11-05", [*good[:10], '{"artist": "broken", "auth": ', *good[10:]])
    (record,) = run_hours("2018-11-05T10", 1)

    assert record["state"] == "failed"
    assert "stage_events" in record["failed_tasks"]
    log = Path(record["log"]).read_text(errors="replace")
    assert "Load into table 'staging_events_20181105' failed" in log
    assert "stl_load_errors" in log
    assert warehouse.checksums() == before
    assert warehouse.rows("SELECT COUNT(*) FROM stl_load_errors WHERE filename LIKE %s", ("%2018-11-05%",))[0][0] >= 1


def test_aws_secret_key_never_in_task_logs(stack, warehouse, run_hours):
    records = run_hours("2018-11-01T21", 1)
    assert_all_succeeded(records)
    logs = [Path(records[0]["log"])] + list((stack.dir / "airflow" / "logs").rglob("*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs if p.is_file())
    assert "COPY" in text.upper() and "stage_events" in text  # the logs do show the staging work
    assert DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in text
