"""Guard of the manually triggered table reset (dags/sparkify_reset_tables.py)."""

from __future__ import annotations

from typing import Any

#: The exact text the ``confirm`` param must hold before any table is dropped.
CONFIRMATION = "DROP ALL SPARKIFY TABLES"


def require_confirmation(params: dict[str, Any], expected: str = CONFIRMATION) -> str:
    """Fail (without retry) unless ``params['confirm']`` is exactly ``expected``."""
    from airflow.sdk.exceptions import AirflowFailException

    given = (params or {}).get("confirm")
    if given != expected:
        raise AirflowFailException(
            f"refusing to drop the Sparkify tables: trigger with param confirm={expected!r} (got {given!r})"
        )
    return "confirmed"
