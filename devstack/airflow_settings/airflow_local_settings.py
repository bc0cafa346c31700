"""Airflow local settings for the components of the local Airflow (`devstack.local_airflow`):
secrets masking on the components' consoles, and the scheduler's preload of the tasks' imports.

Airflow imports a module named `airflow_local_settings` from its path before it configures
logging; `LocalAirflow` puts this folder on the components' PYTHONPATH (and only theirs).

Why: LocalExecutor forwards every task's log lines to the scheduler's console as well as to the
task log (`subprocess_logs_to_stdout=True` is hard-coded in its worker), and Airflow core's console
logging has no secrets-masking step, unlike the task log file. A COPY statement with
`CREDENTIALS 'aws_access_key_id=...;aws_secret_access_key=...'` would therefore be masked in the
task log and printed in clear in the scheduler's output. Here the console pipeline of every component
gets Airflow's own redaction processors: the task SDK's masker (where the supervisor registers
what the task masks: connection passwords, sensitive extras) and the core masker (the metadata
database password, sensitive config values).

In the scheduler it also imports the task processes' heavy modules (`task_preload.py`), so the
tasks the LocalExecutor forks inherit them instead of importing them again.
"""

from __future__ import annotations

import airflow._shared.logging as _shared_logging

_configure_logging = _shared_logging.configure_logging


def _core_mask(logger, method_name, event_dict):
    from airflow._shared.secrets_masker import redact

    return redact(event_dict)


def _configure_logging_with_masking(*args, extra_processors=None, **kwargs):
    from airflow.sdk.log import mask_logs

    processors = (*(extra_processors or ()), mask_logs, _core_mask)
    return _configure_logging(*args, extra_processors=processors, **kwargs)


_shared_logging.configure_logging = _configure_logging_with_masking


def _preload_task_imports() -> None:
    """In the scheduler: import the tasks' heavy modules before the LocalExecutor forks (task_preload.py)."""
    import task_preload

    if task_preload.enabled():
        from airflow.configuration import conf

        task_preload.preload_for_tasks(conf.get("core", "dags_folder"), conf.get("core", "plugins_folder"))


_preload_task_imports()
