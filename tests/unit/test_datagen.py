"""The generator reproduces the real data's formats and quirks, deterministically, and its truth
file equals what an independent reading of the written files gives."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from devstack.datagen import GenConfig, generate
from devstack.datagen.cli import register

SMALL = GenConfig(seed=11, days=4, events_per_day=1500, users=60, songs=300, artists=180)
LOG_KEYS = [
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", "location",
    "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId",
]
SONG_KEYS = [
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location", "artist_name",
    "song_id", "title", "duration", "year",
]
# Every (page, method, status) of the real sample.
REAL_COMBOS = {
    ("NextSong", "PUT", 200), ("Home", "GET", 200), ("Login", "PUT", 307), ("Logout", "PUT", 307),
    ("Downgrade", "GET", 200), ("Settings", "GET", 200), ("Help", "GET", 200), ("About", "GET", 200),
    ("Upgrade", "GET", 200), ("Save Settings", "PUT", 307), ("Error", "GET", 404),
    ("Submit Upgrade", "PUT", 307), ("Submit Downgrade", "PUT", 307),
}
USER_FIELDS = ("firstName", "lastName", "gender", "location", "registration", "userAgent")


def tree_digest(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("data"), SMALL, progress=False)


@pytest.fixture(scope="module")
def log_files(dataset) -> dict[Path, list[bytes]]:
    return {path: path.read_bytes().split(b"\n") for path in sorted((dataset / "log_data").rglob("*.json"))}


@pytest.fixture(scope="module")
def events(log_files) -> list[dict]:
    """Every event, in file order, tagged with its file's date."""
    out = []
    for path, lines in log_files.items():
        for line in lines:
            event = json.loads(line)
            event["_file_date"] = path.name[:10]
            out.append(event)
    return out


@pytest.fixture(scope="module")
def songs(dataset) -> list[tuple[Path, bytes, dict]]:
    return [(p, p.read_bytes(), json.loads(p.read_bytes())) for p in sorted((dataset / "song_data").rglob("*.json"))]


def latest_key(event: dict) -> tuple[int, int, int]:
    return (event["ts"], event["sessionId"], event["itemInSession"])


def hour_of(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%dT%H")


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path, dataset):
    config = GenConfig(seed=5, days=2, events_per_day=400, users=20, songs=50, artists=30)
    first = tree_digest(generate(tmp_path / "a", config, progress=False))
    assert first == tree_digest(generate(tmp_path / "b", config, progress=False))
    other = tree_digest(generate(tmp_path / "c", config.with_(seed=6), progress=False))
    assert set(first) != set(other)  # other track ids
    log = "log_data/2018/11/2018-11-01-events.json"
    assert first[log] != other[log]


def test_rerun_into_same_folder_removes_stale_day_files(tmp_path):
    out = tmp_path / "data"
    generate(out, GenConfig(days=3, events_per_day=100, users=10, songs=20, artists=10), progress=False)
    generate(out, GenConfig(days=1, events_per_day=100, users=10, songs=20, artists=10), progress=False)
    assert [p.name for p in (out / "log_data").rglob("*.json")] == ["2018-11-01-events.json"]


# --- formats -----------------------------------------------------------------------------------


def test_log_json_path_is_byte_identical_to_the_real_file(dataset):
    content = (dataset / "log_json_path.json").read_bytes()
    assert len(content) == 456
    assert hashlib.sha256(content).hexdigest() == "c005b5ccc355af50189635abaa4e07459eccf83f76abc0bb7c2d377985ea46da"


def test_song_files_are_json_dumps_style_with_fixed_key_order(songs):
    assert len(songs) == SMALL.songs
    for path, raw, record in songs:
        assert list(record) == SONG_KEYS
        assert raw == json.dumps(record).encode("ascii")  # ", " / ": " separators, \u escapes
        assert not raw.endswith(b"\n")
        track = path.stem
        assert len(track) == 18 and track.startswith("TR")
        assert path.parent.relative_to(path.parents[3]).parts == (track[2], track[3], track[4])
        assert path.parents[3].name == "song_data"
        assert record["num_songs"] == 1
        assert len(record["song_id"]) == 18 and record["song_id"].startswith("SO")
        assert len(record["artist_id"]) == 18 and record["artist_id"].startswith("AR")
        assert (record["artist_latitude"] is None) == (record["artist_longitude"] is None)
        assert isinstance(record["duration"], float) and isinstance(record["year"], int)
        assert record["artist_location"] is not None


