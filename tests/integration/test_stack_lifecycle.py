"""The stack's lifecycle against real servers: a patient S3 probe, the in-memory S3 refilled when
it had to be replaced, and `run` refusing an empty bucket."""

from __future__ import annotations

import http.server
import threading
import time
from datetime import date

import pytest

from devstack.cli import main
from devstack.datagen import GenConfig, generate
from devstack.processes import free_port
from devstack.s3server import healthy
from devstack.seed import seed_bucket
from devstack.stack import Stack
from tests.scratch_stack import scratch_stack


class SlowHandler(http.server.BaseHTTPRequestHandler):
    delay = 1.5

    def do_GET(self):  # noqa: N802 (http.server's naming)
        time.sleep(self.delay)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<ListAllMyBucketsResult/>")

    def log_message(self, *args):
        pass


def test_s3_probe_waits_for_a_slow_server_and_fails_on_a_dead_one():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Slower than a 0.5 s probe timeout: a server that answers slowly is alive, not to be replaced.
        assert healthy(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert not healthy(f"http://127.0.0.1:{free_port()}", timeout=1, attempts=2)


@pytest.fixture(scope="module")
def stack():
    with scratch_stack("sparkify-lifecycle-") as (stack, _):
        yield stack


def keys(stack: Stack) -> set[str]:
    pages = stack.s3_client().get_paginator("list_objects_v2").paginate(Bucket=stack.config.bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def empty_bucket(stack: Stack) -> None:
    client = stack.s3_client()
    for key in keys(stack):
        client.delete_object(Bucket=stack.config.bucket, Key=key)


def test_run_stops_at_once_on_an_empty_bucket(stack, capsys):
    empty_bucket(stack)
    began = time.monotonic()
    assert main(["run", "--hours", "3"]) == 1
    assert time.monotonic() - began < 30  # no DAG run was attempted
    assert "bucket sparkify-local is empty: run `make demo` or `python -m devstack seed`" in capsys.readouterr().err


def test_a_new_s3_server_gets_the_seeded_datasets_back(stack, capsys):
    empty_bucket(stack)
    demo = stack.dir / "demo-data"  # where `make demo` writes
    generate(demo, GenConfig(start_date=date(2018, 11, 1), days=1, events_per_day=50, users=5, songs=5, artists=5),
             progress=False)
    seed_bucket(demo, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
    extra = stack.dir / "extra"
    (extra / "log_data").mkdir(parents=True)
    (extra / "log_data" / "x.json").write_text("{}\n")
    assert main(["seed", "--from", str(extra), "--no-progress"]) == 0  # recorded for the restore
    before = keys(stack)
    assert "log_data/x.json" in before

    old_pid = stack.status()["s3"]["pid"]
    stack.up()  # nothing to do: the live server is kept, with its objects
    assert stack.status()["s3"]["pid"] == old_pid
    capsys.readouterr()

    stack.s3.stop()  # the in-memory objects are gone with it
    stack.up()
    assert stack.status()["s3"]["pid"] != old_pid
    assert keys(stack) == before
    err = capsys.readouterr().err
    assert f"restored {len(before) - 1} files from {demo}" in err
    assert f"restored 1 files from {extra.resolve()}" in err


def test_make_airflow_reads_the_bucket_and_the_warehouse_it_has(stack, capsys):
    """`make airflow`'s inputs from the real servers: the days a user's dataset holds (the live days
    left out), so no demo backfill and no hard-coded demo day in the hints; plays of a dataset in
    `songplays` (the live days' own do not count)."""
    import psycopg

    from devstack.airflow_workflow import (
        bucket_days,
        demo_backfill_reason,
        seed_live_days,
        warehouse_has_plays,
    )
    from devstack.liveday import LIVE_SESSION_ID_OFFSET

    empty_bucket(stack)
    theirs = stack.dir / "their-data"
    generate(theirs, GenConfig(start_date=date(2019, 3, 1), days=2, events_per_day=50, users=5, songs=5, artists=5),
             progress=False)
    seed_bucket(theirs, stack.config.bucket, endpoint_url=stack.s3.endpoint_url, progress=False)
    live = seed_live_days(stack)
    assert live.uploaded and live.kept == []
    days = bucket_days(stack, exclude=live.ever_uploaded)
    assert days == [date(2019, 3, 1), date(2019, 3, 2)]
    assert demo_backfill_reason(days, warehouse_has_plays(stack)) == (
        "no demo backfill: the bucket has no event file for 2018-11-01")

    with psycopg.connect(stack.postgres.dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.songplays')").fetchone()[0] is None
        assert not warehouse_has_plays(stack)  # no table yet: a fresh warehouse
        conn.execute("CREATE TABLE songplays (session_id INTEGER NOT NULL)")
        try:
            conn.execute("INSERT INTO songplays VALUES (%s)", (LIVE_SESSION_ID_OFFSET + 5,))
            assert not warehouse_has_plays(stack)
            conn.execute("INSERT INTO songplays VALUES (7)")
            assert warehouse_has_plays(stack)
        finally:
            conn.execute("DROP TABLE songplays")
