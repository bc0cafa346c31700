"""When an hour is due: the reference of the DAG's late-hour Deadline Alert.

:class:`HourDue` is a custom Deadline reference (Airflow 3.3, experimental): the later of the run's
data-interval end and the moment the run is created. For a scheduled hourly run both are the end of its
hour, so "due + 2 h" is "2 hours after the interval ended"; a backfill or a manual run of an old hour is
due when it is created, so it is late only if it is slow, not because its hour was in 2018.

Why not a built-in reference: ``DAGRUN_LOGICAL_DATE`` makes every backfilled hour late at once, and
``DAGRUN_QUEUED_AT`` makes clearing a run fail in Airflow 3.3.2 (the clear recalculates queued-at
deadlines with ``timedelta(seconds=<the JSON interval>)``, a TypeError, HTTP 500). This reference is
evaluated once, when the run is created; clearing a run leaves its deadline alone.

The scheduler and the api-server (both create runs) find the class through the plugin
``plugins/sparkify_plugin.py`` (``deadline_references``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk.definitions.deadline import BaseDeadlineReference


def due(interval_end: datetime | None, run_after: datetime | None, now: datetime) -> datetime:
    """The later of the interval's end (or, without one, the run's ``run_after``) and ``now``."""
    end = interval_end or run_after
    return max(end, now) if end is not None else now


class HourDue(BaseDeadlineReference):
    """Deadline reference: the later of the run's data-interval end and its creation time."""

    required_kwargs = {"dag_id", "run_id"}

    def _evaluate_with(self, *, session: Any, **kwargs: Any) -> datetime | None:
        from airflow.models import DagRun
        from sqlalchemy import select

        row = session.execute(
            select(DagRun.data_interval_end, DagRun.run_after).where(
                DagRun.dag_id == kwargs["dag_id"], DagRun.run_id == kwargs["run_id"])
        ).one_or_none()
        if row is None:
            return None
        return due(row[0], row[1], datetime.now(UTC))
