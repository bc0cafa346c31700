"""The shared fixtures start real servers: PostgreSQL with password auth, and moto's S3."""

import boto3
import psycopg
import pytest


def test_postgres_requires_password(pg_server):
    with psycopg.connect(pg_server.dsn()) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == pg_server.user
    wrong = pg_server.dsn().replace(pg_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)


def test_postgres_listens_on_loopback_only(pg_server):
    with psycopg.connect(pg_server.dsn()) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


def test_s3_server_round_trip(s3_server):
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url)
    s3.create_bucket(Bucket="fixture-check")
    s3.put_object(Bucket="fixture-check", Key="a/b.json", Body=b'{"x": 1}')
    assert s3.get_object(Bucket="fixture-check", Key="a/b.json")["Body"].read() == b'{"x": 1}'
