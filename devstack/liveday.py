"""Event files for "now", so the real scheduler's own runs find data, without touching the user's data.

`sparkify_etl` has `catchup=False`: when it is unpaused, the scheduler at once creates a run for
the latest complete hour (today, or yesterday just after midnight UTC). Without an event file for
that day its `stage_events` fails and retries for 15 minutes, and with `max_active_runs=1` it
holds every other run. So the local Airflow seeds yesterday and today first.

Whatever dataset the bucket holds (the demo's, the real sample, the user's own), the live days
must never change a row of it:

- their users have ids from ``LIVE_USER_ID_OFFSET + 2`` upward (1,000,000,002, ...), so "newer
  wins" on `users` can never replace a dataset user's row with a synthetic 2026 one;
- their session ids start at ``LIVE_SESSION_ID_OFFSET``, offset again per day, so their
  `songplay_id`s (MD5 of session and item) collide neither with a dataset's nor with each other's;
- only their `log_data/` day files are uploaded, never a song catalog;
- a day file already in the bucket that the live days did not upload (a dataset that covers
  today) is left as it is: that day is not generated into the bucket.

The plays use the demo catalog's settings; against another catalog they are plays of songs
outside the catalog (no song_id), which the DAG handles like any unmatched play.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from botocore.exceptions import ClientError

from devstack.datagen import GenConfig, generate
from devstack.seed import s3_client, seed_bucket

EPOCH = date(2018, 11, 1)
# Ids no dataset uses: the real log's users are 2..101 and its sessions < 2,000; a generated
# dataset numbers both from 1. Both stay below PostgreSQL's INTEGER limit (2**31 - 1).
LIVE_USER_ID_OFFSET = 1_000_000_000
LIVE_SESSION_ID_OFFSET = 1_000_000_000
# A two-day window's sessions must fit in one day's slice: the next day's window starts one slice
# further, and yesterday's file is regenerated then. At most ~5 sessions per 2 events per day.
SESSIONS_PER_DAY = 10_000
MAX_EVENTS_PER_DAY = SESSIONS_PER_DAY // 5
UPLOADS_RECORD = ".live-uploads.json"  # key -> MD5 of every day file the live days uploaded


@dataclass
class LiveDays:
    """What `seed_live_days` did: the day it calls today, the day files it uploaded, the ones it left."""

    today: date
    uploaded: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # keys held by another dataset: left untouched
    ever_uploaded: list[str] = field(default_factory=list)  # every key the live days uploaded, any day


def live_config(base: GenConfig, today: date, events_per_day: int = 1000) -> GenConfig:
    """`base`'s catalog over [yesterday, today] with live user ids and per-day live session ids."""
    if events_per_day > MAX_EVENTS_PER_DAY:
        raise ValueError(f"events_per_day must be <= {MAX_EVENTS_PER_DAY} (session ids per day)")
    first = today - timedelta(days=1)
    return replace(base, start_date=first, days=2, events_per_day=events_per_day,
                   user_id_offset=LIVE_USER_ID_OFFSET,
                   session_id_offset=LIVE_SESSION_ID_OFFSET + (first - EPOCH).days * SESSIONS_PER_DAY)


def file_md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _day_files(out_dir: Path) -> dict[str, Path]:
    """Bucket key -> local path of every generated day file under `out_dir`."""
    return {path.relative_to(out_dir).as_posix(): path for path in sorted((out_dir / "log_data").rglob("*.json"))}


def _object_md5(client, bucket: str, key: str) -> str | None:
    """The object's ETag (the MD5 of a single-part upload), or None when there is no such object."""
    try:
        return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def seed_live_days(out_dir: Path, base: GenConfig, bucket: str, *, endpoint_url: str,
                   today: date | None = None) -> LiveDays:
    """Generate (once per day) and upload the event files of yesterday and today.

    A key that exists in the bucket with content the live days never uploaded belongs to another
    dataset: its local file is removed (so a restore of `out_dir` cannot upload it either) and the
    bucket keeps its object.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = LiveDays(today or datetime.now(UTC).date())
    record_path = out_dir / UPLOADS_RECORD
    ours: dict[str, list[str]] = json.loads(record_path.read_text()) if record_path.exists() else {}
    # Files already in the folder were generated here, so they count as ours (also for a folder
    # written before the record existed).
    for key, path in _day_files(out_dir).items():
        ours.setdefault(key, []).append(file_md5(path))

    config = live_config(base, result.today)
    marker = out_dir / ".live-config"
    if not (marker.exists() and marker.read_text() == repr(config)):
        generate(out_dir, config, progress=False)
        marker.write_text(repr(config))

    client = s3_client(endpoint_url)
    for key, path in _day_files(out_dir).items():
        existing = _object_md5(client, bucket, key)
        if existing is not None and existing not in ours.get(key, []):
            path.unlink()
            result.kept.append(key)
            continue
        ours[key] = sorted({*ours.get(key, []), file_md5(path)})
        result.uploaded.append(key)
    record = {key: sorted(set(md5s)) for key, md5s in ours.items() if key not in result.kept}
    record_path.write_text(json.dumps(record, indent=1))
    result.ever_uploaded = sorted(record)
    seed_bucket(out_dir, bucket, endpoint_url=endpoint_url, progress=False, only="log_data")
    return result
