"""Benchmark: loading ~1M Sparkify events through the local Redshift endpoint.

Compares, in one run, on the same rows and the same table:
  limit     raw PostgreSQL COPY FROM STDIN of the rows as CSV (what this machine can ingest at best)
  endpoint  COPY staging_events FROM 's3://...' FORMAT AS JSON '<jsonpaths>' through the endpoint
            (S3 on a local moto server: listing, GETs, JSON parsing, conversion, injection)
  inserts   a row-by-row executemany INSERT loader (run on a subset and extrapolated)

Usage: python bench/endpoint_copy.py [EVENTS]   (or ENDPOINT_BENCH_EVENTS; default 1,000,000)
The last line printed is the endpoint-to-limit ratio (goal >= 0.5).
"""

from __future__ import annotations

import csv
import io
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
import orjson  # noqa: E402
import psycopg  # noqa: E402

from devstack.postgres import PostgresServer  # noqa: E402
from devstack.processes import free_port  # noqa: E402
from devstack.s3server import DUMMY_CREDENTIALS, S3Server  # noqa: E402
from redshift_endpoint.process import EndpointProcess  # noqa: E402

KEYS = ["artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level", "location",
        "method", "page", "registration", "sessionId", "song", "status", "ts", "userAgent", "userId"]
DDL = """CREATE TABLE staging_events (
    artist VARCHAR(512), auth VARCHAR(32), firstname VARCHAR(256), gender VARCHAR(8), iteminsession INTEGER,
    lastname VARCHAR(256), length DOUBLE PRECISION, level VARCHAR(16), location VARCHAR(512),
    method VARCHAR(16), page VARCHAR(64), registration DOUBLE PRECISION, sessionid INTEGER,
    song VARCHAR(512), status INTEGER, ts TIMESTAMP, useragent VARCHAR(512), userid VARCHAR(32))"""
EVENTS_PER_FILE = 10_000
INSERT_SUBSET = 20_000
PAGES = [("NextSong", "PUT", 200)] * 85 + [("Home", "GET", 200)] * 10 + [("Login", "PUT", 307)] * 3 + \
        [("Logout", "PUT", 307)] * 2
AGENTS = ['"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
          'Chrome/36.0.1985.143 Safari/537.36"',
          "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0"]
LOCATIONS = ["San Francisco-Oakland-Hayward, CA", "Washington-Arlington-Alexandria, DC-VA-MD-WV",
             "Atlanta-Sandy Springs-Roswell, GA"]


def generate(n: int, seed: int = 7) -> list[dict]:
    """Events shaped like log_data (SCHEMA.md): NextSong rows carry song/artist/length, ~4% logged out."""
    rnd = random.Random(seed)
    users = [(str(u), rnd.choice(["Walter", "Kaylee", "Lily"]), rnd.choice("MF"), rnd.choice(["Frye", "Koch"]),
              rnd.choice(LOCATIONS), rnd.choice(AGENTS), 1540919166796.0 + u * 1000) for u in range(2, 102)]
    ts = 1541105830796
    events = []
    for i in range(n):
        ts += rnd.randint(0, 4000)
        page, method, status = rnd.choice(PAGES)
        logged_out = page in ("Home", "Login") and rnd.random() < 0.4
        uid, first, gender, last, loc, agent, reg = users[rnd.randrange(len(users))]
        song = page == "NextSong"
        events.append({
            "artist": rnd.choice(["Des'ree", "Mr Oizo", "BjÃ\u0083Â¶rk", "Coldplay"]) if song else None,
            "auth": "Logged Out" if logged_out else "Logged In",
            "firstName": None if logged_out else first, "gender": None if logged_out else gender,
            "itemInSession": i % 100, "lastName": None if logged_out else last,
            "length": round(rnd.uniform(15, 2600), 5) if song else None, "level": rnd.choice(["free", "paid"]),
            "location": None if logged_out else loc, "method": method, "page": page,
            "registration": None if logged_out else reg, "sessionId": 3 + i // 100,
            "song": f"You Gotta Be {i % 5000}" if song else None, "status": status, "ts": ts,
            "userAgent": None if logged_out else agent, "userId": "" if logged_out else uid,
        })
    return events


