"""Hourly Sparkify warehouse load: S3 JSON -> Redshift staging (a cache) -> audit -> gate -> publish.

Wiring only: every SQL statement lives in ``sql/``, the load logic in ``plugins/sparkify/``.
Nothing slow happens at import time: Variables are read by Jinja when a task renders, not here.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import (
    DAG,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    Param,
    chain,
)

from sparkify import assets
from sparkify.announce import AnnounceCatalogOperator
from sparkify.config import AWS_CONN_ID, REDSHIFT_CONN_ID, sql_dir
from sparkify.failfast import RenderErrorsFailFast
from sparkify.intervals import MACROS
from sparkify.lateness import HourDue
from sparkify.load import LoadDimensionOperator, LoadFactOperator
from sparkify.notify import late_after, notify_late_hour, notify_task_failure
from sparkify.publish import PublishOperator
from sparkify.quality import DataQualityOperator
from sparkify.staging import StagingCache
from sparkify.tables import ddl_files

# Rendered when a task runs (Airflow Variables, with the documented defaults).
BUCKET = "{{ var.value.get('sparkify_s3_bucket', 'udacity-dend') }}"
SONG_PREFIX = "{{ var.value.get('sparkify_song_prefix', 'song_data') }}"
LOG_JSONPATH = "{{ var.value.get('sparkify_log_jsonpath', 'log_json_path.json') }}"
# The daily event file holding the run's interval start, e.g. log_data/2018/11/2018-11-15-events.json
# (prefix: Variable sparkify_log_prefix). The macros of sparkify.intervals also work in runs without a
# logical date; the quality gate names the same file through the same macro.
EVENTS_KEY = "{{ day_file_key() }}"
EVENTS_TABLE = "staging_events_{{ interval_start('%Y%m%d') }}"
# The next day's file, where late plays of the run's day arrive (the shipper names files by arrival day).
NEXT_DAY_KEY = "{{ next_day_file_key() }}"
NEXT_DAY_TABLE = "staging_events_next_day_{{ interval_start('%Y%m%d') }}"
EVENTS_COPY_OPTIONS = [f"FORMAT AS JSON 's3://{BUCKET}/{LOG_JSONPATH}'", "TIMEFORMAT 'epochmillisecs'"]
SONGS_KEY = SONG_PREFIX + "/"
CATALOG_DIMENSIONS = ("songs", "artists")  # rebuilt only in runs that restaged the catalog

DOC_MD = """
### sparkify_etl

Every hour, write-audit-publish:

1. **stage** (a cache of S3): `stage_events` copies the day file of the run's interval into that day's
   own table `staging_events_YYYYMMDD`; `stage_events_next_day` copies the NEXT day's file, when it exists,
   into `staging_events_next_day_YYYYMMDD` (late plays of the day arrive there: files are named by the UTC
   day an event arrived); `stage_songs` copies the song catalog into `staging_songs`. Each source is
   fingerprinted from its S3 listing (keys, ETags, sizes); when `staging_state` already records it, the
   task is **skipped**, the reason on a top-level log line. Param `force_restage` copies anyway.
2. **audit**: the loads write the hour's events of both files into `audit_songplays`, `audit_users`,
   `audit_time`, and, only when the catalog was restaged, `audit_songs`/`audit_artists` (otherwise skipped).
3. **gate** `run_quality_checks` (`sql/quality/checks.yaml`): the audit rows, reconciled with the staged
   files; plays of other days in the day file that no run published fail it, named. A failed gate
   publishes nothing. An hour that would lose published plays is refused unless param
   `accept_smaller_hour` is true (a correction: the removed plays are logged).
4. **publish**: one transaction applies the hour to `songplays`, `time`, `users` (newer wins), and the
   catalog to `songs`/`artists` when restaged.
5. `check_published` (`sql/quality/published.yaml`): referential checks on the published hour;
   `announce_catalog` emits the `songs`/`artists` asset events, skipped unless the catalog was published.

* Connections: `redshift_default` (type `redshift` or `postgres`), `aws_default`
  (extra `region`, `role_arn` for the COPY).
* Variables (optional): `sparkify_s3_bucket` (udacity-dend), `sparkify_log_prefix` (log_data),
  `sparkify_song_prefix` (song_data), `sparkify_log_jsonpath` (log_json_path.json).
* A manual run without a logical date loads the last complete hour.
* Runs may overlap (a backfill runs 10 at once): staging writers and the publish are serialised, each run
  reads only its own day's staging table and its own interval of the audit tables.
