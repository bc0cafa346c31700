"""The Airflow plugin of the sparkify package: registers what the scheduler and api-server must find by name.

``deadline_references``: :class:`sparkify.lateness.HourDue`, the late-hour Deadline Alert's reference.
Without this plugin loaded, creating a run of ``sparkify_etl`` fails ("Custom deadline reference class ...
is not registered"): deploy ``plugins/`` to every component (docs/dag.md#late-hours-a-deadline-alert).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from sparkify.lateness import HourDue


class SparkifyPlugin(AirflowPlugin):
    """Registers the late-hour Deadline reference."""

    name = "sparkify"
    deadline_references = [HourDue]