def test_song_catalog_quirks(songs):
    records = [record for _, _, record in songs]
    raws = [raw for _, raw, _ in songs]
    assert sum(r["year"] == 0 for r in records) > len(records) * 0.4
    assert sum(r["artist_location"] == "" for r in records) > 0
    assert sum(r["artist_latitude"] is None and r["artist_location"] != "" for r in records) > 0
    assert sum(r["artist_latitude"] is not None for r in records) > 0
    assert any(b"\\u00" in raw for raw in raws), "non-ASCII must be \\u-escaped in some song file"
    assert any("'" in r["title"] or "'" in r["artist_name"] for r in records)
    assert len({r["song_id"] for r in records}) == len(records)
    by_artist = defaultdict(set)
    for r in records:
        by_artist[r["artist_id"]].add(tuple(r[k] for k in SONG_KEYS[1:6]))
    assert len(by_artist) < len(records), "some artist ids must appear in several song files"
    assert all(len(attributes) == 1 for attributes in by_artist.values()), "identical artist attributes"
    names = defaultdict(set)
    for r in records:
        names[r["artist_name"]].add(r["artist_id"])
    assert all(len(ids) == 1 for ids in names.values())
    assert len({(r["title"], r["artist_name"], r["duration"]) for r in records}) == len(records)


