"""Run-safety invariants through the real DAG (dag.test(), the fast path) on the local stack:
staging is a cache of S3, no silent empty hour, write-audit-publish, manual runs, one run convention."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from e2e_support import hour
from test_pipeline import assert_all_succeeded

DAY = "2018-11-01"
DAY_KEY = f"log_data/2018/11/{DAY}-events.json"
NEXT_KEY = "log_data/2018/11/2018-11-02-events.json"
HOUR = "2018-11-01T22"


def day_lines(stack) -> list[str]:
    return (Path(stack.data_dir) / DAY_KEY).read_text().splitlines()


@contextmanager
def s3_objects(stack, changes: dict[str, bytes | None]):
    """Put (bytes) or delete (None) objects for the block, then restore the seeded ones."""
    s3, bucket = stack.s3_client(), stack.config.bucket
    try:
        for key, body in changes.items():
            if body is None:
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        yield
    finally:
        for key in changes:
            original = Path(stack.data_dir) / key
            if original.is_file():
                s3.put_object(Bucket=bucket, Key=key, Body=original.read_bytes())
            else:
                s3.delete_object(Bucket=bucket, Key=key)


def plays_of(warehouse, first: str) -> int:
    start = hour(first).replace(tzinfo=None)
    return warehouse.rows("SELECT COUNT(*) FROM songplays WHERE start_time >= %s AND start_time < %s",
                          (start, start + timedelta(hours=1)))[0][0]


def log_of(record: dict) -> str:
    return Path(record["log"]).read_text(errors="replace")


def test_staging_is_a_cache_of_s3(stack, warehouse, run_hours, truth):
    first, second = run_hours("2018-11-01T21", 2)
    assert_all_succeeded([first, second])
    assert not {"stage_events", "stage_songs"} & set(first["skipped_tasks"])
    # the second hour of the same day: the sources (the next day's file too) unchanged, nothing copied,
    # catalog not rebuilt, hence not announced
    assert set(second["skipped_tasks"]) == {"stage_events", "stage_events_next_day", "stage_songs",
                                            "load_songs_dim", "load_artists_dim", "announce_catalog"}
    assert "announce_catalog" not in first["skipped_tasks"]  # the first run published the catalog
    assert "SKIPPED: unchanged source: s3://" in log_of(second)
    day_rows = warehouse.rows(f"SELECT COUNT(*) FROM staging_events_{DAY.replace('-', '')}")[0][0]
    assert day_rows == len(day_lines(stack))  # one copy of the day file, no duplicates
    next_rows = len((Path(stack.data_dir) / NEXT_KEY).read_text().splitlines())
    state = dict(warehouse.rows("SELECT target_table, rows_staged FROM staging_state"))
    assert state == {f"public.staging_events_{DAY.replace('-', '')}": day_rows,
                     f"public.staging_events_next_day_{DAY.replace('-', '')}": next_rows,
                     "public.staging_songs": warehouse.rows("SELECT COUNT(*) FROM staging_songs")[0][0]}
    assert plays_of(warehouse, HOUR) == truth["hours"][HOUR]["plays"]
    published = warehouse.checksums()

    # force_restage copies both sources again and rebuilds the catalog; the published data is identical
    (forced,) = run_hours(HOUR, 1, ["--conf", '{"force_restage": true}'])
    assert_all_succeeded([forced])
    assert forced["skipped_tasks"] == []
    assert warehouse.checksums() == published
    assert warehouse.rows(f"SELECT COUNT(*) FROM staging_events_{DAY.replace('-', '')}")[0][0] == day_rows

    # the day file grows (one more play in the hour): restaged on the next run, the catalog is not
    extra = json.loads(next(line for line in day_lines(stack) if '"NextSong"' in line))
    extra.update(sessionId=999_001, itemInSession=0, ts=int(hour(HOUR).timestamp() * 1000) + 1000)
    grown = "\n".join([*day_lines(stack), json.dumps(extra)]).encode()
    with s3_objects(stack, {DAY_KEY: grown}):
        (grown_run,) = run_hours(HOUR, 1)
    assert_all_succeeded([grown_run])
    assert "stage_events" not in grown_run["skipped_tasks"] and "stage_songs" in grown_run["skipped_tasks"]
    assert plays_of(warehouse, HOUR) == truth["hours"][HOUR]["plays"] + 1


# Six and four runs of the whole DAG: more than the suite's 10 minutes on a loaded 2-core machine.
@pytest.mark.timeout(1500)
def test_bad_sources_never_change_the_published_tables(stack, warehouse, run_hours):
    assert_all_succeeded(run_hours(HOUR, 1))
    published = warehouse.checksums()
    lines = day_lines(stack)

    # a stray object under the day key: COPY would load both; fails before any COPY, naming them
    with s3_objects(stack, {DAY_KEY + ".bak": "\n".join(lines).encode()}):
        (stray,) = run_hours(HOUR, 1)
    assert stray["state"] == "failed" and "stage_events" in stray["failed_tasks"]
    assert f"{DAY_KEY}, {DAY_KEY}.bak" in log_of(stray)
    assert warehouse.checksums() == published

    # an emptied day file (0 bytes) for an hour that has plays: refused before the COPY
    with s3_objects(stack, {DAY_KEY: b""}):
        (empty,) = run_hours(HOUR, 1)
    assert empty["state"] == "failed" and "stage_events" in empty["failed_tasks"]
    assert "is empty (0 bytes)" in log_of(empty)
    assert warehouse.checksums() == published

    # a truncated day file (it lost the hour's later plays): staged, audited, refused by the gate
    hour_start_ms = int(hour(HOUR).timestamp() * 1000)
    truncated = [line for line in lines if json.loads(line)["ts"] < hour_start_ms + 30 * 60 * 1000]
    with s3_objects(stack, {DAY_KEY: "\n".join(truncated).encode()}):
        (shrunk,) = run_hours(HOUR, 1)
    assert shrunk["state"] == "failed"
    assert {"run_quality_checks", "publish"} <= set(shrunk["failed_tasks"])  # publish: upstream_failed
    assert "FAIL songplays sql(hour_does_not_shrink)" in log_of(shrunk)
    assert warehouse.checksums() == published

    # a bad userId on a non-NextSong event: the audit load fails, songplays of the hour untouched
    bad = json.loads(next(line for line in lines if '"NextSong"' not in line and json.loads(line)["ts"] >= hour_start_ms
                          and json.loads(line)["ts"] < hour_start_ms + 3600_000))
    bad["userId"] = "not-a-number"
    with s3_objects(stack, {DAY_KEY: "\n".join([*lines, json.dumps(bad)]).encode()}):
        (broken,) = run_hours(HOUR, 1)
    assert broken["state"] == "failed" and "load_users_dim" in broken["failed_tasks"]
    assert warehouse.checksums() == published
    assert warehouse.rows("SELECT COUNT(*) FROM publish_log")[0][0] == 1  # only the first, good run

    # the original file again: restaged and published as before
    assert_all_succeeded(run_hours(HOUR, 1))
    assert warehouse.checksums() == published


@pytest.mark.timeout(1500)
def test_a_correction_is_published_only_with_accept_smaller_hour(stack, warehouse, run_hours, truth):
    """A day file re-delivered with the hour's plays removed: refused, then published by a run with the param,
    which logs how many plays were removed and which."""
    assert_all_succeeded(run_hours(HOUR, 1))
    assert plays_of(warehouse, HOUR) == truth["hours"][HOUR]["plays"] > 0
    start_ms = int(hour(HOUR).timestamp() * 1000)
    removed = [json.loads(line) for line in day_lines(stack) if '"NextSong"' in line
               and start_ms <= json.loads(line)["ts"] < start_ms + 3600_000]
    corrected = [line for line in day_lines(stack) if json.loads(line) not in removed]
    param = ["--conf", '{"accept_smaller_hour": true}']
    with s3_objects(stack, {DAY_KEY: "\n".join(corrected).encode()}):
        (refused,) = run_hours(HOUR, 1)
        refused_log = log_of(refused)  # one log file per hour: read it before the next run of the hour
        (accepted,) = run_hours(HOUR, 1, param)
        text = log_of(accepted)
        with s3_objects(stack, {DAY_KEY: b""}):
            (emptied,) = run_hours(HOUR, 1, param)
    assert refused["state"] == "failed" and "FAIL songplays sql(hour_does_not_shrink)" in refused_log
    assert_all_succeeded([accepted, emptied])
    assert (f"ACCEPTED songplays sql(hour_does_not_shrink): observed {len(removed)}, expected 0 "
            "(accepted by run param accept_smaller_hour)") in text
    # the first 20 removed plays, in the order the gate lists them
    for play in sorted(removed, key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"]))[:20]:
        assert f"session_id={play['sessionId']}, item_in_session={play['itemInSession']}," in text
    assert plays_of(warehouse, HOUR) == 0
    # a deliberately emptied day (0 bytes) is staged with the param: the day table holds nothing
    assert "staged because of param accept_smaller_hour" in log_of(emptied)
    assert warehouse.rows(f"SELECT COUNT(*) FROM staging_events_{DAY.replace('-', '')}") == [(0,)]


def test_an_empty_catalog_prefix_fails_at_once_saying_so(stack, warehouse, run_hours):
    songs = {path.relative_to(stack.data_dir).as_posix(): None
             for path in (Path(stack.data_dir) / "song_data").rglob("*.json")}
    with s3_objects(stack, songs):
        (run,) = run_hours(HOUR, 1)
    assert run["state"] == "failed" and "stage_songs" in run["failed_tasks"]
    text = log_of(run)
    assert f"FAILED: song catalog prefix s3://{stack.config.bucket}/song_data/ holds no objects" in text
    assert warehouse.rows("SELECT COUNT(*) FROM publish_log") == [(0,)]


def test_catalog_dropping_a_played_song_is_refused(stack, warehouse, run_hours):
    assert_all_succeeded(run_hours(HOUR, 1))
    published = warehouse.checksums()
    (played,) = warehouse.rows("SELECT song_id FROM songplays WHERE song_id IS NOT NULL LIMIT 1")[0]
    song_file = next(p for p in (Path(stack.data_dir) / "song_data").rglob("*.json") if played in p.read_text())
    key = str(song_file.relative_to(stack.data_dir))
    with s3_objects(stack, {key: None}):
        (record,) = run_hours("2018-11-01T23", 1)
    assert record["state"] == "failed" and "run_quality_checks" in record["failed_tasks"]
    assert "FAIL songplays relationships(song_id -> audit_songs.song_id)" in log_of(record)
    assert warehouse.checksums() == published  # the old catalog and hour 23 unpublished


def test_manual_run_without_logical_date_loads_the_last_complete_hour(warehouse, run_hours, truth):
    (record,) = run_hours("2018-11-01T21", 1, ["--without-logical-date"])
    assert_all_succeeded([record])
    assert record["run_id"].startswith("manual__")
    assert plays_of(warehouse, "2018-11-01T21") == truth["hours"]["2018-11-01T21"]["plays"]
    assert warehouse.rows("SELECT COUNT(*) FROM songplays")[0][0] == truth["hours"]["2018-11-01T21"]["plays"]


def test_devstack_runs_carry_the_schedulers_logical_date(stack, warehouse, run_hours):
    """A run for hour H has logical date H and interval [H, H + 1 h), as the scheduler's run for H."""
    import sqlite3

    (record,) = run_hours("2018-11-02T00", 1)
    assert_all_succeeded([record])
    with sqlite3.connect(stack.dir / "airflow" / "airflow.db") as db:
        row = db.execute("SELECT logical_date, data_interval_start, data_interval_end FROM dag_run WHERE run_id = ?",
                         (record["run_id"],)).fetchone()
    assert [value[:19].replace("T", " ") for value in row] == [
        "2018-11-02 00:00:00", "2018-11-02 00:00:00", "2018-11-02 01:00:00"]
