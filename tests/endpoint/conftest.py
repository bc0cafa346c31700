"""Fixtures shared by the endpoint's integration tests: a fresh S3 bucket and a Redshift driver connection.

The servers themselves (``pg_server``, ``s3_server``, ``endpoint``) come from tests/conftest.py.
"""

from __future__ import annotations

import psycopg
import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import Bucket


@pytest.fixture()
def bucket(s3_server) -> Bucket:
    """A new, empty bucket on the moto server (one per test: keys never collide)."""
    return Bucket(s3_server.endpoint_url)


@pytest.fixture()
def conn(endpoint):
    """An autocommit psycopg connection through the endpoint (simple protocol for statements without parameters)."""
    with psycopg.connect(endpoint.dsn(), autocommit=True, connect_timeout=10) as c:
        yield c


@pytest.fixture()
def rs(endpoint):
    """An autocommit redshift_connector connection through the endpoint, as Airflow's provider opens one."""
    conn = redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=120)
    conn.autocommit = True
    yield conn
    conn.close()
