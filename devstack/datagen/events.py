"""Event simulation: sessions of users clicking through pages, streamed one UTC day at a time.

An event is a compact tuple `(ts, session_id, item_in_session, user_index, page_index,
track_index, level_index)`; `user_index` is -1 on logged-out events and `track_index` -1 on
pages other than NextSong. Tuples sort by (ts, sessionId, itemInSession), which is unique,
so sorting them needs no key function and is deterministic.

Sessions start on a day following the real hour-of-day curve and run as long as they run:
events after midnight are carried into the next day's file (sessions cross midnight). Events
after the end of the window (sessions of the last day running past midnight) are dropped.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from devstack.datagen import words
from devstack.datagen.catalog import Catalog
from devstack.datagen.config import GenConfig
from devstack.datagen.users import User

# (page, method, status) as observed in the real log.
PAGES = (
    ("NextSong", "PUT", 200),
    ("Home", "GET", 200),
    ("Login", "PUT", 307),
    ("Logout", "PUT", 307),
    ("Downgrade", "GET", 200),
    ("Settings", "GET", 200),
    ("Help", "GET", 200),
    ("About", "GET", 200),
    ("Upgrade", "GET", 200),
    ("Save Settings", "PUT", 307),
    ("Error", "GET", 404),
    ("Submit Upgrade", "PUT", 307),
    ("Submit Downgrade", "PUT", 307),
)
P = {name: index for index, (name, _, _) in enumerate(PAGES)}
NEXT_SONG, HOME, LOGIN, LOGOUT = P["NextSong"], P["Home"], P["Login"], P["Logout"]
SUBMIT_UPGRADE, SUBMIT_DOWNGRADE = P["Submit Upgrade"], P["Submit Downgrade"]
LEVELS = ("free", "paid")

# Next page of a logged-in user, given the current page (weights from the real page pairs).
# Upgrade pages are for free users, Downgrade pages for paid ones.
_COMMON = {
    "NextSong": {"NextSong": 935, "Home": 23, "Logout": 13, "Settings": 5, "Help": 5, "About": 2.3, "Error": 1.3},
    "Home": {"NextSong": 75, "Home": 5, "Settings": 3, "About": 3, "Logout": 2, "Help": 1},
    "Settings": {"NextSong": 50, "Save Settings": 25, "Home": 10, "Help": 8, "Logout": 5},
    "Save Settings": {"Home": 1},
    "Help": {"NextSong": 60, "Home": 25, "Help": 10, "Logout": 5},
    "About": {"NextSong": 40, "Home": 40, "About": 15, "Logout": 5},
    "Error": {"NextSong": 60, "Home": 40},
    "Upgrade": {"Submit Upgrade": 38, "NextSong": 38, "Home": 24},
    "Downgrade": {"NextSong": 60, "Home": 20, "Downgrade": 8, "Submit Downgrade": 12},
    "Submit Upgrade": {"Home": 1},
    "Submit Downgrade": {"Home": 1},
}
_LEVEL_EXTRA = {
    "free": {"NextSong": {"Upgrade": 3}, "Home": {"Upgrade": 1.5}},
    "paid": {"NextSong": {"Downgrade": 8}, "Home": {"Downgrade": 1.5}},
}


def _transitions(level: str) -> list[tuple[list[int], list[float]]]:
    """Per page index: (next page indexes, cumulative weights)."""
    table = []
    for name, _, _ in PAGES:
        weights = dict(_COMMON[name]) if name in _COMMON else {"NextSong": 1}
        weights.update(_LEVEL_EXTRA[level].get(name, {}))
        pages = [P[page] for page in weights]
        table.append((pages, list(itertools.accumulate(weights.values()))))
    return table


_TRANSITIONS = (_transitions("free"), _transitions("paid"))


def _picker(weights: list[float]):
    """Weighted index sampler by bisection on cumulative weights (faster than rng.choices)."""
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]

    def pick(random_value: float) -> int:
        return bisect.bisect_right(cumulative, random_value * total)

    return pick


@dataclass
class DayEvents:
    day_start_ms: int
    events: list[tuple]  # sorted; every ts within [day_start_ms, day_start_ms + 86_400_000)
    sessions: int


class Simulator:
    """Generates the events of consecutive days; holds only the current day and the carry-over."""

    def __init__(self, config: GenConfig, catalog: Catalog, users: list[User]) -> None:
        self.config = config
        self.users = users
        self.rng = random.Random(f"{config.seed}:events")
        self.n_catalog = len(catalog.songs)
        played = catalog.played_in_catalog + catalog.outside
        self.lengths_s = [p.length for p in played]
        # Song popularity is Zipf-like: a few hits, a long tail (real: 5,295 (song, artist) for 6,820 plays).
        self.pick_catalog = _picker([1.0 / (rank + 1) ** 0.9 for rank in range(self.n_catalog)])
        self.pick_outside = _picker([1.0 / (rank + 1) ** 0.7 for rank in range(len(catalog.outside))])
        self.pick_user = _picker([user.weight for user in users])
        self.pick_hour = _picker(list(words.HOUR_WEIGHTS))
        factors = config.weekday_factors
        self.weekday_factor = [f * len(factors) / sum(factors) for f in factors]
        self.next_session_id = config.session_id_offset + self.rng.randint(1, 50)
        self.carry: list[tuple] = []
        # Sessions end earlier than planned (Logout, anonymous visitors), so the plan overshoots
        # by the ratio observed so far: days then hold ~events_per_day on average.
        self.yield_ratio = 0.85

    def days(self) -> Iterator[DayEvents]:
        start = datetime.combine(self.config.start_date, time(), tzinfo=UTC)
        for offset in range(self.config.days):
            day = start + timedelta(days=offset)
            yield self._day(int(day.timestamp()) * 1000, day.weekday())

    def _day(self, day_start_ms: int, weekday: int) -> DayEvents:
        rng, config = self.rng, self.config
        target = config.events_per_day * self.weekday_factor[weekday] * rng.uniform(0.75, 1.25)
        target = round(target / self.yield_ratio)
        starts: list[tuple[int, int]] = []
        planned_total = 0
        while planned_total < target:
            second = self.pick_hour(rng.random()) * 3600 + rng.randrange(3600)
            # Log-normal session length: median ~4 events, mean ~8.5, long tail (real max 128).
            planned = min(300, max(1, round(math.exp(rng.gauss(1.3, 1.3)))))
            starts.append((second, planned))
            planned_total += planned
        starts.sort()

        day_end_ms = day_start_ms + 86_400_000
        today, self.carry = self.carry, []
        produced = 0
        for second, planned in starts:
            events = self._session(day_start_ms + second * 1000 + 796, planned)
            produced += len(events)
            for event in events:
                if event[0] < day_end_ms:
                    today.append(event)
                elif event[0] < day_end_ms + 86_400_000:
                    self.carry.append(event)
        if planned_total:
            self.yield_ratio = max(0.5, min(1.0, produced / planned_total))
        today.sort()
        return DayEvents(day_start_ms, today, len(starts))

    def _choose_user(self, start_ms: int) -> tuple[int, int] | None:
        """(user index, start ts) for a new session; users never have two sessions at once."""
        rng, users = self.rng, self.users
        candidate = -1
        for _ in range(10):
            candidate = self.pick_user(rng.random())
            if users[candidate].busy_until <= start_ms:
                return candidate, start_ms
        # Everybody we asked is listening: start this one's session after their current one.
        shifted = users[candidate].busy_until + rng.randrange(60, 1800) * 1000
        return (candidate, shifted) if shifted - start_ms < 6 * 3_600_000 else None

    def _session(self, start_ms: int, planned: int) -> list[tuple]:
        rng, config = self.rng, self.config
        session_id = self.next_session_id
        self.next_session_id += 1
        if rng.random() < config.anonymous_session_rate:
            return self._anonymous_session(session_id, start_ms, planned)
        chosen = self._choose_user(start_ms)
        if chosen is None:
            return self._anonymous_session(session_id, start_ms, planned)
        user_index, ts = chosen
        user = self.users[user_index]
        events: list[tuple] = []
        item = 0

        def emit(page: int, as_user: bool, track: int = -1) -> None:
            nonlocal item
            level = 1 if user.level == "paid" else 0
            events.append((ts, session_id, item, user_index if as_user else -1, page, track, level))
            item += 1

        if rng.random() < config.login_rate:  # arrives logged out, logs in
            if rng.random() < 0.5:
                emit(HOME, False)
                ts += rng.randrange(1, 30) * 1000
            emit(LOGIN, False)
            ts += rng.randrange(0, 5) * 1000
            page = HOME
        else:
            page = HOME if rng.random() < 0.45 else NEXT_SONG

        while True:
            track = -1
            if page == NEXT_SONG:
                if rng.random() < config.match_rate:
                    track = self.pick_catalog(rng.random())
                else:
                    track = self.n_catalog + self.pick_outside(rng.random())
            emit(page, True, track)
            if page == SUBMIT_UPGRADE:  # the *next* event carries the new level
                user.level = "paid"
            elif page == SUBMIT_DOWNGRADE:
                user.level = "free"
            if page == LOGOUT:
                ts += rng.randrange(0, 3) * 1000  # often the same second: ts repeats
                emit(HOME, False)
                break
            if item >= planned and page not in (SUBMIT_UPGRADE, SUBMIT_DOWNGRADE, LOGIN):
                if rng.random() < config.logout_rate:
                    page = LOGOUT
                    ts += rng.randrange(1, 30) * 1000
                    continue
                break
            # Next song starts when this one ends; other pages are clicked through quickly.
            if track >= 0:
                ts += (int(self.lengths_s[track]) + rng.randrange(0, 3)) * 1000
            else:
                ts += rng.randrange(0, 60) * 1000
            if rng.random() < 0.01:  # a pause
                ts += rng.randrange(60, 2400) * 1000
            pages, cumulative = _TRANSITIONS[1 if user.level == "paid" else 0][page]
            page = pages[bisect.bisect_right(cumulative, rng.random() * cumulative[-1])]
        user.busy_until = ts + 1000
        return events

    def _anonymous_session(self, session_id: int, ts: int, planned: int) -> list[tuple]:
        """A visitor who never logs in: Home, About, Help only, with userId ""."""
        rng = self.rng
        level = 1 if rng.random() < 0.25 else 0
        events = [(ts, session_id, 0, -1, HOME, -1, level)]
        for item in range(1, min(planned, rng.randint(1, 4))):
            ts += rng.randrange(1, 90) * 1000
            page = rng.choice((HOME, P["About"], P["Help"]))
            events.append((ts, session_id, item, -1, page, -1, level))
        return events
