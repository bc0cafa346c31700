"""Ownership by tags: what we create carries :data:`infra.config.TAGS`; nothing else is ours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from infra.config import TAGS


def tag_list() -> list[dict[str, str]]:
    """TAGS in the ``[{"Key": ..., "Value": ...}]`` shape every AWS API here takes."""
    return [{"Key": k, "Value": v} for k, v in TAGS.items()]


def is_ours(tags: Iterable[Mapping[str, str]] | None) -> bool:
    """True if every one of our tags is present with our value."""
    have = {t.get("Key"): t.get("Value") for t in tags or ()}
    return all(have.get(k) == v for k, v in TAGS.items())
