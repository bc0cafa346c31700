"""What the user sees: the Airflow connection/variable lines (masked by default) and log redaction."""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import urllib.parse
from collections.abc import Iterator

from infra.config import Settings

MASK = "********"


def airflow_env(
    s: Settings, *, host: str, password: str, role_arn: str, region: str, show_secrets: bool
) -> list[tuple[str, str]]:
    """(name, value) pairs for the environment of the Airflow deployment (see docs/CONTRACTS.md)."""
    redshift = {
        "conn_type": "redshift",
        "host": host,
        "port": s.db_port,
        "login": s.db_user,
        "password": password if show_secrets else MASK,
        "schema": s.db_name,
    }
    # `region`/`role_arn` are what S3ToRedshiftOperator reads for COPY; `region_name` is what AwsBaseHook reads.
    aws = {"conn_type": "aws", "extra": {"region": region, "region_name": region, "role_arn": role_arn}}
    return [
        ("AIRFLOW_CONN_REDSHIFT_DEFAULT", json.dumps(redshift)),
        ("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws)),
        ("AIRFLOW_VAR_SPARKIFY_S3_BUCKET", s.s3_bucket),
        ("AIRFLOW_VAR_SPARKIFY_LOG_PREFIX", s.log_prefix),
        ("AIRFLOW_VAR_SPARKIFY_SONG_PREFIX", s.song_prefix),
        ("AIRFLOW_VAR_SPARKIFY_LOG_JSONPATH", s.log_jsonpath),
    ]


def export_lines(pairs: list[tuple[str, str]]) -> str:
    """``export NAME='value'`` lines, safe to ``eval`` in a POSIX shell."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in pairs)


class _Redactor:
    """Replaces each secret (and its URL-encoded forms) in a log record's rendered message."""

    def __init__(self, secrets: list[str]) -> None:
        forms = set()
        for secret in secrets:
            forms |= {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        self.forms = sorted((f for f in forms if f), key=len, reverse=True)

    def __call__(self, record: logging.LogRecord) -> logging.LogRecord:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return record
        if any(f in message for f in self.forms):
            for f in self.forms:
                message = message.replace(f, MASK)
            record.msg, record.args = message, None
        return record


@contextlib.contextmanager
def redact_logs(*secrets: str) -> Iterator[None]:
    """While active, no log record (from any logger) carries the secrets.

    botocore logs request parameters, MasterUserPassword included, at DEBUG. Wrapping the record
    factory catches every logger, even ones created later, before any handler or filter sees it.
    """
    redact = _Redactor([s for s in secrets if s])
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)
