"""Integration fixtures: the local Redshift endpoint in front of the session's PostgreSQL and S3."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from devstack.endpoint.process import EndpointProcess


@pytest.fixture(scope="session")
def endpoint(pg_server, s3_server):
    """The endpoint as a real subprocess (host, port, and PostgreSQL's user/password/dbname).

    Also has ``.dsn()``, ``.redshift_connect_kwargs()``, ``.airflow_connection()``,
    ``.s3_endpoint_url`` and ``.log_file``.
    """
    log_file = Path(tempfile.mkdtemp(prefix="sparkify-endpoint-")) / "endpoint.log"
    ep = EndpointProcess(
        backend_host=pg_server.host, backend_port=pg_server.port, user=pg_server.user,
        password=pg_server.password, dbname=pg_server.dbname, s3_endpoint_url=s3_server.endpoint_url,
        log_file=log_file, log_level="DEBUG",
    )
    ep.start()
    yield ep
    ep.stop()
