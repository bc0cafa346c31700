"""Announce the catalog's assets (``songs``, ``artists``) only in runs that published a new catalog.

An Airflow task emits an asset event for each of its ``outlets`` when it succeeds, whatever it did. The
publish task publishes the hour in every run but the catalog only when it was restaged (about once a day
or less), so the ``songs``/``artists`` outlets live on this task instead: it reads publish's result and
is **skipped** (no asset event) unless the catalog was published in this run. A DAG scheduled on
``sparkify.public.songs`` thus runs once per new catalog, not every hour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from sparkify import reasons

if TYPE_CHECKING:
    from airflow.sdk import Context


class AnnounceCatalogOperator(BaseOperator):
    """Succeed (emitting its outlets' asset events) only when ``publish_task_id`` published the catalog.

    :param publish_task_id: the :class:`~sparkify.publish.PublishOperator` task; its result's ``catalog``
        is true when the run published ``songs`` and ``artists``.
    """

    ui_color = "#e0d4f5"

    def __init__(self, *, publish_task_id: str = "publish", **kwargs) -> None:
        super().__init__(**kwargs)
        self.publish_task_id = publish_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        published = context["ti"].xcom_pull(task_ids=self.publish_task_id) or {}
        if not published.get("catalog"):
            reasons.skip("the catalog was not published in this run (unchanged): no songs/artists asset event",
                         close_group=False)
        names = ", ".join(outlet.name for outlet in self.outlets)
        self.log.info("the catalog was published in this run: asset events for %s", names)
        return {"announced": [outlet.name for outlet in self.outlets]}