def row_values(e: dict) -> list:
    ts = datetime.fromtimestamp(e["ts"] / 1000, UTC).replace(tzinfo=None)
    return [e[k] if k != "ts" else ts for k in KEYS]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("ENDPOINT_BENCH_EVENTS", "1000000"))
    scratch = Path(tempfile.mkdtemp(prefix="sparkify-bench-"))
    scratch.chmod(0o755)
    os.environ.update(DUMMY_CREDENTIALS)
    pg = PostgresServer(data_dir=scratch / "pg", port=free_port(), password=secrets.token_urlsafe(12))
    s3 = S3Server(state_dir=scratch / "s3", port=free_port())
    (scratch / "s3").mkdir()
    ep = None
    try:
        pg.start()
        s3.start()
        ep = EndpointProcess(backend_host=pg.host, backend_port=pg.port, user=pg.user, password=pg.password,
                             dbname=pg.dbname, s3_endpoint_url=s3.endpoint_url, log_file=scratch / "endpoint.log")
        ep.start()

        t0 = time.perf_counter()
        events = generate(n)
        client = boto3.client("s3", endpoint_url=s3.endpoint_url)
        client.create_bucket(Bucket="bench")
        for k in range(0, n, EVENTS_PER_FILE):
            body = b"\n".join(orjson.dumps(e) for e in events[k: k + EVENTS_PER_FILE])
            client.put_object(Bucket="bench", Key=f"log_data/part-{k // EVENTS_PER_FILE:05d}.json", Body=body)
        paths = {"jsonpaths": [f"$['{k}']" for k in KEYS]}
        client.put_object(Bucket="bench", Key="log_json_path.json", Body=orjson.dumps(paths))
        csv_buf = io.StringIO()
        writer = csv.writer(csv_buf)
        for e in events:
            writer.writerow(["" if v is None else v for v in row_values(e)])
        csv_bytes = csv_buf.getvalue().encode()
        print(f"setup: {n:,} events generated and uploaded in {time.perf_counter() - t0:.1f}s "
              f"({-(-n // EVENTS_PER_FILE)} objects)", flush=True)

        with psycopg.connect(pg.dsn(), autocommit=True) as conn, \
                psycopg.connect(pg.superuser_dsn(), autocommit=True) as su:   # CHECKPOINT: not the app's right
            conn.execute(DDL)

            def truncate():
                conn.execute("TRUNCATE staging_events")
                su.execute("CHECKPOINT")

            # 1. The limit: PostgreSQL's own COPY FROM STDIN (CSV), straight to the server.
            truncate()
            t = time.perf_counter()
            with conn.cursor() as cur, cur.copy("COPY staging_events FROM STDIN WITH (FORMAT csv)") as cp:
                for off in range(0, len(csv_bytes), 1 << 20):
                    cp.write(csv_bytes[off: off + (1 << 20)])
            limit_s = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM staging_events").fetchone()[0] == n

            # 2. The endpoint: Redshift COPY from S3 with jsonpaths, through the relay.
            truncate()
            with psycopg.connect(ep.dsn(), autocommit=True) as rs:
                t = time.perf_counter()
                rs.execute("COPY staging_events FROM 's3://bench/log_data' credentials "
                           f"'aws_access_key_id={DUMMY_CREDENTIALS['AWS_ACCESS_KEY_ID']};aws_secret_access_key="
                           f"{DUMMY_CREDENTIALS['AWS_SECRET_ACCESS_KEY']}' region 'us-east-1' "
                           "FORMAT AS JSON 's3://bench/log_json_path.json' TIMEFORMAT 'epochmillisecs'")
                endpoint_s = time.perf_counter() - t
            assert conn.execute("SELECT count(*) FROM staging_events").fetchone()[0] == n

            # 3. Row-by-row INSERTs (executemany), on a subset, extrapolated.
            truncate()
            subset = [row_values(e) for e in events[:min(n, INSERT_SUBSET)]]
            t = time.perf_counter()
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO staging_events VALUES ({', '.join(['%s'] * len(KEYS))})", subset)
            insert_s = time.perf_counter() - t

        limit_rps, endpoint_rps, insert_rps = n / limit_s, n / endpoint_s, len(subset) / insert_s
        print(f"limit    PostgreSQL COPY FROM STDIN (CSV): {limit_rps:12,.0f} rows/s ({limit_s:.2f}s)")
        print(f"endpoint COPY FROM S3 JSON + jsonpaths   : {endpoint_rps:12,.0f} rows/s ({endpoint_s:.2f}s)")
        print(f"inserts  executemany INSERT             : {insert_rps:12,.0f} rows/s "
              f"({len(subset):,} rows in {insert_s:.2f}s, extrapolated to {n / insert_rps:.0f}s for {n:,})")
        print(f"endpoint / inserts ratio: {endpoint_rps / insert_rps:.1f}")
        print(f"endpoint / limit ratio: {endpoint_rps / limit_rps:.2f}")
    finally:
        if ep is not None:
            ep.stop()
        s3.stop()
        pg.stop(mode="immediate")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
