"""The truth file: what a correct warehouse must contain, computed from the generated events.

`truth.json` at the dataset root (shape fixed by docs/CONTRACTS.md):

    {"hours": {"2018-11-01T21": {"plays": 12,
                                 "play_keys": ["38:3", ...],           # "sessionId:itemInSession"
                                 "users": {"39": {"level": "free", "ts": 1541105830796,
                                                  "session_id": 38, "item_in_session": 0}}}},
     "totals": {"events", "next_song", "logged_out_events", "sessions", "users",
                "user_levels": {userId: level of the user's latest event overall},
                "matched_plays", "first_ts", "last_ts", ...},
     "config": {...}, "detail": "inline" | "truth_days"}

- Every clock hour of the window is listed, empty ones with `plays: 0` and `users: {}`.
- Per-hour `users` = the latest event of each user within that hour, over events with a
  non-empty userId (any page); latest = max by (ts, sessionId, itemInSession).
- Large runs (config.events_per_day * days > config.truth_inline_max_events): truth.json keeps
  only `plays` per hour and `"detail": "truth_days"`; the `play_keys` and `users` of each hour are in
  `truth_days/YYYY-MM-DD.json` as `{"hours": {"YYYY-MM-DDTHH": {"play_keys": [...], "users": {...}}}}`.
  The seeder never uploads truth files.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from devstack.datagen.config import GenConfig
from devstack.datagen.events import LEVELS, NEXT_SONG

TRUTH_FILE = "truth.json"
TRUTH_DAYS_DIR = "truth_days"


def hour_key(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H")


class TruthBuilder:
    """Accumulates the truth day by day, from each day's sorted events."""

    def __init__(self, config: GenConfig, user_ids: list[str], n_catalog: int) -> None:
        self.config = config
        self.user_ids = user_ids
        self.n_catalog = n_catalog
        self.inline = config.events_per_day * config.days <= config.truth_inline_max_events
        self.hours: dict[str, dict] = {}
        self.latest_level: dict[int, int] = {}
        self.totals = {"events": 0, "next_song": 0, "logged_out_events": 0, "matched_plays": 0, "sessions": 0}
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    def add_day(self, out_dir: Path, day_start_ms: int, events: list[tuple], sessions: int) -> None:
        hours = {hour_key(day_start_ms + h * 3_600_000): {"plays": 0, "play_keys": [], "users": {}} for h in range(24)}
        totals = self.totals
        totals["sessions"] += sessions
        hour_start, hour = -1, None
        for ts, session_id, item, user_index, page, track, level in events:  # sorted ascending
            if ts >= hour_start + 3_600_000:
                hour_start = ts - ts % 3_600_000
                hour = hours[hour_key(ts)]
            if page == NEXT_SONG:
                hour["plays"] += 1
                hour["play_keys"].append(f"{session_id}:{item}")
                if track < self.n_catalog:
                    totals["matched_plays"] += 1
            if user_index >= 0:
                # Events come sorted by (ts, sessionId, itemInSession): the last one seen is the latest.
                hour["users"][user_index] = (level, ts, session_id, item)
                self.latest_level[user_index] = level
            else:
                totals["logged_out_events"] += 1
        totals["events"] += len(events)
        totals["next_song"] += sum(h["plays"] for h in hours.values())
        if events:
            self.first_ts = events[0][0] if self.first_ts is None else self.first_ts
            self.last_ts = events[-1][0]

        for value in hours.values():
            value["users"] = {
                self.user_ids[index]: {"level": LEVELS[lvl], "ts": ts, "session_id": sid, "item_in_session": item}
                for index, (lvl, ts, sid, item) in sorted(value["users"].items())
            }
        if self.inline:
            self.hours.update(hours)
            return
        day = datetime.fromtimestamp(day_start_ms / 1000, UTC)
        detail = {key: {"play_keys": v["play_keys"], "users": v["users"]} for key, v in hours.items()}
        path = out_dir / TRUTH_DAYS_DIR / f"{day:%Y-%m-%d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"hours": detail}, separators=(",", ":")))
        self.hours.update({key: {"plays": v["plays"]} for key, v in hours.items()})

    def write(self, out_dir: Path) -> Path:
        config = asdict(self.config)
        config["start_date"] = self.config.start_date.isoformat()
        totals = dict(self.totals)
        totals.update(
            users=len(self.latest_level),
            user_levels={self.user_ids[i]: LEVELS[lvl] for i, lvl in sorted(self.latest_level.items())},
            paid_users_latest=sum(self.latest_level.values()),
            first_ts=self.first_ts,
            last_ts=self.last_ts,
            match_rate=round(totals["matched_plays"] / totals["next_song"], 4) if totals["next_song"] else None,
        )
        truth = {
            "detail": "inline" if self.inline else TRUTH_DAYS_DIR,
            "config": config,
            "totals": totals,
            "hours": self.hours,
        }
        path = out_dir / TRUTH_FILE
        path.write_text(json.dumps(truth, separators=(",", ":")))
        return path


def expected_user_levels(truth: dict, hours: list[str]) -> dict[int, str]:
    """What `users` must hold after loading `hours` ("YYYY-MM-DDTHH") of a truth file with inline detail:
    each user's level at their latest event over those hours, newest (ts, session, item) wins."""
    latest: dict[str, dict] = {}
    for key in hours:
        for user, event in truth["hours"].get(key, {}).get("users", {}).items():
            order = (event["ts"], event["session_id"], event["item_in_session"])
            current = latest.get(user)
            if current is None or order > (current["ts"], current["session_id"], current["item_in_session"]):
                latest[user] = event
    return {int(user): event["level"] for user, event in latest.items()}