"""

default_args = {
    "owner": "sparkify-data-eng",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    # A template that cannot render fails at once, saying so, instead of retrying 3 x 5 minutes.
    "retry_policy": RenderErrorsFailFast(),
    "email_on_retry": False,
    "email_on_failure": False,
    # One message when a task fails its LAST try (retries call on_retry_callback, which sends nothing).
    "on_failure_callback": notify_task_failure,
}


def load_dimension(name: str, **kwargs) -> LoadDimensionOperator:
    """Task ``load_<name>_dim``: the rows of ``sql/load/<name>.sql`` into ``audit_<name>``."""
    return LoadDimensionOperator(task_id=f"load_{name}_dim", table=f"audit_{name}", sql=f"load/{name}.sql", **kwargs)


events_cache = StagingCache(single_file=True)
next_day_cache = StagingCache(single_file=True, optional=True, keyed_by_table=True)
catalog_cache = StagingCache(single_file=False, require_published=True)

with DAG(
    dag_id="sparkify_etl",
    description="Hourly S3 -> Redshift star schema load for Sparkify: cached staging, audit gate, publish",
    # Airflow 3 turns a plain "@hourly" into a CronTriggerTimetable whose data interval is empty
    # (start == end); the loads replace [data_interval_start, data_interval_end), so ask for real
    # hourly intervals: the run with logical date 13:00 covers [13:00, 14:00) and starts at 14:00.
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=pendulum.datetime(2018, 11, 1, tz="UTC"),
    catchup=False,
    # Scheduled runs one at a time; backfills ignore this (10 at once), which the DAG is built to survive.
    max_active_runs=1,
    default_args=default_args,
    template_searchpath=[sql_dir(__file__)],
    user_defined_macros=MACROS,
    params={
        "force_restage": Param(False, type="boolean", description="COPY the sources even when unchanged"),
        "accept_smaller_hour": Param(
            False, type="boolean",
            description="Publish the hour even if it now has fewer plays than published (a corrected day file); "
            "the removed plays are logged",
        ),
    },
    # No DAG-level on_failure_callback: a failed task already sent its message, and Airflow 3.3.2's
    # dag.test() crashes running one ("'SerializedDAG' object has no attribute 'on_failure_callback'").
    # A run that fails without a failed task (deadlocked) is reported by the late-hour alert.
    # Late hour (experimental in Airflow 3.3): not succeeded $SPARKIFY_LATE_AFTER_MINUTES (default 120)
    # after it was due: its hour's end, or its creation for a backfill of old hours (not 2018)
    # (docs/dag.md#late-hours-a-deadline-alert).
    deadline=DeadlineAlert(
        reference=HourDue(),
        interval=late_after(),
        callback=AsyncCallback(notify_late_hour),
        name="late_hour",
    ),
    doc_md=DOC_MD,
    tags=["sparkify", "redshift", "etl"],
) as dag:
    begin = EmptyOperator(task_id="begin", doc_md="Start of the run.")

    create_tables = SQLExecuteQueryOperator(
        task_id="create_tables",
        conn_id=REDSHIFT_CONN_ID,
        sql=ddl_files(),
        autocommit=False,
        # Concurrent CREATE TABLE IF NOT EXISTS of one table can fail on PostgreSQL: one at a time.
        max_active_tis_per_dag=1,
        doc_md="Create every table if missing (`CREATE TABLE IF NOT EXISTS`, `sql/ddl/`), "
        "including the day's `staging_events_YYYYMMDD`; idempotent.",
    )

    stage_events = S3ToRedshiftOperator(
        task_id="stage_events",
        redshift_conn_id=REDSHIFT_CONN_ID,
        aws_conn_id=AWS_CONN_ID,  # set explicitly: only then does the provider read region/role_arn
        schema="public",
        table=EVENTS_TABLE,
        s3_bucket=BUCKET,
        s3_key=EVENTS_KEY,
        method="REPLACE",
        copy_options=EVENTS_COPY_OPTIONS,
        pre_execute=events_cache.pre_execute,
        post_execute=events_cache.post_execute,
        max_active_tis_per_dag=1,  # REPLACE is DELETE + COPY: two at once would duplicate rows
        doc_md=(
            "Copy the day file of the run's interval (`log_data/YYYY/MM/YYYY-MM-DD-events.json`) into the "
            "day's own table `staging_events_YYYYMMDD`. **Skipped** when `staging_state` shows that exact "
            "file (keys, ETags, sizes) already staged; fails before any COPY when more than one object "
            "matches the key or the file is empty."
        ),
    )

    stage_events_next_day = S3ToRedshiftOperator(
        task_id="stage_events_next_day",
        redshift_conn_id=REDSHIFT_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
        schema="public",
        table=NEXT_DAY_TABLE,
        s3_bucket=BUCKET,
        s3_key=NEXT_DAY_KEY,
        method="REPLACE",
        copy_options=EVENTS_COPY_OPTIONS,
        pre_execute=next_day_cache.pre_execute,
        post_execute=next_day_cache.post_execute,
        max_active_tis_per_dag=1,
        doc_md=(
            "Copy the NEXT day's file into `staging_events_next_day_YYYYMMDD`: plays of the run's day that "
            "arrived after midnight UTC are there, and the loads read the interval's rows of both files. "
            "**Skipped** when unchanged; when the file does not exist yet, the table is emptied and the task "
            "skipped, saying so."
        ),
    )

    stage_songs = S3ToRedshiftOperator(
        task_id="stage_songs",
        redshift_conn_id=REDSHIFT_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
        schema="public",
        table="staging_songs",
        s3_bucket=BUCKET,
        s3_key=SONGS_KEY,
        method="REPLACE",
        copy_options=["FORMAT AS JSON 'auto'"],
        pre_execute=catalog_cache.pre_execute,
        post_execute=catalog_cache.post_execute,
        max_active_tis_per_dag=1,
        doc_md=(
            "Copy the song catalog into `staging_songs`. **Skipped** when the catalog's listing is unchanged "
            "since it was staged and published; then the songs/artists rebuild is skipped too."
        ),
    )

    load_songplays_fact = LoadFactOperator(
        task_id="load_songplays_fact",
        table="audit_songplays",
        sql="load/songplays.sql",
        trigger_rule="none_failed",  # a skipped (cached) staging task is fine
        doc_md="Write the plays of `[data_interval_start, data_interval_end)` into `audit_songplays` "
        "(DELETE + INSERT of the interval, one transaction).",
    )

    load_users_dim = load_dimension(
        "users",
        mode="interval",
        time_column="last_event_ts",
        doc_md="Write one candidate row per user seen in the interval (their latest event there) into "
        "`audit_users`; the publish applies them newer-wins.",
    )
    load_time_dim = load_dimension(
        "time",
        mode="interval",
        time_column="start_time",
        doc_md="Write one `time` row per distinct play start_time of the interval into `audit_time`.",
    )
    catalog_loads = [
        load_dimension(
            name,
            mode="truncate-insert",
            max_active_tis_per_dag=1,
            doc_md=f"Rebuild `audit_{name}` from the restaged catalog. Skipped when `stage_songs` skipped.",
        )
        for name in CATALOG_DIMENSIONS
    ]

    run_quality_checks = DataQualityOperator(
        task_id="run_quality_checks",
        checks="quality/checks.yaml",
        trigger_rule="none_failed",  # the catalog rebuild is skipped in most runs
        retry_on_failure=False,  # the same audit rows fail the same checks: fail now, not 3 x 5 min later
        doc_md="The audit gate (`sql/quality/checks.yaml`): audit rows of the interval, reconciled with the "
        "staged copy of the run's day file. Nothing is published unless every check passes.",
    )

    publish = PublishOperator(
        task_id="publish",
        hour_sql="publish/hour.sql",
        catalog_sql="publish/catalog.sql",
        catalog_task_ids=[task.task_id for task in catalog_loads],
        catalog_source=f"s3://{BUCKET}/{SONGS_KEY}",
        # songs/artists change only when the catalog is published: their events come from announce_catalog
        outlets=[assets.SONGPLAYS, assets.USERS, assets.TIME],
        doc_md="One transaction: the audited hour into `songplays`, `time`, `users` (newer wins), and the "
        "audited catalog into `songs`/`artists` when it was restaged.",
    )

    check_published = DataQualityOperator(
        task_id="check_published",
        checks="quality/published.yaml",
        retry_on_failure=False,
        doc_md="Referential checks on the published hour (`sql/quality/published.yaml`).",
    )

    announce_catalog = AnnounceCatalogOperator(
        task_id="announce_catalog",
        publish_task_id=publish.task_id,
        outlets=[assets.SONGS, assets.ARTISTS],
        doc_md="Asset events for `songs` and `artists`, only when `publish` published the catalog in this run; "
        "**skipped** otherwise, so a DAG scheduled on them runs once per new catalog, not every hour.",
    )

    # none_failed: a run that kept its catalog skips announce_catalog and still ends.
    end = EmptyOperator(task_id="end", trigger_rule="none_failed", doc_md="End of the run.")

    chain(begin, create_tables, [stage_events, stage_events_next_day, stage_songs], load_songplays_fact,
          [load_users_dim, load_time_dim], run_quality_checks, publish, check_published, announce_catalog, end)
    chain(stage_songs, catalog_loads, run_quality_checks)


if __name__ == "__main__":
    dag.test()
