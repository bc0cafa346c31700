"""The template context of one hourly run, for tests that render or execute tasks without a DAG run."""

from __future__ import annotations

from datetime import timedelta


def hour_context(dag, task, begin) -> dict:
    """Context for `task` in the run whose data interval is [begin, begin + 1 h) (begin: pendulum UTC).

    Uses Airflow's real ``var`` accessor, so Variables come from ``AIRFLOW_VAR_*``.
    """
    from airflow.sdk.execution_time.context import VariableAccessor

    return {
        "data_interval_start": begin,
        "data_interval_end": begin + timedelta(hours=1),
        "logical_date": begin,
        "ds": begin.strftime("%Y-%m-%d"),
        "var": {"value": VariableAccessor(deserialize_json=False), "json": VariableAccessor(True)},
        "params": {},
        "task": task,
        "dag": dag,
    }
