"""The live days for the local Airflow: the demo's catalog, user and session ids no dataset uses."""

from __future__ import annotations

import json
from datetime import date

import pytest

from devstack.datagen import GenConfig, generate
from devstack.liveday import (
    EPOCH,
    LIVE_SESSION_ID_OFFSET,
    LIVE_USER_ID_OFFSET,
    MAX_EVENTS_PER_DAY,
    SESSIONS_PER_DAY,
    live_config,
)

BASE = GenConfig(seed=42, start_date=date(2018, 11, 1), days=1, events_per_day=300, users=20, songs=40, artists=20)


def events(folder) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.rglob("*-events.json")) for line in path.read_text().splitlines()]


def session_ids(folder) -> set[int]:
    return {event["sessionId"] for event in events(folder)}


def user_ids(folder) -> set[int]:
    return {int(event["userId"]) for event in events(folder) if event["userId"] != ""}


def test_live_config_covers_yesterday_and_today_with_an_offset_per_day():
    config = live_config(BASE, date(2026, 12, 1))
    assert (config.start_date, config.days) == (date(2026, 11, 30), 2)
    assert config.session_id_offset == LIVE_SESSION_ID_OFFSET + (date(2026, 11, 30) - EPOCH).days * SESSIONS_PER_DAY
    assert config.user_id_offset == LIVE_USER_ID_OFFSET
    assert live_config(BASE, date(2026, 12, 2)).session_id_offset == config.session_id_offset + SESSIONS_PER_DAY
    # PostgreSQL INTEGER (songplays.session_id, users.user_id) still holds the ids in 2100.
    assert live_config(BASE, date(2100, 1, 1)).session_id_offset + SESSIONS_PER_DAY < 2**31
    assert LIVE_USER_ID_OFFSET + 2 + BASE.users < 2**31


def test_live_days_cannot_be_told_to_outgrow_their_session_slice():
    with pytest.raises(ValueError, match="events_per_day"):
        live_config(BASE, date(2026, 12, 1), events_per_day=MAX_EVENTS_PER_DAY + 1)


def test_live_users_and_sessions_are_disjoint_from_a_dataset_and_from_the_next_day(tmp_path):
    """Neither a generated dataset's ids (from 1) nor the real log's (users 2..101, sessions < 2,000)
    reach the live offsets; the window generated tomorrow starts above every session of today's."""
    generate(tmp_path / "demo", BASE, progress=False)
    today = live_config(BASE, date(2026, 12, 1), events_per_day=MAX_EVENTS_PER_DAY)
    generate(tmp_path / "live", today, progress=False)
    live_users, live_sessions = user_ids(tmp_path / "live"), session_ids(tmp_path / "live")
    assert min(live_users) >= LIVE_USER_ID_OFFSET + 2 and max(user_ids(tmp_path / "demo")) < 1000
    assert min(live_sessions) > LIVE_SESSION_ID_OFFSET and max(session_ids(tmp_path / "demo")) < 1000
    assert max(live_sessions) < live_config(BASE, date(2026, 12, 2)).session_id_offset


def test_live_days_reuse_the_catalog_but_never_the_session_ids(tmp_path):
    generate(tmp_path / "demo", BASE, progress=False)
    generate(tmp_path / "live", live_config(BASE, date(2026, 12, 1), events_per_day=300), progress=False)
    demo_ids, live_ids = session_ids(tmp_path / "demo"), session_ids(tmp_path / "live")
    assert demo_ids and live_ids and not demo_ids & live_ids
    songs = lambda root: sorted(p.relative_to(root).as_posix() for p in (root / "song_data").rglob("*.json"))  # noqa: E731
    assert songs(tmp_path / "demo") == songs(tmp_path / "live")


def test_live_users_keep_the_base_users_attributes_under_new_ids(tmp_path):
    generate(tmp_path / "demo", BASE, progress=False)
    generate(tmp_path / "live", live_config(BASE, date(2026, 12, 1)), progress=False)
    names = lambda folder: {(int(e["userId"]) % LIVE_USER_ID_OFFSET, e["firstName"], e["lastName"])  # noqa: E731
                            for e in events(folder) if e["userId"] != ""}
    assert names(tmp_path / "live") & names(tmp_path / "demo")


def test_no_offset_gives_the_same_bytes_as_before(tmp_path):
    """session_id_offset=0 and user_id_offset=0 (the defaults) must not change existing datasets."""
    generate(tmp_path / "a", BASE, progress=False)
    generate(tmp_path / "b", GenConfig(**{**BASE.__dict__, "session_id_offset": 0, "user_id_offset": 0}),
             progress=False)
    first = sorted((tmp_path / "a").rglob("*-events.json"))
    assert [p.read_bytes() for p in first] == [(tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes()
                                               for p in first]
