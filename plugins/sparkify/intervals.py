"""The run's data interval for templates, also for runs that have none.

``airflow dags trigger sparkify_etl`` (no ``--logical-date``) creates a run without a logical date;
Airflow 3 then leaves ``data_interval_start``/``data_interval_end`` out of the template context, and a
template naming them fails with ``'data_interval_start' is undefined``. The DAG's templates therefore
call :func:`interval_start` / :func:`interval_end` (registered as ``user_defined_macros``): the run's
own data interval when it has one, otherwise the interval the timetable gives a manual run at the run's
``run_after`` time, i.e. the last complete hour (``CronDataIntervalTimetable.infer_manual_data_interval``,
the same rule Airflow applies to a manual run *with* a logical date). :func:`day_file_key` names the
S3 day file of that interval, for the staging task and the quality gate alike.

Late plays: the log shipper names a file by the UTC day an event *arrived*, so an event of 23:55 may
land in the next day's file. Every run therefore also stages the next day's file (when it exists,
:func:`next_day_file_key`) into its day's table ``staging_events_next_day_YYYYMMDD``, and
:func:`interval_events` is the one source of the interval's events for the loads and the gate: the
rows of both staged files whose timestamps fall in the interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
    return _file_key(context, run_interval(context)[0])


def _file_key(context, day: datetime) -> str:
    prefix = context["var"]["value"].get(LOG_PREFIX_VARIABLE, LOG_PREFIX_DEFAULT)
    return f"{prefix}/{day:%Y/%m/%Y-%m-%d}-events.json"


@jinja2.pass_context
def next_day_file_key(context) -> str:
    """``{{ next_day_file_key() }}``: the S3 key of the day file after the one of the run's interval."""
    return _file_key(context, run_interval(context)[0] + timedelta(days=1))


@jinja2.pass_context
def interval_events(context) -> str:
    """``{{ interval_events() }}``: a parenthesised SELECT of the interval's staged events (alias it).

    Every column of the staging tables plus ``source_file`` (the S3 key the event arrived in): the rows
    of the day's ``staging_events_YYYYMMDD`` and of ``staging_events_next_day_YYYYMMDD`` (the next day's
    file, where late events of the day arrive) whose ``ts`` lies in ``[interval_start, interval_end)``.
    One line, so that it also fits a YAML scalar of ``sql/quality/checks.yaml``.
    """
    start, end = run_interval(context)
    day = start.strftime("%Y%m%d")
    where = f"ts >= '{start.strftime(SQL_TIMESTAMP)}' AND ts < '{end.strftime(SQL_TIMESTAMP)}'"
    return (
        f"(SELECT *, '{day_file_key(context)}' AS source_file FROM staging_events_{day} WHERE {where}"
        f" UNION ALL"
        f" SELECT *, '{next_day_file_key(context)}' AS source_file FROM staging_events_next_day_{day} WHERE {where})"
    )


MACROS = {
    "interval_start": interval_start,
    "interval_end": interval_end,
    "day_file_key": day_file_key,
    "next_day_file_key": next_day_file_key,
    "interval_events": interval_events,
}
