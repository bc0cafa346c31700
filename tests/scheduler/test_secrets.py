"""No secret in anything the stack or Airflow writes, even when a COPY fails with the
credentials in its text (a quote in the jsonpaths Variable breaks the statement)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

from conftest import DAG_ID

from devstack.s3server import DUMMY_CREDENTIALS


def secrets_of(stack) -> dict[str, str]:
    return {
        "AWS key id": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "AWS secret": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "warehouse password": stack.config.password,
        "metadata DB password": stack.config.airflow_db_password,
    }


def test_a_failed_copy_shows_no_credentials_in_its_task_log(local_airflow, airflow_stack):
    api = local_airflow.api()
    # The quote goes into the jsonpaths key, not the bucket: stage_events lists the bucket (its staging
    # cache) before any COPY, and a bad bucket name fails there, with no COPY to leak.
    jsonpath = api.variable("sparkify_log_jsonpath")
    api.set_variable("sparkify_log_jsonpath", jsonpath.replace("_", "'_", 1))  # log'_json_path.json
    try:
        # force_restage: the day may already be staged (cached) by earlier runs of this session.
        run = api.trigger(DAG_ID, logical_date=datetime(2018, 11, 1, 12, tzinfo=UTC), conf={"force_restage": True})
        run_id = run["dag_run_id"]
        state = api.wait_for_task_state(DAG_ID, run_id, "stage_events", {"up_for_retry", "failed"}, timeout=900)
    finally:
        api.set_variable("sparkify_log_jsonpath", jsonpath)
    api.set_run_state(DAG_ID, run_id, "failed")  # do not hold the single active-run slot for 15 minutes
    assert state == "up_for_retry"
    log = api.task_log(DAG_ID, run_id, "stage_events", try_number=1)
    # The COPY was sent and refused (the endpoint names the broken parameter); the log echoes the statement ...
    assert "COPY public.staging_events" in log and "is not a Redshift COPY parameter" in log
    # ... whose credentials are masked, key id included.
    assert "aws_access_key_id=***;aws_secret_access_key=***" in log
    for name, secret in secrets_of(airflow_stack).items():
        assert secret not in log, name


def test_no_secret_in_any_file_under_the_state_dir(local_airflow, airflow_stack):
    """Every file the stack and Airflow wrote (logs, task logs, airflow.cfg, data files), after the
    runs of this session. stack.json is where the passwords are kept (0600); the PostgreSQL data
    directory is the database itself."""
    secrets = secrets_of(airflow_stack)
    found = []
    for path in airflow_stack.dir.rglob("*"):
        if not path.is_file() or path.name == "stack.json" or "pgdata" in path.parts:
            continue
        text = path.read_bytes()
        found += [f"{name} in {path}" for name, secret in secrets.items() if secret.encode() in text]
    assert found == []
    assert stat.S_IMODE((airflow_stack.dir / "stack.json").stat().st_mode) == 0o600


def test_component_logs_are_private(local_airflow):
    for name in ("api-server", "dag-processor", "triggerer", "scheduler"):
        assert stat.S_IMODE(local_airflow.log_file(name).stat().st_mode) == 0o600, name
