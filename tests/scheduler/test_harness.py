"""The harness itself: components healthy, the scheduler's own run and a triggered run go green."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DAG_ID


def test_every_component_is_healthy_and_bound_to_loopback(local_airflow):
    health = local_airflow.health()
    assert local_airflow.unhealthy(health) == []
    assert local_airflow.base_url.startswith("http://127.0.0.1:")
    assert set(local_airflow.pids()) == {"api-server", "dag-processor", "triggerer", "scheduler"}
    assert all(pid is not None for pid in local_airflow.pids().values())


def test_first_scheduled_run_of_the_live_hour_succeeds(local_airflow):
    assert [run["state"] for run in local_airflow.first_scheduled_runs] == ["success"]


def test_triggered_run_loads_its_hour_with_the_truth_counts(local_airflow, airflow_stack):
    api = local_airflow.api()
    # An hourly data-interval timetable: logical date 06:00 covers [05:00, 06:00).
    run = api.trigger(DAG_ID, logical_date=datetime(2018, 11, 1, 6, tzinfo=UTC))
    final = api.wait_for_run(DAG_ID, run["dag_run_id"], timeout=900)
    assert final["state"] == "success", api.task_instances(DAG_ID, run["dag_run_id"])
    assert final["data_interval_start"].startswith("2018-11-01T05:00:00")
    expected = airflow_stack.truth()["hours"].get("2018-11-01T05", {}).get("plays", 0)
    (loaded,), = airflow_stack.warehouse_rows(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= '2018-11-01 05:00' AND start_time < '2018-11-01 06:00'")
    assert loaded == expected
