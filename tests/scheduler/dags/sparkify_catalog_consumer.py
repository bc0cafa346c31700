"""A downstream DAG scheduled on the `songs` asset, as a team reading the catalog would write it.

Loaded by the scheduler tests as a second DAG bundle (tests/scheduler/conftest.py): it must run once per
catalog that `sparkify_etl` publishes, not once per hourly run.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from sparkify.assets import SONGS

with DAG(
    dag_id="sparkify_catalog_consumer",
    schedule=[SONGS],
    start_date=pendulum.datetime(2018, 11, 1, tz="UTC"),
    catchup=False,
    doc_md="Runs when `sparkify_etl` announces a newly published song catalog.",
    tags=["sparkify", "test"],
) as dag:
    EmptyOperator(task_id="read_catalog", doc_md="Stands for whatever reads the new catalog.")
