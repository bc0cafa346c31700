"""The run's data interval for templates, also for runs that have none.

``airflow dags trigger sparkify_etl`` (no ``--logical-date``) creates a run without a logical date;
Airflow 3 then leaves ``data_interval_start``/``data_interval_end`` out of the template context, and a
template naming them fails with ``'data_interval_start' is undefined``. The DAG's templates therefore
call :func:`interval_start` / :func:`interval_end` (registered as ``user_defined_macros``): the run's
own data interval when it has one, otherwise the interval the timetable gives a manual run at the run's
``run_after`` time, i.e. the last complete hour (``CronDataIntervalTimetable.infer_manual_data_interval``,
the same rule Airflow applies to a manual run *with* a logical date). :func:`day_file_key` names the
S3 day file of that interval, for the staging task and the quality gate alike.
"""

from __future__ import annotations

from datetime import datetime

import jinja2

from sparkify.sqltext import SQL_TIMESTAMP

#: The Airflow Variable holding the S3 prefix of the event files, and its default.
LOG_PREFIX_VARIABLE = "sparkify_log_prefix"
LOG_PREFIX_DEFAULT = "log_data"


def run_interval(context) -> tuple[datetime, datetime]:
    """(start, end) of the run rendering ``context`` (a Jinja context or the task context dict)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return start, end
    dag_run, dag = context.get("dag_run"), context.get("dag")
    run_after = getattr(dag_run, "run_after", None)
    if run_after is None or dag is None:
        raise ValueError("the run has neither a data interval nor a run_after time to infer one from")
    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dag.timetable)
    import pendulum

    interval = timetable.infer_manual_data_interval(run_after=pendulum.instance(run_after))
    return interval.start, interval.end


@jinja2.pass_context
def interval_start(context, fmt: str = SQL_TIMESTAMP) -> str:
    """``{{ interval_start() }}``: the run's interval start formatted with ``fmt`` (UTC)."""
    return run_interval(context)[0].strftime(fmt)


@jinja2.pass_context
def interval_end(context, fmt: str = SQL_TIMESTAMP) -> str:
    """``{{ interval_end() }}``: the run's interval end (exclusive) formatted with ``fmt`` (UTC)."""
    return run_interval(context)[1].strftime(fmt)


@jinja2.pass_context
def day_file_key(context) -> str:
    """``{{ day_file_key() }}``: the S3 key of the day file holding the run's interval start.

    E.g. ``log_data/2018/11/2018-11-15-events.json``; the prefix is the Variable ``sparkify_log_prefix``
    (default ``log_data``), read through the template context's ``var`` when the template renders.
    """
    prefix = context["var"]["value"].get(LOG_PREFIX_VARIABLE, LOG_PREFIX_DEFAULT)
    return f"{prefix}/{run_interval(context)[0]:%Y/%m/%Y-%m-%d}-events.json"


MACROS = {"interval_start": interval_start, "interval_end": interval_end, "day_file_key": day_file_key}
