"""Shared helpers for the endpoint integration tests: S3 buckets and generated event data."""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import psycopg

from redshift_endpoint.process import EndpointProcess

CREDS = "aws_access_key_id=sparkify-local-key;aws_secret_access_key=sparkify-local-secret"

EVENT_KEYS = ["artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
              "location", "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent",
              "userId"]

STAGING_EVENTS_DDL = """
CREATE TABLE {name} (
    artist VARCHAR(512), auth VARCHAR(32), firstname VARCHAR(256), gender VARCHAR(8), iteminsession INTEGER,
    lastname VARCHAR(256), length DOUBLE PRECISION, level VARCHAR(16), location VARCHAR(512),
    method VARCHAR(16), page VARCHAR(64), registration DOUBLE PRECISION, sessionid INTEGER,
    song VARCHAR(512), status INTEGER, ts TIMESTAMP, useragent VARCHAR(512), userid VARCHAR(32)
) DISTSTYLE EVEN
"""


def jsonpaths(notation: str = "bracket") -> bytes:
    paths = [f"$['{k}']" if notation == "bracket" else f"$.{k}" for k in EVENT_KEYS]
    return json.dumps({"jsonpaths": paths}, indent=4).encode()


def make_events(n: int, seed: int = 1, start_ms: int = 1541105830796) -> list[dict]:
    rnd = random.Random(seed)
    events = []
    for i in range(n):
        logged_in = rnd.random() > 0.05
        next_song = logged_in and rnd.random() < 0.85
        events.append({
            "artist": rnd.choice(["Des'ree", 'Mr "Oizo"', "Björk", "Coldplay"]) if next_song else None,
            "auth": "Logged In" if logged_in else "Logged Out",
            "firstName": "Walter" if logged_in else None, "gender": "M" if logged_in else None,
            "itemInSession": i % 50, "lastName": "Frye" if logged_in else None,
            "length": round(rnd.uniform(20, 600), 5) if next_song else None,
            "level": rnd.choice(["free", "paid"]), "location": "San Francisco-Oakland-Hayward, CA" if logged_in
            else None, "method": "PUT" if next_song else "GET", "page": "NextSong" if next_song else "Home",
            "registration": 1540919166796.0 if logged_in else None, "sessionId": 10 + i // 50,
            "song": f"Song {i}\twith tab" if next_song else None, "status": 200, "ts": start_ms + i * 1000,
            "userAgent": '"Mozilla/5.0 (Macintosh)"' if logged_in else None,
            "userId": str(1 + i % 97) if logged_in else "",
        })
    return events


def jsonl(events: list[dict]) -> bytes:
    return "\n".join(json.dumps(e, separators=(",", ":")) for e in events).encode()


class Bucket:
    def __init__(self, endpoint_url: str):
        self.client = boto3.client("s3", endpoint_url=endpoint_url)
        self.name = f"ep-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(Bucket=self.name)

    def put(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)
        return f"s3://{self.name}/{key}"

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"


def pg(pg_server) -> psycopg.Connection:
    """A direct PostgreSQL connection (bypassing the endpoint) to check results."""
    return psycopg.connect(pg_server.dsn(), autocommit=True)


def rows(pg_server, sql: str) -> list[tuple]:
    """The rows of a query run directly on PostgreSQL."""
    with pg(pg_server) as c:
        return c.execute(sql).fetchall()


def run(conn, sql: str, params=None):
    """Execute one statement on a DB-API connection (redshift_connector); returns the cursor."""
    cur = conn.cursor()
    cur.execute(sql, params)
    return cur


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@contextmanager
def own_endpoint(pg_server, s3_server, prefix: str, **options) -> Iterator[EndpointProcess]:
    """An endpoint process of the caller's own (its memory and log measured alone), stopped on exit.

    ``options``: more EndpointProcess fields (auth_file, login_timeout, log_level, ...).
    """
    log_file = Path(tempfile.mkdtemp(prefix=prefix)) / "endpoint.log"
    options = {"log_level": "INFO", **options}
    ep = EndpointProcess(backend_host=pg_server.host, backend_port=pg_server.port, user=pg_server.user,
                         password=pg_server.password, dbname=pg_server.dbname,
                         s3_endpoint_url=s3_server.endpoint_url, log_file=log_file, **options)
    ep.start()
    try:
        yield ep
    finally:
        ep.stop()
