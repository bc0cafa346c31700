"""Event files for "now", so the real scheduler's own runs find data.

`sparkify_etl` has `catchup=False`: when it is unpaused, the scheduler at once creates a run for
the latest complete hour (today, or yesterday just after midnight UTC). Without an event file for
that day its `stage_events` fails and retries for 15 minutes, and with `max_active_runs=1` it
holds every other run. So the local Airflow seeds yesterday and today first.

The days are generated with the settings (seed, catalog, users) of the dataset already in the
bucket, so plays match the same catalog, and only their `log_data/` files are uploaded: the song
catalog in the bucket stays exactly the seeded one. Session ids are offset per day, so the live
days' `songplay_id`s (MD5 of session and item) never collide with the demo's or each other's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from devstack.datagen import GenConfig, generate
from devstack.seed import seed_bucket

EPOCH = date(2018, 11, 1)
# Sessions per generated day stay far below this; the offset fits PostgreSQL's INTEGER until ~2075.
SESSIONS_PER_DAY = 100_000


def live_config(base: GenConfig, today: date, events_per_day: int = 1000) -> GenConfig:
    """`base`'s catalog and users over [yesterday, today], session ids offset by the first day."""
    first = today - timedelta(days=1)
    return replace(base, start_date=first, days=2, events_per_day=events_per_day,
                   session_id_offset=(first - EPOCH).days * SESSIONS_PER_DAY)


def seed_live_days(out_dir: Path, base: GenConfig, bucket: str, *, endpoint_url: str,
                   today: date | None = None) -> date:
    """Generate (once per day) and upload the event files of yesterday and today; returns today."""
    today = today or datetime.now(UTC).date()
    config = live_config(base, today)
    marker = out_dir / ".live-config"
    if not (marker.exists() and marker.read_text() == repr(config)):
        generate(out_dir, config, progress=False)
        marker.write_text(repr(config))
    seed_bucket(out_dir, bucket, endpoint_url=endpoint_url, progress=False, only="log_data")
    return today
