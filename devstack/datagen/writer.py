"""Byte-exact file formats of the bucket (see SCHEMA.md of the real sample).

- song files: one `json.dumps` object (`", "` / `": "` separators), fixed key order,
  non-ASCII as `\\uXXXX`, no trailing newline;
- daily log files: JSON Lines, compact separators, `/` escaped as `\\/`, non-ASCII as `\\uXXXX`,
  fixed key order, no trailing newline;
- `log_json_path.json`: the exact 456 bytes of the real file.

Log lines are assembled from pre-encoded fragments (per user, per played song, per page)
with one f-string per event: about 10x faster than serializing a dict per event.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from devstack.datagen.catalog import PlayedSong, Song
from devstack.datagen.events import LEVELS, PAGES
from devstack.datagen.users import User

LOG_KEYS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", "location",
    "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId",
)
_CHUNK = 50_000  # log lines per write
SONG_KEYS = (
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location", "artist_name",
    "song_id", "title", "duration", "year",
)
LOG_JSON_PATH = (
    '{\n    "jsonpaths": [\n'
    + ",\n".join(f"        \"$['{key}']\"" for key in LOG_KEYS)
    + "\n    ]\n}"
)


def log_value(value) -> str:
    """One JSON value as the real log writes it: ASCII-only, `/` escaped."""
    return json.dumps(value).replace("/", "\\/")


def song_record(song: Song) -> dict:
    artist = song.artist
    return {
        "num_songs": 1,
        "artist_id": artist.artist_id,
        "artist_latitude": artist.latitude,
        "artist_longitude": artist.longitude,
        "artist_location": artist.location,
        "artist_name": artist.name,
        "song_id": song.song_id,
        "title": song.title,
        "duration": song.duration,
        "year": song.year,
    }


def song_path(song: Song) -> str:
    """`song_data/A/B/C/TRABC....json`: directories are the 3rd..5th characters of the track id."""
    track = song.track_id
    return f"song_data/{track[2]}/{track[3]}/{track[4]}/{track}.json"


def write_song_files(out_dir: Path, songs: list[Song]) -> None:
    for song in songs:
        path = out_dir / song_path(song)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(json.dumps(song_record(song)).encode("ascii"))


def log_path(day_start_ms: int) -> str:
    day = datetime.fromtimestamp(day_start_ms / 1000, UTC)
    return f"log_data/{day:%Y}/{day:%m}/{day:%Y-%m-%d}-events.json"


class LogLineFormatter:
    """Turns event tuples into log lines."""

    def __init__(self, users: list[User], played: list[PlayedSong]) -> None:
        # Index -1 (logged out / no song) is the last element of each list.
        self.user_parts = [self._user_parts(user) for user in users] + [self._user_parts(None)]
        self.track_parts = [
            (log_value(p.artist), log_value(p.length), log_value(p.title)) for p in played
        ] + [("null", "null", "null")]
        self.page_parts = [(log_value(method), log_value(page), str(status)) for page, method, status in PAGES]
        self.level_parts = [log_value(level) for level in LEVELS]

    @staticmethod
    def _user_parts(user: User | None) -> tuple[str, ...]:
        if user is None:
            return ('"Logged Out"', "null", "null", "null", "null", "null", "null", '""')
        return (
            '"Logged In"',
            log_value(user.first_name),
            log_value(user.gender),
            log_value(user.last_name),
            log_value(user.location),
            log_value(float(user.registration)),  # `1540919166796.0`
            log_value(user.user_agent),
            log_value(user.user_id),
        )

    def line(self, event: tuple) -> str:
        ts, session_id, item, user_index, page_index, track_index, level_index = event
        auth, first, gender, last, location, registration, agent, user_id = self.user_parts[user_index]
        artist, length, song = self.track_parts[track_index]
        method, page, status = self.page_parts[page_index]
        level = self.level_parts[level_index]
        return (
            f'{{"artist":{artist},"auth":{auth},"firstName":{first},"gender":{gender},"itemInSession":{item},'
            f'"lastName":{last},"length":{length},"level":{level},"location":{location},"method":{method},'
            f'"page":{page},"registration":{registration},"sessionId":{session_id},"song":{song},'
            f'"status":{status},"ts":{ts},"userAgent":{agent},"userId":{user_id}}}'
        )

    def write_day(self, out_dir: Path, day_start_ms: int, events: list[tuple]) -> Path:
        path = out_dir / log_path(day_start_ms)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = self.line
        # Chunked, so a 1M-event day never holds all its lines at once; "\n" only between
        # lines: no trailing newline, like the real files.
        with path.open("wb") as handle:
            for start in range(0, len(events), _CHUNK):
                if start:
                    handle.write(b"\n")
                handle.write("\n".join([line(event) for event in events[start : start + _CHUNK]]).encode("ascii"))
        return path


def write_log_json_path(out_dir: Path) -> None:
    (out_dir / "log_json_path.json").write_bytes(LOG_JSON_PATH.encode("ascii"))
