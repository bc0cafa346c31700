"""Hourly Sparkify warehouse load: S3 JSON -> Redshift staging -> star schema -> quality gate.

Wiring only: every SQL statement lives in ``sql/``, the load logic in ``plugins/sparkify/``.
Nothing slow happens at import time: Variables are read by Jinja when a task renders, not here.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, CronDataIntervalTimetable, chain

from sparkify import assets
from sparkify.config import AWS_CONN_ID, REDSHIFT_CONN_ID, sql_dir
from sparkify.load import LoadDimensionOperator, LoadFactOperator
from sparkify.quality import DataQualityOperator

# Tables created by create_tables, in dependency-free order; one DDL file each under sql/ddl/.
TABLES = ("staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time")

# Rendered when a task runs (Airflow Variables, with the documented defaults).
BUCKET = "{{ var.value.get('sparkify_s3_bucket', 'udacity-dend') }}"
LOG_PREFIX = "{{ var.value.get('sparkify_log_prefix', 'log_data') }}"
SONG_PREFIX = "{{ var.value.get('sparkify_song_prefix', 'song_data') }}"
LOG_JSONPATH = "{{ var.value.get('sparkify_log_jsonpath', 'log_json_path.json') }}"
# The daily event file holding the run's data interval start, e.g. log_data/2018/11/2018-11-15-events.json.
EVENTS_KEY = LOG_PREFIX + "/{{ data_interval_start.strftime('%Y/%m/%Y-%m-%d') }}-events.json"

DOC_MD = """
### sparkify_etl

Every hour: stage the day's event file and the song catalog from S3 into Redshift with `COPY`,
replace the hour's plays in `songplays`, refresh the `users`, `songs`, `artists` and `time`
dimensions, then run the data-quality gate (`sql/quality/checks.yaml`).

* Connections: `redshift_default` (type `redshift` or `postgres`), `aws_default`
  (extra `region`, `role_arn` for the COPY).
* Variables (optional): `sparkify_s3_bucket` (udacity-dend), `sparkify_log_prefix` (log_data),
  `sparkify_song_prefix` (song_data), `sparkify_log_jsonpath` (log_json_path.json).
* Reruns and backfills are idempotent: staging uses `REPLACE`, the fact replaces exactly
  `[data_interval_start, data_interval_end)`, the dimensions upsert or replace atomically.
"""

default_args = {
    "owner": "sparkify-data-eng",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "email_on_retry": False,
    "email_on_failure": False,
}

with DAG(
    dag_id="sparkify_etl",
    description="Hourly S3 -> Redshift star schema load for Sparkify, with a data-quality gate",
    # Airflow 3 turns a plain "@hourly" into a CronTriggerTimetable whose data interval is empty
    # (start == end); the loads replace [data_interval_start, data_interval_end), so ask for real
    # hourly intervals: the run with logical date 13:00 covers [13:00, 14:00) and starts at 14:00.
    schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
    start_date=pendulum.datetime(2018, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # the staging tables are shared between runs
    default_args=default_args,
    template_searchpath=[sql_dir(__file__)],
    doc_md=DOC_MD,
    tags=["sparkify", "redshift", "etl"],
) as dag:
    begin = EmptyOperator(task_id="begin", doc_md="Start of the run.")

    create_tables = SQLExecuteQueryOperator(
        task_id="create_tables",
        conn_id=REDSHIFT_CONN_ID,
        sql=[f"ddl/{table}.sql" for table in TABLES],
        autocommit=False,
        doc_md="Create every table if missing (`CREATE TABLE IF NOT EXISTS`, `sql/ddl/`); idempotent.",
    )

    stage_events = S3ToRedshiftOperator(
        task_id="stage_events",
        redshift_conn_id=REDSHIFT_CONN_ID,
        aws_conn_id=AWS_CONN_ID,  # set explicitly: only then does the provider read region/role_arn
        schema="public",
        table="staging_events",
        s3_bucket=BUCKET,
        s3_key=EVENTS_KEY,
        method="REPLACE",
        copy_options=[
            f"FORMAT AS JSON 's3://{BUCKET}/{LOG_JSONPATH}'",
            "TIMEFORMAT 'epochmillisecs'",
        ],
        doc_md=(
            "Replace `staging_events` with the day file of the run's data interval "
            "(`log_data/YYYY/MM/YYYY-MM-DD-events.json`), columns by position from the jsonpaths file, "
            "`ts` converted from epoch milliseconds."
        ),
    )

    stage_songs = S3ToRedshiftOperator(
        task_id="stage_songs",
        redshift_conn_id=REDSHIFT_CONN_ID,
        aws_conn_id=AWS_CONN_ID,
        schema="public",
        table="staging_songs",
        s3_bucket=BUCKET,
        s3_key=SONG_PREFIX + "/",
        method="REPLACE",
        copy_options=["FORMAT AS JSON 'auto'"],
        doc_md="Replace `staging_songs` with the whole song catalog (JSON keys matched to column names).",
    )

    load_songplays_fact = LoadFactOperator(
        task_id="load_songplays_fact",
        table="songplays",
        sql="load/songplays.sql",
        outlets=[assets.SONGPLAYS],
        doc_md="Replace the plays of `[data_interval_start, data_interval_end)` in one transaction.",
    )

    load_users_dim = LoadDimensionOperator(
        task_id="load_users_dim",
        table="users",
        sql="load/users.sql",
        mode="upsert",
        key_columns=["user_id"],
        outlets=[assets.USERS],
        doc_md="Upsert the users seen in the interval; newer event wins (level of the latest event).",
    )

    load_songs_dim = LoadDimensionOperator(
        task_id="load_songs_dim",
        table="songs",
        sql="load/songs.sql",
        mode="truncate-insert",
        outlets=[assets.SONGS],
        doc_md="Rebuild `songs` from the staged catalog atomically (DELETE + INSERT, one transaction).",
    )

    load_artists_dim = LoadDimensionOperator(
        task_id="load_artists_dim",
        table="artists",
        sql="load/artists.sql",
        mode="truncate-insert",
        outlets=[assets.ARTISTS],
        doc_md="Rebuild `artists` from the staged catalog atomically (DELETE + INSERT, one transaction).",
    )

    load_time_dim = LoadDimensionOperator(
        task_id="load_time_dim",
        table='"time"',
        sql="load/time.sql",
        mode="upsert",
        key_columns=["start_time"],
        outlets=[assets.TIME],
        doc_md="Upsert one row per distinct play start_time of the interval.",
    )

    run_quality_checks = DataQualityOperator(
        task_id="run_quality_checks",
        checks="quality/checks.yaml",
        doc_md="Run the checks declared in `sql/quality/checks.yaml`; fail listing every failed check.",
    )

    end = EmptyOperator(task_id="end", doc_md="End of the run.")

    chain(
        begin,
        create_tables,
        [stage_events, stage_songs],
        load_songplays_fact,
        [load_users_dim, load_songs_dim, load_artists_dim, load_time_dim],
        run_quality_checks,
        end,
    )


if __name__ == "__main__":
    dag.test()
