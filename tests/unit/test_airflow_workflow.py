"""`make airflow`'s decisions: when the demo backfill is queued, at what concurrency, and its hints."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import httpx

from devstack.airflow_workflow import DEMO_DAY, day_ranges, demo_backfill_reason, hints, queue_demo_backfill

NOVEMBER = [date(2018, 11, 1) + timedelta(days=n) for n in range(30)]


class FakeApi:
    """The two REST calls queue_demo_backfill makes, recorded."""

    def __init__(self, backfills=()):
        self.backfills = list(backfills)
        self.created: list[dict] = []

    def get(self, path, **params):
        assert path == "/backfills" and params == {"dag_id": "sparkify_etl"}
        return {"backfills": self.backfills}

    def backfill(self, dag_id, from_date, to_date, **kwargs):
        self.created.append({"dag_id": dag_id, "from": from_date, "to": to_date, **kwargs})
        # What Airflow answers when the body has no max_active_runs: its default.
        return httpx.Response(200, json={"max_active_runs": 10},
                              request=httpx.Request("POST", "http://airflow/api/v2/backfills"))


def test_demo_backfill_uses_the_backfills_default_concurrency():
    """No max_active_runs in the request: Airflow's default for a backfill (10), not one at a time."""
    api = FakeApi()
    sentence = queue_demo_backfill(api, 24)
    assert api.created == [{"dag_id": "sparkify_etl", "from": DEMO_DAY, "to": DEMO_DAY + timedelta(hours=23)}]
    assert sentence == "queued a backfill of 24 hourly runs from 2018-11-01 00:00 UTC, up to 10 at a time"


def test_demo_backfill_is_not_queued_twice_nor_beside_a_running_backfill():
    running = {"from_date": "2018-11-05T00:00:00Z", "to_date": "2018-11-05T23:00:00Z", "completed_at": None}
    done = {"from_date": "2018-11-01T00:00:00Z", "to_date": "2018-11-01T23:00:00Z", "completed_at": "2026-01-01"}
    for backfills, says in (([running], "already running"), ([done], "earlier `make airflow`")):
        api = FakeApi(backfills)
        assert says in queue_demo_backfill(api, 24)
        assert api.created == []


def test_demo_backfill_needs_the_demo_day_in_the_bucket_and_no_play_in_the_warehouse():
    assert demo_backfill_reason(NOVEMBER, has_plays=False) is None
    assert demo_backfill_reason(NOVEMBER, has_plays=True) == "no demo backfill: the warehouse already holds plays"
    assert demo_backfill_reason(NOVEMBER[1:], has_plays=False) == (
        "no demo backfill: the bucket has no event file for 2018-11-01")
    assert demo_backfill_reason([], has_plays=False).endswith("no event file for 2018-11-01")


def test_day_ranges_collapse_consecutive_days():
    assert day_ranges(NOVEMBER) == "2018-11-01 to 2018-11-30"
    assert day_ranges([date(2018, 11, 1), date(2018, 11, 2), date(2018, 11, 4)]) == (
        "2018-11-01 to 2018-11-02, 2018-11-04")
    assert day_ranges([date(2019, 3, 1)]) == "2019-03-01"


def test_hints_name_a_day_the_bucket_holds_and_not_the_queued_one(tmp_path):
    airflow = SimpleNamespace(home=tmp_path / "airflow")
    days = [date(2019, 3, 1), date(2019, 3, 2)]
    text = hints(airflow, days, queued=set())
    assert "event files for 2019-03-01 to 2019-03-02" in text
    assert "--from-date 2019-03-01T00:00:00 --to-date 2019-03-01T23:00:00" in text
    assert "2018-11-02" not in text and "--max-active-runs" not in text
    text = hints(airflow, NOVEMBER, queued={date(2018, 11, 1)})
    assert "--from-date 2018-11-02T00:00:00" in text


def test_hints_without_any_dataset_say_to_seed_one(tmp_path):
    text = hints(SimpleNamespace(home=tmp_path), [], queued=set())
    assert "no event file besides the live days" in text and "backfill create" not in text
