"""The live days for the local Airflow: same catalog and users as the demo, disjoint session ids."""

from __future__ import annotations

import json
from datetime import date

from devstack.datagen import GenConfig, generate
from devstack.liveday import EPOCH, SESSIONS_PER_DAY, live_config

BASE = GenConfig(seed=42, start_date=date(2018, 11, 1), days=1, events_per_day=300, users=20, songs=40, artists=20)


def session_ids(folder) -> set[int]:
    return {json.loads(line)["sessionId"] for path in folder.rglob("*-events.json")
            for line in path.read_text().splitlines()}


def test_live_config_covers_yesterday_and_today_with_an_offset_per_day():
    config = live_config(BASE, date(2026, 12, 1))
    assert (config.start_date, config.days) == (date(2026, 11, 30), 2)
    assert config.session_id_offset == (date(2026, 11, 30) - EPOCH).days * SESSIONS_PER_DAY
    assert live_config(BASE, date(2026, 12, 2)).session_id_offset > config.session_id_offset
    assert config.session_id_offset + SESSIONS_PER_DAY < 2**31  # PostgreSQL INTEGER


def test_live_days_reuse_the_catalog_but_never_the_session_ids(tmp_path):
    generate(tmp_path / "demo", BASE, progress=False)
    generate(tmp_path / "live", live_config(BASE, date(2026, 12, 1), events_per_day=300), progress=False)
    demo_ids, live_ids = session_ids(tmp_path / "demo"), session_ids(tmp_path / "live")
    assert demo_ids and live_ids and not demo_ids & live_ids
    songs = lambda root: sorted(p.relative_to(root).as_posix() for p in (root / "song_data").rglob("*.json"))  # noqa: E731
    assert songs(tmp_path / "demo") == songs(tmp_path / "live")


def test_no_offset_gives_the_same_bytes_as_before(tmp_path):
    """session_id_offset=0 (the default) must not change existing datasets."""
    generate(tmp_path / "a", BASE, progress=False)
    generate(tmp_path / "b", GenConfig(**{**BASE.__dict__, "session_id_offset": 0}), progress=False)
    first = sorted((tmp_path / "a").rglob("*-events.json"))
    assert [p.read_bytes() for p in first] == [(tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes()
                                               for p in first]
