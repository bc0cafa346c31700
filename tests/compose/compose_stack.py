"""Drive docker-compose.yaml from a test: the Compose command, free host ports, health waits,
the Airflow REST API, the warehouse through the `redshift` service, and diagnostics on failure."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DAG_ID = "sparkify_etl"
WORKERS = 2  # the compose file's own default (deploy.replicas), not a --scale
BUILD_TIMEOUT = 2400  # s, cold: the two compose images on the stand-ins, on a loaded 2-core machine
HEALTHY_TIMEOUT = 1500  # s from `up` until every service is healthy (load averages of 20 were seen)
FIGURES: dict[str, object] = {}
# What the stack's env file sets beside the free ports, as a user's .env would: each value differs
# from the compose file's built-in default, so a value that did not take effect shows.
SETTINGS = {
    "AIRFLOW_UID": "1000",  # an arbitrary uid, as `id -u` gives on Linux: no passwd entry in the image
    "_AIRFLOW_WWW_USER_PASSWORD": "compose-test-ui-password",
    "LOCAL_REDSHIFT_PASSWORD": "compose-test-warehouse-password",
    "REDSHIFT_PASSWORD": "compose-test-warehouse-password",
    # Distinctive fake keys (the local S3 accepts any): no task log may contain either.
    "SPARKIFY_AWS_ACCESS_KEY_ID": "AKIACOMPOSETESTKEYID7",
    "SPARKIFY_AWS_SECRET_ACCESS_KEY": "compose-test-aws-secret-value",
}
LOGIN = ("airflow", SETTINGS["_AIRFLOW_WWW_USER_PASSWORD"])
TASK_LOG_BUCKET = "sparkify-airflow-logs"  # the compose file's default


def compose_command() -> list[str]:
    """`docker compose` (v2) when installed, else the `docker-compose` v1 command."""
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@dataclass
class ComposeStack:
    project: str
    env: dict[str, str]
    ports: dict[str, int]
    command: list[str]
    env_file: Path
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def create(cls, directory: Path) -> ComposeStack:
        """The settings go into an env file written by the documented `docker/setup-env.sh
        --local-images`, and only there: none of them is in the process environment."""
        ports = {name: free_port() for name in ("AIRFLOW_API_HOST_PORT", "REDSHIFT_HOST_PORT", "S3_HOST_PORT")}
        env_file = directory / "stack.env"
        settings = {**SETTINGS, **{k: str(v) for k, v in ports.items()}}
        subprocess.run(["bash", str(ROOT / "docker" / "setup-env.sh"), "--local-images", "--env-file", str(env_file),
                        *(f"{k}={v}" for k, v in settings.items())], check=True, capture_output=True)
        written = read_env_file(env_file)
        env = {k: v for k, v in os.environ.items() if k not in written}
        # One name per checkout, so a rerun reuses its images' layer cache (the images are named
        # after the project). Alphanumeric: Compose v1 strips anything else from project names.
        project = "sparkifyct" + hashlib.sha1(str(ROOT).encode()).hexdigest()[:6]
        env["COMPOSE_PROJECT_NAME"] = project
        return cls(project=project, env=env, ports=ports, command=compose_command(), env_file=env_file)

    # ------------------------------------------------------------------------------ compose
    def files(self) -> list[str]:
        # --env-file: the file is read exactly as .env would be (docker-compose v1 reads it instead
        # of .env, so the checkout's own .env cannot leak in).
        return ["--env-file", str(self.env_file),
                "-f", str(ROOT / "docker-compose.yaml"), "-f", str(HERE / "compose.test.yaml")]

    def compose(self, *args: str, check: bool = True, timeout: float = 900, env: dict | None = None,
                capture: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self.command, *self.files(), *args], cwd=ROOT, env=env or self.env,
                                capture_output=capture, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"compose {' '.join(args)} failed ({result.returncode}):\n"
                               f"{(result.stdout or '')[-3000:]}\n{(result.stderr or '')[-3000:]}")
        return result

    def containers(self, service: str | None = None) -> list[dict]:
        """`docker inspect` of this project's containers (optionally one service), stopped ones too."""
        labels = ["--filter", f"label=com.docker.compose.project={self.project}"]
        if service:
            labels += ["--filter", f"label=com.docker.compose.service={service}"]
        ids = subprocess.run(["docker", "ps", "-aq", *labels], capture_output=True, text=True,
                             check=True).stdout.split()
        if not ids:
            return []
        out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    def logs(self, service: str, lines: int = 60) -> str:
        result = self.compose("logs", "--no-color", "--tail", str(lines), service, check=False, timeout=60)
        return result.stdout + result.stderr

    def up(self) -> None:
        # The project name is stable per checkout: clear what an interrupted earlier run left.
        self.down()
        started = time.monotonic()
        # Built first, on its own clock: a cold build on a busy machine takes many minutes.
        result = self.compose("build", check=False, timeout=BUILD_TIMEOUT)
        if result.returncode != 0:
            raise AssertionError(f"compose build failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        FIGURES["compose build (s)"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        # -d returns once every dependency condition is met (airflow-init and seed completed);
        # the wait below then covers the services nothing depends on.
        # No --scale: the worker count must come from the compose file itself.
        result = self.compose("up", "-d", check=False, timeout=HEALTHY_TIMEOUT)
        if result.returncode != 0:
            raise AssertionError(f"compose up failed:\n{result.stderr[-4000:]}\n{self.diagnose()}")
        FIGURES["compose up -d returned after (s)"] = round(time.monotonic() - started, 1)
        self.wait_healthy(HEALTHY_TIMEOUT - (time.monotonic() - started))

    def service_states(self) -> dict[str, str]:
        """container name -> healthy | completed | starting | unhealthy | exited(N) | running."""
        states = {}
        for c in self.containers():
            state = c["State"]
            name = c["Name"].lstrip("/")
            if state["Status"] == "exited":
                states[name] = "completed" if state["ExitCode"] == 0 else f"exited({state['ExitCode']})"
            elif "Health" in state:
                states[name] = state["Health"]["Status"]
            else:
                states[name] = state["Status"]
        return states

    def wait_healthy(self, timeout: float) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            states = self.service_states()
            bad = {n: s for n, s in states.items() if s.startswith("exited")}
            if states and not bad and all(s in ("healthy", "completed") for s in states.values()):
                return states
            if bad or time.monotonic() > deadline:
                raise AssertionError(f"services not healthy: {states}\n{self.diagnose()}")
            time.sleep(3)

    def diagnose(self) -> str:
        """The last log lines of every service that is not healthy/completed."""
        parts = []
        for c in self.containers():
            state = c["State"]
            ok = (state["Status"] == "exited" and state["ExitCode"] == 0) or \
                 state.get("Health", {}).get("Status") == "healthy"
            if not ok:
                service = c["Config"]["Labels"]["com.docker.compose.service"]
                parts.append(f"----- {service} ({state['Status']}) last lines:\n{self.logs(service)}")
        return "\n".join(parts) or "(every container healthy or completed)"

    def down(self) -> subprocess.CompletedProcess:
        return self.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False, timeout=300)

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes still labelled with this project."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, cmd in (("containers", ["docker", "ps", "-aq"]), ("networks", ["docker", "network", "ls", "-q"]),
                          ("volumes", ["docker", "volume", "ls", "-q"])):
            found[kind] = subprocess.run([*cmd, "--filter", label], capture_output=True, text=True,
                                         check=True).stdout.split()
        # Compose names its objects <project>_<name>: catch unlabelled ones as well.
        for kind, cmd in (("volumes", ["docker", "volume", "ls"]), ("networks", ["docker", "network", "ls"])):
            names = subprocess.run([*cmd, "--format", "{{.Name}}"], capture_output=True, text=True,
                                   check=True).stdout.split()
            found[kind] += [n for n in names if n.startswith(self.project + "_")]
        return found

    # ------------------------------------------------------------------------------ Airflow API
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['AIRFLOW_API_HOST_PORT']}"

    def token(self, username: str = LOGIN[0], password: str = LOGIN[1]) -> httpx.Response:
        return httpx.post(f"{self.api_url}/auth/token", json={"username": username, "password": password},
                          timeout=30)

    def api(self, method: str, path: str, **kwargs) -> dict:
        if self._token is None:
            response = self.token()
            response.raise_for_status()
            self._token = response.json()["access_token"]
        response = httpx.request(method, f"{self.api_url}/api/v2{path}", timeout=120,
                                 headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text[:1000]}")
        return response.json() if response.content else {}

    def task_instances(self, run_ids: list[str]) -> list[dict]:
        tis = []
        for run_id in run_ids:
            tis += self.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100})[
                "task_instances"]
        return tis

    def backfill_runs(self, first: str, last: str) -> list[dict]:
        runs = self.api("GET", f"/dags/{DAG_ID}/dagRuns", params={
            "logical_date_gte": first, "logical_date_lte": last, "limit": 100, "order_by": "logical_date"})
        return runs["dag_runs"]

    # ------------------------------------------------------------------------------ local S3
    def s3_client(self):
        """A boto3 client for the `s3` service on its published port (moto accepts any key)."""
        import boto3

        return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{self.ports['S3_HOST_PORT']}",
                            aws_access_key_id=SETTINGS["SPARKIFY_AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=SETTINGS["SPARKIFY_AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")

    def task_log_objects(self) -> dict[str, str]:
        """Every task-log object in the logs bucket: key -> text."""
        s3, found = self.s3_client(), {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=TASK_LOG_BUCKET, Prefix="task-logs/"):
            for item in page.get("Contents", []):
                found[item["Key"]] = s3.get_object(Bucket=TASK_LOG_BUCKET, Key=item["Key"])["Body"].read().decode()
        return found

    # ------------------------------------------------------------------------------ warehouse
    def warehouse(self) -> psycopg.Connection:
        """A client session through the `redshift` service (our endpoint) on its published port."""
        return psycopg.connect(host="127.0.0.1", port=self.ports["REDSHIFT_HOST_PORT"], user="sparkify",
                               password=SETTINGS["LOCAL_REDSHIFT_PASSWORD"], dbname="dev", sslmode="disable",
                               connect_timeout=10, autocommit=True)

    def rows(self, sql: str) -> list[tuple]:
        with self.warehouse() as conn:
            return conn.execute(sql).fetchall()

    def exec(self, container_id: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "exec", container_id, *command], capture_output=True, text=True,
                              check=check, timeout=120)

    def container_of_hostname(self, hostname: str) -> dict:
        for c in self.containers("airflow-worker"):
            if c["Config"]["Hostname"] == hostname:
                return c
        raise AssertionError(f"no worker container has hostname {hostname}")
