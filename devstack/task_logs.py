"""Task logs on S3: the amazon provider's remote logging, into a bucket of their own.

A task's log is written on the machine that ran it; with remote logging the task's supervisor
uploads it to S3 when the task ends, and the api-server reads it from there, so the log outlives
the worker (and the local file, which the provider empties after a successful upload).

`remote_logging_env()` is the `[logging]` configuration as environment variables, used by
`devstack.local_airflow` (`make airflow`); docker-compose.yaml sets the same variables and
docs/aws-runbook.md gives them for a real bucket. `ensure_logs_bucket()` creates the bucket at
start: private (every public access blocked) and encrypted at rest by default.
"""

from __future__ import annotations

LOGS_BUCKET = "sparkify-airflow-logs"
LOGS_PREFIX = "task-logs"
# Not aws_default: on AWS that connection carries the role only Redshift can assume (role_arn),
# which an S3Hook would try to assume for the upload.
LOGS_CONN_ID = "aws_task_logs"


def remote_base(bucket: str = LOGS_BUCKET, prefix: str = LOGS_PREFIX) -> str:
    """The `remote_base_log_folder` URL: `s3://<bucket>/<prefix>`."""
    return f"s3://{bucket}/{prefix}"


def remote_logging_env(bucket: str = LOGS_BUCKET, conn_id: str = LOGS_CONN_ID) -> dict[str, str]:
    """`[logging]` settings that send task logs to `bucket` through connection `conn_id`.

    `encrypt_s3_logs` asks S3 for server-side encryption (SSE-S3) on every log object; no ACL is
    sent, so objects keep S3's default, private to the bucket owner (a canned ACL would also be
    refused by buckets with ACLs disabled, the default for new buckets).
    """
    return {
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": remote_base(bucket),
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": conn_id,
        "AIRFLOW__LOGGING__ENCRYPT_S3_LOGS": "True",
    }


def ensure_logs_bucket(client, bucket: str = LOGS_BUCKET) -> bool:
    """Create `bucket` unless it exists, then block every public access and make SSE-S3 its default
    encryption (both idempotent). True when the bucket was created."""
    from devstack.seed import ensure_bucket

    created = ensure_bucket(client, bucket)
    client.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return created


def main(argv: list[str] | None = None) -> int:
    """`python -m devstack.task_logs --endpoint-url URL [--bucket NAME]`: create the logs bucket
    (the compose `seed` job runs this)."""
    import argparse

    from devstack.seed import s3_client

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--endpoint-url", default=None)
    parser.add_argument("--bucket", default=LOGS_BUCKET)
    args = parser.parse_args(argv)
    created = ensure_logs_bucket(s3_client(args.endpoint_url), args.bucket)
    print(f"task-log bucket {args.bucket}: {'created' if created else 'exists'} (private, SSE-S3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
