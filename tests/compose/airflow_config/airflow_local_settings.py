"""Cluster policy for `make compose-test` only (mounted by compose.test.yaml, never by users).

The DAG retries after 5 minutes; the fault tests (worker killed, redshift/s3 restarted) must see
Airflow's own retry happen within a bounded test, without editing the DAG. A task policy runs
when the dag-processor parses the DAG, so the serialized DAG the scheduler uses carries these
values, and the scheduler's normal retry path is what gets exercised.
"""

from datetime import timedelta

RETRY_DELAY = timedelta(seconds=10)
MIN_RETRIES = 6


def task_policy(task) -> None:
    task.retry_delay = RETRY_DELAY
    task.retries = max(task.retries or 0, MIN_RETRIES)
