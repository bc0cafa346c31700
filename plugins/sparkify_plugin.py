"""The project's Airflow plugin: registers the listener that writes each run's one-line summary note.

Airflow imports every ``.py`` file of the plugins folder not excluded by ``plugins/.airflowignore``; the
``sparkify`` package is excluded there (it is imported by name, the folder is on ``sys.path``), so this
file is the only plugin module and the plugin class is defined once.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from sparkify.run_notes import RunNotesListener


class SparkifyPlugin(AirflowPlugin):
    """Listeners of the Sparkify warehouse: the run summary note (:mod:`sparkify.run_notes`)."""

    name = "sparkify"
    listeners = [RunNotesListener()]
