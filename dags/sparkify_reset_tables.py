"""Manually triggered: drop and recreate every Sparkify table (those of ``sparkify.tables``).

Destructive, so it runs only when triggered with the param ``confirm`` set to the exact text of
``sparkify.reset.CONFIRMATION``; otherwise the first task fails and nothing is dropped.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Param, chain, task

from sparkify.config import REDSHIFT_CONN_ID, sql_dir
from sparkify.reset import CONFIRMATION, require_confirmation
from sparkify.tables import ddl_files, reset_tables

with DAG(
    dag_id="sparkify_reset_tables",
    description="DANGER: drop and recreate every Sparkify table (manual trigger, needs confirmation)",
    schedule=None,
    start_date=pendulum.datetime(2018, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    template_searchpath=[sql_dir(__file__)],
    user_defined_macros={"reset_tables": reset_tables()},
    params={
        "confirm": Param(
            "",
            type="string",
            title="Confirmation",
            description=f"Type exactly: {CONFIRMATION}",
        )
    },
    doc_md=__doc__,
    tags=["sparkify", "redshift", "admin"],
    default_args={"owner": "sparkify-data-eng", "retries": 0},
) as dag:

    @task(task_id="check_confirmation", doc_md="Fail unless the `confirm` param holds the exact text.")
    def check_confirmation(params=None) -> str:
        return require_confirmation(params)

    drop_tables = SQLExecuteQueryOperator(
        task_id="drop_tables",
        conn_id=REDSHIFT_CONN_ID,
        sql="reset/drop_tables.sql",
        autocommit=False,
        doc_md="`DROP TABLE IF EXISTS` every table but the per-day staging tables (`sql/reset/drop_tables.sql`).",
    )

    create_tables = SQLExecuteQueryOperator(
        task_id="create_tables",
        conn_id=REDSHIFT_CONN_ID,
        # The per-day staging_events_YYYYMMDD tables are created by the hourly runs, for their own day.
        sql=ddl_files(per_day=False),
        autocommit=False,
        doc_md="Recreate every table from `sql/ddl/`.",
    )

    chain(check_confirmation(), drop_tables, create_tables)


if __name__ == "__main__":
    dag.test()
