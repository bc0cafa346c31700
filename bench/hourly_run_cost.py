"""What does an hourly run cost: with its sources cached, against restaging them; with history, against none?

1. Start a private local stack, generate one day of about 1M events (BENCH_EVENTS_PER_DAY) with a
   catalog of BENCH_SONGS (15,000) songs, one S3 object each, and seed it.
2. Restage-both hour: the run for 15:00 on an empty warehouse copies the day file and the catalog
   (forced with `force_restage`, twice, keep the faster).
3. Unchanged-sources hour: the run for 16:00 of the same day finds both sources cached (skipped) and
   only loads, audits and publishes its hour (twice, keep the faster).
4. Add BENCH_HISTORY_DAYS (30) days of history to songplays and time (the hour's plays repeated for
   every earlier hour at the day's average volume), directly in PostgreSQL, then ANALYZE; run the
   unchanged-sources hour again (twice, keep the faster).

Prints the per-task seconds, then on the last line both ratios (task time):
unchanged/restage (goal <= 0.2) and history/empty (goal <= 1.2).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVENTS_PER_DAY = int(os.environ.get("BENCH_EVENTS_PER_DAY", 1_000_000))
HISTORY_DAYS = int(os.environ.get("BENCH_HISTORY_DAYS", 30))
SONGS = int(os.environ.get("BENCH_SONGS", 15000))
DAY = date(2018, 11, 1)
HOUR = datetime(2018, 11, 1, 15, tzinfo=UTC)  # restaged
NEXT_HOUR = datetime(2018, 11, 1, 16, tzinfo=UTC)  # same day file and catalog: cached
DAY_TABLE = "staging_events_20181101"
FORCE = ["--conf", '{"force_restage": true}']

# History: the benchmark hour's own plays shifted back by 1..N hours (N = 24 x HISTORY_DAYS), with
# fresh play keys, so every user, song and artist they reference exists and the quality gate's
# referential checks still hold. A deterministic sample of each shifted hour brings the volume down
# from this (busy) hour's to the day's average.
HISTORY_SQL = """
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id,
                       item_in_session, location, user_agent)
SELECT MD5(CAST(sp.session_id + h * 1000000 AS VARCHAR) || ':' || CAST(sp.item_in_session AS VARCHAR)),
       sp.start_time - h * INTERVAL '1 hour', sp.user_id, sp.level, sp.song_id, sp.artist_id,
       sp.session_id + h * 1000000, sp.item_in_session, sp.location, sp.user_agent
FROM songplays sp CROSS JOIN generate_series(1, %(hours)s) AS h
WHERE MOD(sp.item_in_session + h, 100) < %(pct)s;
INSERT INTO "time" (start_time, hour, day, week, month, year, weekday)
SELECT DISTINCT start_time, EXTRACT(hour FROM start_time), EXTRACT(day FROM start_time),
       EXTRACT(week FROM start_time), EXTRACT(month FROM start_time), EXTRACT(year FROM start_time),
       EXTRACT(dow FROM start_time)
FROM songplays WHERE start_time < %(first_hour)s;
"""


def work_seconds(record: dict) -> float:
    """Seconds spent in the run's tasks, without the markers (begin pays the process's imports)."""
    return sum(v for task, v in record["task_seconds"].items() if task not in ("begin", "end"))


def fastest_run(stack, run_window, hour, extra_args=None) -> dict:
    runs = [run_window(stack, hour, 1, quiet=True, extra_args=extra_args)[0] for _ in range(2)]
    for record in runs:
        if record["state"] != "success":
            raise SystemExit(f"run failed: {record['failed_tasks']} (log {record['log']})")
    return min(runs, key=work_seconds)


def add_history(stack) -> int:
    """Fill HISTORY_DAYS of hours before the benchmark hour; returns the plays added."""
    import psycopg

    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        before = conn.execute("SELECT COUNT(*) FROM songplays").fetchone()[0]
        per_hour = conn.execute(f"SELECT COUNT(*) FROM {DAY_TABLE} WHERE page = 'NextSong'").fetchone()[0] / 24
        pct = max(1, min(100, round(100 * per_hour / max(before, 1))))
        for statement in filter(str.strip, HISTORY_SQL.split(";")):
            conn.execute(statement, {"hours": 24 * HISTORY_DAYS, "pct": pct, "first_hour": HOUR.replace(tzinfo=None)})
        conn.execute("ANALYZE")
        return conn.execute("SELECT COUNT(*) FROM songplays").fetchone()[0] - before


def main() -> None:
    from devstack.datagen import GenConfig, generate
    from devstack.run_window import run_window
    from devstack.seed import seed_bucket
    from devstack.stack import Stack

    scratch = Path(tempfile.mkdtemp(prefix="sparkify-bench-"))
    scratch.chmod(0o755)
    os.environ["SPARKIFY_DEVSTACK_DIR"] = str(scratch / "stack")
    stack = Stack(scratch / "stack")
    try:
        stack.up()
        began = time.monotonic()
        # One S3 object per song: the catalog is staged whole every hour, so its size sets a floor
        # under every run (about 3 ms per object on moto).
        config = GenConfig(start_date=DAY, days=1, events_per_day=EVENTS_PER_DAY, users=3000, songs=SONGS,
                           artists=SONGS // 2, seed=1)
        generate(scratch / "data", config, progress=False)
        seed_bucket(scratch / "data", stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        print(f"generated and seeded {EVENTS_PER_DAY:,} events in {time.monotonic() - began:.1f}s")

        restage = fastest_run(stack, run_window, HOUR, FORCE)
        empty = fastest_run(stack, run_window, NEXT_HOUR)
        began = time.monotonic()
        rows = add_history(stack)
        print(f"history: {rows:,} plays over {HISTORY_DAYS} days added in {time.monotonic() - began:.1f}s")
        loaded = fastest_run(stack, run_window, NEXT_HOUR)
        for record, cached in ((restage, False), (empty, True), (loaded, True)):
            skipped = {"stage_events", "stage_songs"} <= set(record.get("skipped_tasks", []))
            if skipped != cached:
                raise SystemExit(f"unexpected staging skips {record.get('skipped_tasks')} (log {record['log']})")

        print(f"{'task':28} {'restage s':>10} {'cached s':>9} {'cached+history s':>17}")
        for task in restage["task_seconds"]:
            print(f"{task:28} {restage['task_seconds'][task]:10.2f} {empty['task_seconds'].get(task, 0):9.2f} "
                  f"{loaded['task_seconds'].get(task, 0):17.2f}")
        staging = sum(v for k, v in restage["task_seconds"].items() if k.startswith("stage_"))
        print(f"staging the day file and the {SONGS:,}-song catalog: {staging:.1f}s = "
              f"{staging / max(work_seconds(restage), 1e-9):.0%} of a restaging run's task time")
        print(f"hourly run wall time (incl. ~3 s of imports in the first task): restage {restage['seconds']:.2f}s, "
              f"cached {empty['seconds']:.2f}s, cached with history {loaded['seconds']:.2f}s")
        print(f"hourly run task time: restage {work_seconds(restage):.2f}s, cached {work_seconds(empty):.2f}s, "
              f"cached with {HISTORY_DAYS} days history {work_seconds(loaded):.2f}s")
        print(f"ratios (task time): unchanged-sources/restage-both {work_seconds(empty) / work_seconds(restage):.2f} "
              f"(goal <= 0.2), history/empty {work_seconds(loaded) / work_seconds(empty):.2f} (goal <= 1.2)")
    finally:
        stack.down()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
