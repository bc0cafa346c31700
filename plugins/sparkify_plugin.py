"""The project's Airflow plugin: registers what the scheduler and api-server must find by name.

- ``deadline_references``: :class:`sparkify.lateness.HourDue`, the late-hour Deadline Alert's reference.
  Without this plugin loaded, creating a run of ``sparkify_etl`` fails ("Custom deadline reference class
  ... is not registered"): deploy ``plugins/`` to every component (docs/dag.md#late-hours-a-deadline-alert).
- ``listeners``: :class:`sparkify.run_notes.RunNotesListener`, which writes each run's one-line summary note.

Airflow imports every ``.py`` file of the plugins folder not excluded by ``plugins/.airflowignore``; the
``sparkify`` package is excluded there (it is imported by name, the folder is on ``sys.path``), so this
file is the only plugin module and the plugin class is defined once.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from sparkify.lateness import HourDue
from sparkify.run_notes import RunNotesListener


class SparkifyPlugin(AirflowPlugin):
    """The late-hour Deadline reference and the run summary listener of the Sparkify warehouse."""

    name = "sparkify"
    deadline_references = [HourDue]
    listeners = [RunNotesListener()]
