"""devstack.dagrun runs a DAG for a window of hours, each run the scheduler's run for its hour.

A two-task DAG in a private AIRFLOW_HOME (SQLite), run by `python -m devstack.dagrun` as
`python -m devstack run` starts it; the metadata database then holds what a backfill would find.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

DAG_FILE = textwrap.dedent('''
    import pendulum
    from airflow.sdk import DAG, CronDataIntervalTimetable, task

    with DAG("hourly_probe", schedule=CronDataIntervalTimetable("@hourly", timezone="UTC"),
             start_date=pendulum.datetime(2018, 11, 1, tz="UTC"), catchup=False):

        @task
        def interval(data_interval_start=None, data_interval_end=None, logical_date=None):
            return [data_interval_start.isoformat(), data_interval_end.isoformat(), logical_date.isoformat()]

        @task
        def downstream(seen):
            return seen

        downstream(interval())
''')


def run_window(home, dags, start: str, hours: int) -> list[dict]:
    progress = home / f"progress-{start}.jsonl"
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db"}
    done = subprocess.run([sys.executable, "-m", "devstack.dagrun", "--dag-id", "hourly_probe", "--start", start,
                           "--hours", str(hours), "--progress-file", str(progress)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads(line) for line in progress.read_text().splitlines()]


def test_each_hour_gets_the_schedulers_run(tmp_path):
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / "hourly_probe.py").write_text(DAG_FILE)

    records = run_window(home, dags, "2018-11-01T05", 2)
    assert [r["state"] for r in records] == ["success", "success"]
    records += run_window(home, dags, "2018-11-01T06", 1)  # the same hour again replaces its run
    assert records[-1]["state"] == "success"

    with sqlite3.connect(home / "airflow.db") as db:
        runs = db.execute("SELECT run_id, run_type, logical_date, data_interval_start, data_interval_end, state "
                          "FROM dag_run WHERE dag_id = 'hourly_probe' ORDER BY logical_date").fetchall()
        seen = dict(db.execute("SELECT run_id, value FROM xcom WHERE task_id = 'interval'").fetchall())
    assert [run[1:] for run in runs] == [
        ("scheduled", "2018-11-01 05:00:00.000000", "2018-11-01 05:00:00.000000", "2018-11-01 06:00:00.000000",
         "success"),
        ("scheduled", "2018-11-01 06:00:00.000000", "2018-11-01 06:00:00.000000", "2018-11-01 07:00:00.000000",
         "success"),
    ]
    assert [r["run_id"] for r in records] == [runs[0][0], runs[1][0], runs[1][0]]
    assert json.loads(seen[runs[0][0]]) == ["2018-11-01T05:00:00+00:00", "2018-11-01T06:00:00+00:00",
                                            "2018-11-01T05:00:00+00:00"]
