"""Task logs on the local S3 (`make airflow`'s remote logging): the UI and REST API read a finished
task's log from its bucket after the local file is gone; the objects are private, encrypted and
hold no secret."""

from __future__ import annotations

import json

from conftest import DAG_ID
from test_secrets import secrets_of

from devstack.task_logs import LOGS_BUCKET, LOGS_PREFIX

TASK = "stage_events"  # its log echoes the COPY, whose credentials the masker must hide


def log_objects(s3, prefix: str = LOGS_PREFIX + "/") -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=LOGS_BUCKET, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def events_of(text: str) -> list[str]:
    """The `event` of each JSON line of a task log file (the format Airflow 3 writes and uploads)."""
    return [json.loads(line)["event"] for line in text.splitlines() if line.strip()]


def test_a_finished_tasks_log_is_read_from_s3_after_its_local_file_is_deleted(local_airflow, airflow_stack):
    run_id = local_airflow.first_scheduled_runs[0]["dag_run_id"]
    api = local_airflow.api()
    ti = next(t for t in api.task_instances(DAG_ID, run_id) if t["task_id"] == TASK)
    assert ti["state"] == "success"
    s3 = airflow_stack.s3_client()
    attempt = f"attempt={ti['try_number']}.log"
    keys = [key for key in log_objects(s3, f"{LOGS_PREFIX}/dag_id={DAG_ID}/run_id={run_id}/task_id={TASK}/")
            if key.endswith(attempt)]
    assert len(keys) == 1, keys
    uploaded = events_of(s3.get_object(Bucket=LOGS_BUCKET, Key=keys[0])["Body"].read().decode())
    assert len(uploaded) > 5 and any("COPY public.staging_events" in event for event in uploaded)

    local = local_airflow.home / "logs" / keys[0].removeprefix(LOGS_PREFIX + "/")
    assert local.exists(), f"the task's local log file is not where the S3 key says: {local}"
    local.unlink()

    log = api.task_log(DAG_ID, run_id, TASK, try_number=ti["try_number"])
    read_lines = log.splitlines()
    # Every record of the uploaded file, in order, through the REST API.
    position = 0
    for event in uploaded:
        position = next((i for i in range(position, len(read_lines)) if event.splitlines()[0] in read_lines[i]), None)
        assert position is not None, f"missing from the log read through the API: {event[:200]!r}"


def test_log_objects_are_private_encrypted_and_hold_no_secret(local_airflow, airflow_stack):
    s3 = airflow_stack.s3_client()
    block = s3.get_public_access_block(Bucket=LOGS_BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}
    keys = log_objects(s3)
    assert len(keys) >= 10, keys  # at least the scheduler's first run, every task
    secrets = secrets_of(airflow_stack)
    masked = 0
    for key in keys:
        assert s3.head_object(Bucket=LOGS_BUCKET, Key=key).get("ServerSideEncryption") == "AES256", key
        grantees = [grant["Grantee"] for grant in s3.get_object_acl(Bucket=LOGS_BUCKET, Key=key)["Grants"]]
        assert all(grantee.get("Type") == "CanonicalUser" for grantee in grantees), (key, grantees)
        text = s3.get_object(Bucket=LOGS_BUCKET, Key=key)["Body"].read().decode()
        assert [name for name, secret in secrets.items() if secret in text] == [], key
        masked += "aws_access_key_id=***;aws_secret_access_key=***" in text
    # The COPY statements that carry the keys are in these objects, masked: the search above had something to find.
    assert masked >= 1