def reference_log_line(event: dict) -> bytes:
    clean = {key: event[key] for key in LOG_KEYS}
    return json.dumps(clean, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def test_log_lines_are_compact_escaped_and_in_key_order(log_files):
    assert len(log_files) == SMALL.days
    for path, lines in log_files.items():
        raw = path.read_bytes()
        assert raw.isascii() and b"\r" not in raw and not raw.endswith(b"\n") and raw.endswith(b"}")
        assert path.relative_to(path.parents[3]).as_posix().startswith("log_data/2018/11/2018-11-")
        for line in lines:
            event = json.loads(line)
            assert list(event) == LOG_KEYS
            assert line == reference_log_line(event)
    assert any(b"\\/" in line for lines in log_files.values() for line in lines)


def test_daily_files_are_sorted_by_ts_and_hold_only_their_date(log_files):
    for path, lines in log_files.items():
        stamps = [json.loads(line)["ts"] for line in lines]
        assert stamps == sorted(stamps)
        assert {datetime.fromtimestamp(ts / 1000, UTC).date().isoformat() for ts in stamps} == {path.name[:10]}
        assert all(ts % 1000 == 796 for ts in stamps)


# --- quirks ------------------------------------------------------------------------------------


def test_logged_out_events_have_empty_user_id_and_null_personal_fields(events):
    logged_out = [e for e in events if e["auth"] == "Logged Out"]
    assert logged_out and len(logged_out) < len(events) * 0.1
    for e in events:
        assert isinstance(e["userId"], str) and e["level"] in ("free", "paid")
        if e["auth"] == "Logged Out":
            assert e["userId"] == "" and all(e[f] is None for f in USER_FIELDS)
            assert e["page"] in {"Home", "Login", "About", "Help"}
        else:
            assert e["auth"] == "Logged In" and e["userId"].isdigit()
            assert all(e[f] is not None for f in USER_FIELDS)


def test_song_fields_only_on_next_song(events):
    for e in events:
        filled = [e[k] is not None for k in ("song", "artist", "length")]
        assert filled == [e["page"] == "NextSong"] * 3


def test_registration_is_float_epoch_ms_and_user_attributes_are_constant(log_files, events):
    raw = b"\n".join(line for lines in log_files.values() for line in lines)
    assert b'"registration":15' in raw and b'.0,"sessionId"' in raw
    per_user = defaultdict(set)
    for e in events:
        if e["userId"]:
            assert isinstance(e["registration"], float) and e["registration"].is_integer()
            assert e["registration"] < e["ts"]
            per_user[e["userId"]].add(tuple(e[f] for f in USER_FIELDS))
    assert all(len(values) == 1 for values in per_user.values())


def test_page_method_status_combinations_and_proportions(events):
    combos = Counter((e["page"], e["method"], e["status"]) for e in events)
    assert set(combos) <= REAL_COMBOS
    assert len(combos) >= 11
    next_song_share = combos[("NextSong", "PUT", 200)] / len(events)
    assert 0.75 < next_song_share < 0.92  # real: 0.85
    assert combos[("Home", "GET", 200)] > combos[("Login", "PUT", 307)] > 0


def test_user_agents_with_and_without_literal_quotes(events):
    agents = {e["userAgent"] for e in events if e["userAgent"]}
    quoted = {a for a in agents if a.startswith('"') and a.endswith('"')}
    assert quoted and agents - quoted


def test_text_quirks_apostrophes_non_ascii_mojibake_control_char(events):
    plays = [e for e in events if e["page"] == "NextSong"]
    texts = [e["song"] for e in plays] + [e["artist"] for e in plays]
    assert sum("'" in t for t in texts) > len(plays) * 0.02
    assert any(not t.isascii() for t in texts)
    assert any("\x19" in t for t in texts)

    def repaired(text: str) -> str | None:
        try:
            fixed = text.encode("latin-1").decode("utf-8").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
        return fixed if fixed != text else None

    assert sum(repaired(t) is not None for t in texts) > 0


def test_level_changes_only_right_after_submit_events(events):
    by_user = defaultdict(list)
    for e in events:
        if e["userId"]:
            by_user[e["userId"]].append(e)
    flips = submits = 0
    for user_events in by_user.values():
        user_events.sort(key=latest_key)
        for before, after in zip(user_events, user_events[1:], strict=False):
            if before["page"] in ("Submit Upgrade", "Submit Downgrade"):
                submits += 1
                expected = "paid" if before["page"] == "Submit Upgrade" else "free"
                assert (before["level"], after["level"]) == ({"paid": "free", "free": "paid"}[expected], expected)
            if before["level"] != after["level"]:
                flips += 1
                assert before["page"] in ("Submit Upgrade", "Submit Downgrade")
    assert flips >= 2 and submits >= flips
    assert any(e["page"] == "Submit Upgrade" for e in events)


def test_sessions_cross_midnight_and_keys_are_unique_while_ts_repeats(events):
    keys = [(e["sessionId"], e["itemInSession"]) for e in events]
    assert len(set(keys)) == len(keys)
    assert len({e["ts"] for e in events}) < len(events), "ts must repeat sometimes"
    files_per_session = defaultdict(set)
    users_per_session = defaultdict(set)
    for e in events:
        files_per_session[e["sessionId"]].add(e["_file_date"])
        if e["userId"]:
            users_per_session[e["sessionId"]].add(e["userId"])
    assert sum(len(dates) == 2 for dates in files_per_session.values()) >= 2
    assert all(len(users) <= 1 for users in users_per_session.values())
    # Sessions that mix logged-out and logged-in events exist (Login, Logout).
    mixed = {e["sessionId"] for e in events if not e["userId"]} & set(users_per_session)
    assert mixed


def test_hour_of_day_curve_is_afternoon_heavy(events):
    hours = Counter(datetime.fromtimestamp(e["ts"] / 1000, UTC).hour for e in events)
    afternoon = sum(hours[h] for h in range(14, 19)) / 5
    night = sum(hours[h] for h in range(2, 6)) / 4
    assert afternoon > 1.8 * night  # real: ~4.5x


# --- truth -------------------------------------------------------------------------------------


def recompute_truth(events: list[dict], songs: list[tuple[Path, bytes, dict]]) -> dict:
    """The truth, from the written files only."""
    hours: dict[str, dict] = defaultdict(lambda: {"plays": 0, "play_keys": [], "users": {}})
    latest_hour: dict[tuple[str, str], dict] = {}
    latest: dict[str, dict] = {}
    for e in events:
        hour = hour_of(e["ts"])
        if e["page"] == "NextSong":
            hours[hour]["plays"] += 1
            hours[hour]["play_keys"].append(f"{e['sessionId']}:{e['itemInSession']}")
        if e["userId"]:
            for store, key in ((latest_hour, (hour, e["userId"])), (latest, e["userId"])):
                if key not in store or latest_key(e) > latest_key(store[key]):
                    store[key] = e
    for (hour, user_id), e in latest_hour.items():
        hours[hour]["users"][user_id] = {
            "level": e["level"], "ts": e["ts"], "session_id": e["sessionId"], "item_in_session": e["itemInSession"]
        }
    catalog = {(r["title"], r["artist_name"], r["duration"]) for _, _, r in songs}
    plays = [e for e in events if e["page"] == "NextSong"]
    return {
        "hours": dict(hours),
        "events": len(events),
        "next_song": len(plays),
        "users": len(latest),
        "user_levels": {user_id: e["level"] for user_id, e in latest.items()},
        "matched_plays": sum((e["song"], e["artist"], e["length"]) in catalog for e in plays),
    }


def test_truth_equals_recomputation_from_the_files(dataset, events, songs):
    truth = json.loads((dataset / "truth.json").read_text())
    expected = recompute_truth(events, songs)
    assert truth["detail"] == "inline"
    totals = truth["totals"]
    for key in ("events", "next_song", "users", "user_levels", "matched_plays"):
        assert totals[key] == expected[key], key
    # Every hour of the window is listed; empty ones with zero plays.
    assert len(truth["hours"]) == SMALL.days * 24
    for hour, value in truth["hours"].items():
        want = expected["hours"].get(hour, {"plays": 0, "play_keys": [], "users": {}})
        assert value["plays"] == want["plays"], hour
        assert sorted(value["play_keys"]) == sorted(want["play_keys"]), hour
        assert value["users"] == want["users"], hour
    assert set(expected["hours"]) <= set(truth["hours"])


def test_match_rate_is_close_to_the_configured_one(dataset, events, songs):
    expected = recompute_truth(events, songs)
    assert abs(expected["matched_plays"] / expected["next_song"] - SMALL.match_rate) < 0.03


@pytest.mark.parametrize("rate", [0.0, 0.5, 1.0])
def test_match_rate_is_configurable(tmp_path, rate):
    config = GenConfig(seed=3, days=2, events_per_day=800, users=30, songs=100, artists=50, match_rate=rate)
    out = generate(tmp_path, config, progress=False)
    totals = json.loads((out / "truth.json").read_text())["totals"]
    assert abs(totals["matched_plays"] / totals["next_song"] - rate) < 0.05


def test_large_runs_move_play_keys_and_users_to_per_day_files(tmp_path):
    config = GenConfig(seed=9, days=2, events_per_day=300, users=20, songs=50, artists=30)
    inline = json.loads((generate(tmp_path / "inline", config, progress=False) / "truth.json").read_text())
    split_dir = generate(tmp_path / "split", config.with_(truth_inline_max_events=10), progress=False)
    split = json.loads((split_dir / "truth.json").read_text())
    assert inline["detail"] == "inline" and split["detail"] == "truth_days"
    assert split["totals"] == inline["totals"]
    days = sorted((split_dir / "truth_days").glob("*.json"))
    assert [p.name for p in days] == ["2018-11-01.json", "2018-11-02.json"]
    detail = {}
    for path in days:
        detail.update(json.loads(path.read_text())["hours"])
    for hour, value in inline["hours"].items():
        assert split["hours"][hour] == {"plays": value["plays"]}
        assert detail[hour] == {"play_keys": value["play_keys"], "users": value["users"]}


# --- CLI ---------------------------------------------------------------------------------------


def test_generate_subcommand(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["generate", "--out", str(tmp_path), "--seed", "2", "--days", "1", "--start-date", "2019-01-31",
         "--events-per-day", "50", "--users", "5", "--songs", "10", "--artists", "4", "--match-rate", "0.8",
         "--no-progress"]
    )
    assert args.func(args) == 0
    assert (tmp_path / "log_data/2019/01/2019-01-31-events.json").exists()
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["config"]["start_date"] == date(2019, 1, 31).isoformat() and truth["config"]["match_rate"] == 0.8
    assert len(list((tmp_path / "song_data").rglob("*.json"))) == 10


def test_chunked_log_writing_gives_the_same_bytes(tmp_path, monkeypatch):
    from devstack.datagen import writer

    config = GenConfig(seed=4, days=1, events_per_day=200, users=10, songs=20, artists=10)
    whole = tree_digest(generate(tmp_path / "whole", config, progress=False))
    monkeypatch.setattr(writer, "_CHUNK", 7)
    assert tree_digest(generate(tmp_path / "chunked", config, progress=False)) == whole
