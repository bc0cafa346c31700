"""Users: fixed personal attributes, a heavy-tailed activity weight and a changing level."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from devstack.datagen import words
from devstack.datagen.config import GenConfig


@dataclass
class User:
    user_id: str  # numeric string, as in the real log ("2".."101")
    first_name: str
    last_name: str
    gender: str
    location: str
    user_agent: str
    registration: int  # epoch ms; written as a float (`1540919166796.0`)
    level: str  # current level; flips after Submit Upgrade / Submit Downgrade
    weight: float  # relative activity
    busy_until: int = 0  # ts (ms) of the end of the user's last session: sessions never overlap


def build_users(config: GenConfig) -> list[User]:
    rng = random.Random(f"{config.seed}:users")
    start = datetime.combine(config.start_date, time(), tzinfo=UTC)
    agents = [agent for agent, _ in words.USER_AGENTS]
    agent_cum_weights = list(itertools.accumulate(weight for _, weight in words.USER_AGENTS))
    users = []
    for index in range(config.users):
        gender = "F" if rng.random() < 0.57 else "M"
        first = rng.choice(words.FIRST_NAMES_F if gender == "F" else words.FIRST_NAMES_M)
        # Registered within the 2 weeks before the window (real: 10-19 .. 11-01); ms end in 796 like ts.
        registered = start - timedelta(seconds=rng.randrange(14 * 86400))
        paid = rng.random() < config.paid_user_rate
        users.append(
            User(
                user_id=str(index + 2 + config.user_id_offset),
                first_name=first,
                last_name=rng.choice(words.LAST_NAMES),
                gender=gender,
                location=rng.choice(words.USER_LOCATIONS),
                user_agent=rng.choices(agents, cum_weights=agent_cum_weights)[0],
                registration=int(registered.timestamp()) * 1000 + 796,
                level="paid" if paid else "free",
                # Pareto tail: a few users play most songs; paying users listen more (real: 22 of
                # 97 users are paid and produce 82% of the plays).
                weight=rng.paretovariate(1.3) * (4.0 if paid else 1.0),
            )
        )
    return users
