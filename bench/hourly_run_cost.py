"""Does an hourly run cost more once the warehouse holds history?

1. Start a private local stack, generate one day of about 1M events (BENCH_EVENTS_PER_DAY) and
   seed it.
2. Run the real DAG for one hour on an empty warehouse (baseline), twice, keep the faster.
3. Add BENCH_HISTORY_DAYS (30) days of history to songplays, users and time, at the same
   volume per day as the generated day, directly in PostgreSQL, then ANALYZE.
4. Run the same hour again, twice, keep the faster.

Prints the per-task seconds of both, then on the last line the ratio with/without history.
Goal: at most 1.2 (an hour's cost does not grow with the warehouse).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVENTS_PER_DAY = int(os.environ.get("BENCH_EVENTS_PER_DAY", 1_000_000))
HISTORY_DAYS = int(os.environ.get("BENCH_HISTORY_DAYS", 30))
DAY = date(2018, 11, 1)
HOUR = datetime(2018, 11, 1, 15, tzinfo=UTC)

# Synthetic history for the 30 days before DAY, shaped like the loaded tables.
HISTORY_SQL = """
INSERT INTO songplays (songplay_id, start_time, user_id, level, song_id, artist_id, session_id,
                       item_in_session, location, user_agent)
SELECT MD5('history:' || g), TIMESTAMP %(first)s + (g * %(step)s) * INTERVAL '1 millisecond',
       1 + g %% 5000, CASE WHEN g %% 4 = 0 THEN 'free' ELSE 'paid' END,
       CASE WHEN g %% 10 < 9 THEN 'SOHIST' || (g %% 20000) END, CASE WHEN g %% 10 < 9 THEN 'ARHIST' || (g %% 8000) END,
       1000000 + g / 50, g %% 50, 'Somewhere, XX', 'Mozilla/5.0 (history)'
FROM generate_series(0, %(rows)s - 1) AS g;
INSERT INTO "time" (start_time, hour, day, week, month, year, weekday)
SELECT DISTINCT start_time, EXTRACT(hour FROM start_time), EXTRACT(day FROM start_time), EXTRACT(week FROM start_time),
       EXTRACT(month FROM start_time), EXTRACT(year FROM start_time), EXTRACT(dow FROM start_time)
FROM songplays WHERE start_time < %(day)s
ON CONFLICT DO NOTHING;
"""


def fastest_run(stack, run_window) -> dict:
    runs = [run_window(stack, HOUR, 1, quiet=True)[0] for _ in range(2)]
    for record in runs:
        if record["state"] != "success":
            raise SystemExit(f"run failed: {record['failed_tasks']} (log {record['log']})")
    return min(runs, key=lambda r: r["seconds"])


def add_history(stack, plays_per_day: int) -> int:
    import psycopg

    rows = plays_per_day * HISTORY_DAYS
    first = datetime(DAY.year, DAY.month, DAY.day) - timedelta(days=HISTORY_DAYS)
    step = int(HISTORY_DAYS * 86_400_000 / rows)
    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        for statement in filter(str.strip, HISTORY_SQL.split(";")):
            conn.execute(statement, {"first": first, "step": step, "rows": rows, "day": DAY})
        conn.execute("ANALYZE")
    return rows


def main() -> None:
    from devstack.datagen import GenConfig, generate
    from devstack.seed import seed_bucket
    from devstack.stack import Stack
    from devstack.workflows import run_window

    scratch = Path(tempfile.mkdtemp(prefix="sparkify-bench-"))
    scratch.chmod(0o755)
    os.environ["SPARKIFY_DEVSTACK_DIR"] = str(scratch / "stack")
    stack = Stack(scratch / "stack")
    try:
        stack.up()
        began = time.monotonic()
        config = GenConfig(start_date=DAY, days=1, events_per_day=EVENTS_PER_DAY, users=5000, songs=20000,
                           artists=8000, seed=1)
        generate(scratch / "data", config, progress=False)
        seed_bucket(scratch / "data", stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
        print(f"generated and seeded {EVENTS_PER_DAY:,} events in {time.monotonic() - began:.1f}s")

        empty = fastest_run(stack, run_window)
        import psycopg

        with psycopg.connect(stack.postgres.dsn()) as conn:
            plays_day = conn.execute("SELECT COUNT(*) FROM staging_events WHERE page = 'NextSong'").fetchone()[0]
        began = time.monotonic()
        rows = add_history(stack, plays_day)
        print(f"history: {rows:,} plays over {HISTORY_DAYS} days added in {time.monotonic() - began:.1f}s")
        loaded = fastest_run(stack, run_window)

        print(f"{'task':28} {'empty s':>9} {'history s':>10}")
        for task in empty["task_seconds"]:
            print(f"{task:28} {empty['task_seconds'][task]:9.2f} {loaded['task_seconds'].get(task, 0):10.2f}")
        staging = sum(v for k, v in loaded["task_seconds"].items() if k.startswith("stage_"))
        share = staging / max(sum(loaded["task_seconds"].values()), 1e-9)
        print(f"staging the whole day file and song catalog: {staging:.1f}s = {share:.0%} of task time per hourly run")
        print(f"hourly run: empty {empty['seconds']:.2f}s, with {HISTORY_DAYS} days history {loaded['seconds']:.2f}s")
        print(f"ratio history/empty: {loaded['seconds'] / empty['seconds']:.2f}")
    finally:
        stack.down()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
