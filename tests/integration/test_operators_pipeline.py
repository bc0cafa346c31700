"""The tasks of sparkify_etl, as the DAG file defines them, for one hour of the real sample data.

S3 is the moto server holding /work/shared/sparkify-sample (bucket layout of udacity-dend); Redshift is
the local endpoint in front of PostgreSQL; connections and variables come from AIRFLOW_CONN_* and
AIRFLOW_VAR_*, exactly as in production. Each task's templates are rendered for the hour and its
``execute`` is called in graph order (no scheduler: the whole-DAG run is the e2e suite's job).
Expected figures are computed here from the JSON files themselves.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pendulum
import psycopg
import pytest

from tests.hour_context import hour_context

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = Path(os.environ.get("SPARKIFY_SAMPLE_DIR", "/work/shared/sparkify-sample"))
DATABASE = "sparkify_pipeline_it"
ORDER = [
    "create_tables",
    "stage_events",
    "stage_songs",
    "load_songplays_fact",
    "load_users_dim",
    "load_songs_dim",
    "load_artists_dim",
    "load_time_dim",
    "run_quality_checks",
    "publish",
    "check_published",
]

if not (SAMPLE / "log_json_path.json").is_file():  # pragma: no cover - depends on the checkout
    pytest.skip(f"sample data not found in {SAMPLE}", allow_module_level=True)


def sample_events(day: str) -> list[dict]:
    path = SAMPLE / "log_data" / day[:4] / day[5:7] / f"{day}-events.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sample_songs() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((SAMPLE / "song_data").rglob("*.json"))]


def to_ts(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def bucket(s3_server):
    name = f"sparkify-it-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_server.endpoint_url, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    for path in SAMPLE.rglob("*.json"):
        s3.put_object(Bucket=name, Key=str(path.relative_to(SAMPLE)), Body=path.read_bytes())
    return name


@pytest.fixture(scope="module")
def warehouse(pg_server):
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return DATABASE


@pytest.fixture
def environment(endpoint, s3_server, bucket, warehouse, monkeypatch):
    redshift = endpoint.airflow_connection("redshift")
    redshift["schema"] = warehouse
    aws = {"conn_type": "aws", "extra": {"endpoint_url": s3_server.endpoint_url, "region": "us-east-1"}}
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT_DEFAULT", json.dumps(redshift))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_S3_BUCKET", bucket)


@pytest.fixture(scope="module")
def etl_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "sparkify_etl.py"), safe_mode=False)
    assert bag.import_errors == {}
    return bag.dags["sparkify_etl"]


class RunResults:
    """The ``ti`` of the context: ``xcom_pull`` answers with the results of this run's earlier tasks."""

    def __init__(self):
        self.results: dict[str, object] = {}

    def xcom_pull(self, task_ids: str):
        return self.results.get(task_ids)


def run_hour(dag, start: datetime, params: dict | None = None) -> dict[str, str]:
    """Render and run every task of the DAG for the hour starting at ``start`` (UTC), as the task runner
    does: pre_execute hook, execute, post_execute hook; a skip skips the tasks that need it (the catalog
    rebuild after a skipped stage_songs). Returns each task's outcome."""
    from airflow.sdk.exceptions import AirflowSkipException

    begin = pendulum.instance(start, tz="UTC")
    env = dag.get_template_env()
    ti, outcome = RunResults(), {}
    for task_id in ORDER:
        task = dag.get_task(task_id).prepare_for_execution()
        if task.trigger_rule == "all_success" and any(outcome.get(up) == "skipped" for up in task.upstream_task_ids):
            outcome[task_id] = "skipped"
            continue
        context = {**hour_context(dag, task, begin), "ti": ti, "params": params or {}}
        task.render_template_fields(context, env)
        try:
            if task._pre_execute_hook:
                task._pre_execute_hook(context)
            result = task.execute(context)
            if task._post_execute_hook:
                task._post_execute_hook(context, result)
        except AirflowSkipException:
            outcome[task_id] = "skipped"
            continue
        ti.results[task_id] = result
        outcome[task_id] = "success"
    return outcome


def query(pg_server, sql: str) -> list[tuple]:
    with psycopg.connect(pg_server.dsn(dbname=DATABASE)) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.parametrize("hour", ["2018-11-15T13:00:00", "2018-11-21T21:00:00"])
def test_one_hour_of_the_sample(etl_dag, environment, pg_server, hour):
    start = datetime.fromisoformat(hour)
    end = start + timedelta(hours=1)
    day_events = sample_events(hour[:10])
    hour_events = [e for e in day_events if start <= to_ts(e["ts"]) < end]
    plays = [e for e in hour_events if e["page"] == "NextSong"]
    assert plays, "the chosen hour must have plays"

    first = run_hour(etl_dag, start)  # the catalog may be cached by the other hour's test (same database)
    assert first["stage_events"] == first["publish"] == first["check_published"] == "success"
    before = query(pg_server, "SELECT COUNT(*), MD5(STRING_AGG(t::text, '|' ORDER BY t::text)) FROM songplays t")
    rerun = run_hour(etl_dag, start)  # a rerun (retry, backfill) changes nothing and copies nothing
    assert {task for task, state in rerun.items() if state == "skipped"} == {
        "stage_events", "stage_songs", "load_songs_dim", "load_artists_dim"}
    assert query(pg_server, "SELECT COUNT(*), MD5(STRING_AGG(t::text, '|' ORDER BY t::text)) FROM songplays t") == before
    forced = run_hour(etl_dag, start, {"force_restage": True})
    assert set(forced.values()) == {"success"}

    day_table = f"staging_events_{start:%Y%m%d}"
    assert query(pg_server, f"SELECT COUNT(*) FROM {day_table}") == [(len(day_events),)]
    # three publishes; the catalog only by the runs that restaged it
    published = query(pg_server, f"SELECT catalog_published FROM publish_log WHERE interval_start = '{start}'")
    assert sorted(published) == sorted([(first["stage_songs"] == "success",), (False,), (True,)])
    songs = sample_songs()
    assert query(pg_server, "SELECT COUNT(*) FROM staging_songs") == [(len(songs),)]
    assert query(pg_server, "SELECT COUNT(DISTINCT song_id) FROM songs") == [
        (len({s["song_id"] for s in songs}),)
    ]
    assert query(pg_server, "SELECT COUNT(*) FROM artists") == [(len({s["artist_id"] for s in songs}),)]

    got = query(
        pg_server,
        f"SELECT session_id, item_in_session, start_time, user_id, level, song_id FROM songplays "
        f"WHERE start_time >= '{start}' AND start_time < '{end}' ORDER BY session_id, item_in_session",
    )
    catalog = {(s["title"], s["artist_name"], s["duration"]): s["song_id"] for s in songs}
    expected = sorted(
        (
            e["sessionId"],
            e["itemInSession"],
            to_ts(e["ts"]),
            int(e["userId"]),
            e["level"],
            catalog.get((e["song"], e["artist"], e["length"])),
        )
        for e in plays
    )
    assert got == expected

    users = {e["userId"] for e in hour_events if e["userId"]}
    stored = dict(query(pg_server, "SELECT CAST(user_id AS VARCHAR), level FROM users"))
    for user in users:
        latest = max(
            (e for e in hour_events if e["userId"] == user),
            key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"]),
        )
        assert stored[user] == latest["level"]
    time_rows = query(
        pg_server, f"SELECT COUNT(*) FROM \"time\" WHERE start_time >= '{start}' AND start_time < '{end}'"
    )
    assert time_rows == [(len({e["ts"] for e in plays}),)]
