"""A thin client of Airflow's public REST API (/api/v2): the moves `make airflow` and the
scheduler tests make. Built by `LocalAirflow.api()` with a token from the simple auth manager."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import httpx

FINAL_RUN_STATES = {"success", "failed"}


class AirflowApi:
    """Thin helpers over Airflow's public REST API (/api/v2)."""

    def __init__(self, base_url: str, token: str):
        self.client = httpx.Client(base_url=base_url + "/api/v2", headers={"Authorization": f"Bearer {token}"},
                                   timeout=60)

    def get(self, path: str, **params) -> Any:
        response = self.client.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict) -> httpx.Response:
        return self.client.post(path, json=body)

    def patch(self, path: str, body: dict) -> Any:
        response = self.client.patch(path, json=body)
        response.raise_for_status()
        return response.json()

    # -- DAGs -------------------------------------------------------------------------------------
    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        """Wait until the dag processor has serialized `dag_id`; fails at once on an import error."""
        deadline = time.monotonic() + timeout
        while True:
            errors = self.import_errors()
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            response = self.client.get(f"/dags/{dag_id}")
            if response.status_code == 200:
                return response.json()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} not parsed after {timeout:.0f}s")
            time.sleep(1)

    def import_errors(self) -> list[dict]:
        return self.get("/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> dict:
        return self.patch(f"/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> dict:
        return self.patch(f"/dags/{dag_id}", {"is_paused": True})

    # -- runs -------------------------------------------------------------------------------------
    def trigger(self, dag_id: str, logical_date: str | datetime | None = None, conf: dict | None = None,
                run_id: str | None = None) -> dict:
        """POST a dag run; `logical_date=None` is a trigger with no logical date (as from the UI)."""
        body: dict[str, Any] = {"logical_date": _iso(logical_date), "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        response = self.post(f"/dags/{dag_id}/dagRuns", body)
        response.raise_for_status()
        return response.json()

    def backfill(self, dag_id: str, from_date: str | datetime, to_date: str | datetime, *,
                 max_active_runs: int | None = None, reprocess_behavior: str = "none") -> httpx.Response:
        """POST /backfills; returns the response (409 when a backfill of the DAG is already running)."""
        body: dict[str, Any] = {"dag_id": dag_id, "from_date": _iso(from_date), "to_date": _iso(to_date),
                                "reprocess_behavior": reprocess_behavior}
        if max_active_runs is not None:
            body["max_active_runs"] = max_active_runs
        return self.post("/backfills", body)

    def runs(self, dag_id: str, **params) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", limit=1000, **params)["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        """Poll until the run is success or failed; returns its JSON."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in FINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(2)

    def wait_for_runs(self, dag_id: str, *, count: int, run_type: str | None = None,
                      timeout: float = 1800) -> list[dict]:
        """Poll until at least `count` runs (of `run_type`, if given) exist and all are final."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [run for run in self.runs(dag_id) if run_type is None or run["run_type"] == run_type]
            if len(runs) >= count and all(run["state"] in FINAL_RUN_STATES for run in runs):
                return runs
            if time.monotonic() > deadline:
                states = {run["dag_run_id"]: run["state"] for run in runs}
                raise TimeoutError(f"{dag_id}: runs not final after {timeout:.0f}s: {states}")
            time.sleep(3)

    def set_run_state(self, dag_id: str, run_id: str, state: str) -> dict:
        """PATCH a run's state ("failed", "success", "queued"): e.g. to free max_active_runs."""
        return self.patch(f"/dags/{dag_id}/dagRuns/{run_id}", {"state": state})

    def variable(self, key: str) -> str | None:
        response = self.client.get(f"/variables/{key}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["value"]

    def set_variable(self, key: str, value: str) -> None:
        """Create or replace a Variable in the metastore (the local Airflow keeps them there)."""
        if self.variable(key) is None:
            self.post("/variables", {"key": key, "value": value}).raise_for_status()
        else:
            self.patch(f"/variables/{key}", {"key": key, "value": value})

    def wait_for_task_state(self, dag_id: str, run_id: str, task_id: str, states: Iterable[str],
                            timeout: float = 600) -> str:
        """Poll one task instance until its state is one of `states`; returns that state."""
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            state = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")["state"]
            if state in wanted:
                return state
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} {task_id} still {state} after {timeout:.0f}s")
            time.sleep(2)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]

    def clear_tasks(self, dag_id: str, run_id: str, task_ids: Iterable[str], **options) -> dict:
        """POST clearTaskInstances for some tasks of one run (dry_run False unless given)."""
        body = {"dag_run_id": run_id, "task_ids": list(task_ids), "dry_run": False, "only_failed": False,
                **options}
        response = self.post(f"/dags/{dag_id}/clearTaskInstances", body)
        response.raise_for_status()
        return response.json()

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        """The task's log as text: one line per record, its message first, then its other fields
        (exceptions included) as JSON."""
        response = self.client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                                   params={"full_content": True}, headers={"Accept": "application/json"})
        response.raise_for_status()
        lines = []
        for record in response.json()["content"]:
            if isinstance(record, dict):
                rest = {key: value for key, value in record.items() if key not in ("event", "timestamp")}
                lines.append(f"{record.get('timestamp', '')} {record.get('event', '')} {json.dumps(rest)}")
            else:
                lines.append(str(record))
        return "\n".join(lines)

    def close(self) -> None:
        self.client.close()


def _iso(value: str | datetime | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()
