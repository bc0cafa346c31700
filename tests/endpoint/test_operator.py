"""The amazon provider's S3ToRedshiftOperator, unchanged, against the endpoint (APPEND/REPLACE/UPSERT)."""

from __future__ import annotations

import json

import pytest
import redshift_connector

from tests.endpoint.endpoint_helpers import Bucket, pg, unique

pytestmark = pytest.mark.integration


@pytest.fixture()
def connections(endpoint, s3_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT_EP", json.dumps(endpoint.airflow_connection("redshift")))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_EP", json.dumps({
        "conn_type": "aws", "extra": {"endpoint_url": s3_server.endpoint_url, "region_name": "us-east-1",
                                      "region": "us-east-1"}}))
    return "redshift_ep", "aws_ep"


def _operator(method: str, table: str, bucket: Bucket, key: str, conns, **kwargs):
    from airflow.providers.amazon.aws.transfers.s3_to_redshift import S3ToRedshiftOperator

    return S3ToRedshiftOperator(
        task_id=f"load_{method.lower()}", schema="public", table=table, s3_bucket=bucket.name, s3_key=key,
        redshift_conn_id=conns[0], aws_conn_id=conns[1], copy_options=["FORMAT AS JSON 'auto'"],
        method=method, **kwargs)


def test_append_replace_upsert(endpoint, bucket, pg_server, connections):
    bucket.put("users/batch1.json", b'{"user_id": 1, "level": "free"}\n{"user_id": 2, "level": "free"}')
    bucket.put("users2/batch2.json", b'{"user_id": 2, "level": "paid"}\n{"user_id": 3, "level": "free"}')
    table = unique("users")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        conn.autocommit = True
        conn.cursor().execute(f"CREATE TABLE public.{table} (user_id INT PRIMARY KEY, level VARCHAR(10))")

    def rows():
        with pg(pg_server) as c:
            return c.execute(f"SELECT user_id, level FROM public.{table} ORDER BY user_id").fetchall()

    _operator("APPEND", table, bucket, "users/", connections).execute({})
    _operator("APPEND", table, bucket, "users/", connections).execute({})
    assert rows() == [(1, "free"), (1, "free"), (2, "free"), (2, "free")]  # keys are not enforced

    _operator("REPLACE", table, bucket, "users/", connections).execute({})
    assert rows() == [(1, "free"), (2, "free")]

    _operator("UPSERT", table, bucket, "users2/", connections, upsert_keys=["user_id"]).execute({})
    assert rows() == [(1, "free"), (2, "paid"), (3, "free")]


def test_replace_failure_keeps_old_rows(endpoint, bucket, pg_server, connections):
    bucket.put("bad/x.json", b'{"user_id": "not a number"}')
    table = unique("users")
    with redshift_connector.connect(**endpoint.redshift_connect_kwargs(), timeout=30) as conn:
        conn.autocommit = True
        conn.cursor().execute(f"CREATE TABLE public.{table} (user_id INT, level VARCHAR(10))")
        conn.cursor().execute(f"INSERT INTO public.{table} VALUES (9, 'paid')")
    with pytest.raises(Exception, match="Load into table"):
        _operator("REPLACE", table, bucket, "bad/", connections).execute({})
    with pg(pg_server) as c:
        assert c.execute(f"SELECT user_id FROM public.{table}").fetchall() == [(9,)]
