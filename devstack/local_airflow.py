"""A local Airflow 3 deployment on the stack's own PostgreSQL: the harness behind `make airflow`
and the scheduler/browser tests.

Four supervised components, each in its own process group with a pid file:
``api-server`` (UI, REST API and the tasks' execution API), ``dag-processor``, ``triggerer`` and
``scheduler`` (LocalExecutor). The metadata database is a separate ``airflow`` database, owned
by an ``airflow`` role, in the stack's PostgreSQL cluster: no SQLite, so the scheduler and a
backfill created through the API never fight over one file lock.

API (stable; used by ``tests/scheduler/conftest.py``)::

    airflow = LocalAirflow(stack, home=Path(...), port=None)  # port None: 8080, else a free one
    airflow.start()               # migrate, start in order, wait until /monitor/health is all healthy
    airflow.base_url              # "http://127.0.0.1:<port>"
    airflow.login                 # ("admin", "<password>") for the UI
    api = airflow.api()           # devstack.airflow_api.AirflowApi: authenticated httpx client, /api/v2
    api.unpause("sparkify_etl"); api.wait_for_dag("sparkify_etl")
    run = api.trigger("sparkify_etl", logical_date=None)          # POST dagRuns
    api.backfill("sparkify_etl", "2018-11-01T00:00:00Z", "2018-11-01T03:00:00Z", max_active_runs=1)
    api.wait_for_run("sparkify_etl", run["dag_run_id"], timeout=600)  # -> final dag run JSON
    api.wait_for_runs("sparkify_etl", run_type="backfill", count=4)   # every run in a final state
    api.task_instances(dag_id, run_id); api.task_log(dag_id, run_id, task_id, try_number=1)
    api.clear_tasks(dag_id, run_id, ["load_songplays_fact"]); api.set_run_state(dag_id, run_id, "failed")
    api.wait_for_task_state(dag_id, run_id, task_id, {"up_for_retry", "failed"})
    api.variable(key); api.set_variable(key, value)   # Variables live in the metastore
    airflow.cli("dags", "list")   # the `airflow` CLI with the same environment (CompletedProcess)
    airflow.environment()         # that environment, for your own subprocesses
    airflow.health()              # the health JSON, or None
    airflow.stop()                # stop every component (process groups), wait until the port is free

Component output goes to ``<home>/components/<name>.log`` (mode 0600); task logs to
``<home>/logs`` while a task runs, then to ``s3://sparkify-airflow-logs/task-logs/`` on the local S3
(remote logging, `devstack.task_logs`; the bucket is created at start), from where the UI reads them.
Secrets travel in the environment only: the metadata DB password, the JWT
secret and the stack's connections are never written under ``<home>`` by us.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.airflow_api import AirflowApi
from devstack.processes import (
    StartupError,
    free_port,
    port_open,
    read_pid,
    start_daemon,
    stop_daemon,
    stop_process_group,
    tail,
)
from devstack.stack import ROOT, Stack
from devstack.task_logs import LOGS_BUCKET, LOGS_CONN_ID, ensure_logs_bucket, remote_base, remote_logging_env

COMPONENTS = ("api-server", "dag-processor", "triggerer", "scheduler")
HEALTH_PATH = "/api/v2/monitor/health"
DEFAULT_PORT = 8080
USERNAME = "admin"
#: The DAG's notification connection (``sparkify.notify.ALERTS_CONN_ID``; devstack does not import plugins).
ALERTS_CONN_ID = "sparkify_alerts"


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


@dataclass
class AirflowEndpoint:
    """Where the api-server listens; kept in `<home>/components/api.json` for `down` and hints."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class LocalAirflow:
    """Start, check and stop the four Airflow components against a running `Stack`."""

    def __init__(
        self,
        stack: Stack,
        home: Path | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        parallelism: int = 4,
        extra_env: dict[str, str] | None = None,
    ):
        self.stack = stack
        self.home = Path(home or stack.dir / "airflow").resolve()
        self.run_dir = self.home / "components"
        self.host = host
        self.requested_port = port
        self.parallelism = parallelism
        self.extra_env = dict(extra_env or {})
        self._jwt_secret: str | None = None
        self._log_server_ports: tuple[int, int] | None = None
        self.endpoint: AirflowEndpoint | None = self._saved_endpoint()

    # -- files ------------------------------------------------------------------------------------
    def pid_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.pid"

    def log_file(self, component: str) -> Path:
        return self.run_dir / f"{component}.log"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def _saved_endpoint(self) -> AirflowEndpoint | None:
        try:
            return AirflowEndpoint(**json.loads((self.run_dir / "api.json").read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    @property
    def base_url(self) -> str:
        if self.endpoint is None:
            raise RuntimeError("Airflow has not been started")
        return self.endpoint.base_url

    @property
    def login(self) -> tuple[str, str]:
        """The UI login: ("admin", generated password, kept 0600 in the home)."""
        if not self.passwords_file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            self.passwords_file.touch(mode=0o600)
            self.passwords_file.write_text(json.dumps({USERNAME: secrets.token_urlsafe(12)}))
        return USERNAME, json.loads(self.passwords_file.read_text())[USERNAME]

    # -- state ------------------------------------------------------------------------------------
    def pids(self) -> dict[str, int | None]:
        return {name: read_pid(self.pid_file(name)) for name in COMPONENTS}

    def running(self) -> bool:
        """True when any component process is alive."""
        return any(pid is not None for pid in self.pids().values())

    def health(self, timeout: float = 5.0) -> dict | None:
        """The api-server's /monitor/health JSON, or None when it does not answer."""
        if self.endpoint is None:
            return None
        try:
            response = httpx.get(self.base_url + HEALTH_PATH, timeout=timeout)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    @staticmethod
    def unhealthy(health: dict | None) -> list[str]:
        """The components that are not healthy according to `health` (all of them if None)."""
        names = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        if health is None:
            return list(names)
        return [name for name in names if (health.get(name) or {}).get("status") != "healthy"]

    # -- environment ------------------------------------------------------------------------------
    def metadata_db_uri(self) -> str:
        cfg = self.stack.config
        return f"postgresql://airflow:{cfg.airflow_db_password}@{cfg.host}:{cfg.pg_port}/airflow"

    def environment(self) -> dict[str, str]:
        """Environment of every component and CLI call: the stack's connections and variables,
        the PostgreSQL metadata DB, LocalExecutor, the api-server's address."""
        if self.endpoint is None:
            raise RuntimeError("choose the port first: start()")
        if self._jwt_secret is None:
            self._jwt_secret = secrets.token_urlsafe(32)
        if self._log_server_ports is None:
            # The log servers of a running task (scheduler: LocalExecutor's, triggerer) on free ports:
            # the fixed defaults (8793, 8794) clash with a second deployment on the same machine.
            self._log_server_ports = (free_port(), free_port())
        username, _ = self.login
        # Variables live in the metastore (set by start(), editable in the UI); an AIRFLOW_VAR_* in
        # the environment would silently win over any edit.
        connections = {key: value for key, value in self.stack.airflow_env().items()
                       if not key.startswith("AIRFLOW_VAR_")}
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_VAR_")},
            **connections,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_db_uri(),
            "AIRFLOW__API__HOST": self.endpoint.host,
            "AIRFLOW__API__PORT": str(self.endpoint.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": self.base_url + "/execution/",
            # Every component must sign and check task tokens with the same key; env only, never a file.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            # airflow_settings/airflow_local_settings.py: secrets masking on the components' consoles.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "devstack" / "airflow_settings"), str(ROOT),
                                                        os.environ.get("PYTHONPATH")])),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            # Task logs to the local S3 (remote logging), through a connection of their own with the
            # stack's S3 server and keys.
            **remote_logging_env(LOGS_BUCKET),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._log_server_ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self._log_server_ports[1]),
            "AIRFLOW_CONN_" + LOGS_CONN_ID.upper(): connections["AIRFLOW_CONN_AWS_DEFAULT"],
            **self.extra_env,
        }
        return env

    def cli(self, *args: str, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `airflow <args>` with the deployment's environment."""
        return subprocess.run([airflow_bin(), *args], env=self.environment(), capture_output=True, text=True,
                              check=check, timeout=timeout)

    # -- start ------------------------------------------------------------------------------------
    def choose_endpoint(self) -> tuple[AirflowEndpoint, str | None]:
        """Reuse the recorded port when our api-server is alive; else the requested port, 8080 or a
        free one. Returns the endpoint and a note when the port is not the one asked for."""
        if self.endpoint and read_pid(self.pid_file("api-server")) is not None:
            return self.endpoint, None
        wanted = self.requested_port or DEFAULT_PORT
        if not port_open(self.host, wanted):
            return AirflowEndpoint(self.host, wanted), None
        if self.requested_port:
            raise StartupError(f"port {wanted} on {self.host} is taken by another program; choose another --port")
        port = free_port(self.host)
        return AirflowEndpoint(self.host, port), f"port {wanted} is taken: using {port}"

    def prepare(self) -> str | None:
        """Metadata database, port, login; returns a note about the port, if any."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)
        self.endpoint, note = self.choose_endpoint()
        (self.run_dir / "api.json").write_text(json.dumps({"host": self.endpoint.host, "port": self.endpoint.port}))
        self.write_config()
        self.stack.postgres.ensure_role_database("airflow", self.stack.config.airflow_db_password, "airflow")
        ensure_logs_bucket(self.stack.s3_client(), LOGS_BUCKET)
        self.migrate()
        return note

    def write_config(self) -> None:
        """`<home>/airflow.cfg` for the `airflow` CLI in the user's shell (`AIRFLOW_HOME=<home> airflow ...`):
        the same database, executor, auth and api-server as the components, and no secret (the
        metadata DB URI comes from a command that reads stack.json)."""
        username, _ = self.login
        uri_cmd = " ".join(shlex.quote(part) for part in (
            sys.executable, str(ROOT / "devstack" / "airflow_settings" / "metadata_db_uri.py"),
            str(self.stack.dir / "stack.json")))
        text = f"""# Written by devstack.local_airflow at every start; edits are lost.
[core]
dags_folder = {ROOT / "dags"}
plugins_folder = {ROOT / "plugins"}
load_examples = False
executor = LocalExecutor
parallelism = {self.parallelism}
auth_manager = airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
simple_auth_manager_users = {username}:admin
simple_auth_manager_passwords_file = {self.passwords_file}
execution_api_server_url = {self.base_url}/execution/

[database]
sql_alchemy_conn_cmd = {uri_cmd}

[logging]
remote_logging = True
remote_base_log_folder = {remote_base(LOGS_BUCKET)}
remote_log_conn_id = {LOGS_CONN_ID}
encrypt_s3_logs = True

[api]
host = {self.endpoint.host}
port = {self.endpoint.port}
base_url = {self.base_url}
"""
        path = self.home / "airflow.cfg"
        path.touch(mode=0o600)
        path.write_text(text)

    def migrate(self) -> None:
        """`airflow db migrate` unless this Airflow version already migrated this database."""
        import airflow  # only the version: cheap, and reads no configuration

        marker = self.run_dir / "migrated"
        stamp = f"{airflow.__version__} {self.stack.config.pg_port} {self.stack.postgres.data_dir}"
        if marker.exists() and marker.read_text() == stamp and self._has_alembic_version():
            return
        result = self.cli("db", "migrate", timeout=600)
        if result.returncode != 0:
            raise StartupError(f"`airflow db migrate` failed:\n{result.stderr.strip()[-2000:]}")
        marker.write_text(stamp)

    def _has_alembic_version(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.metadata_db_uri(), connect_timeout=10) as conn:
                return bool(conn.execute("SELECT version_num FROM alembic_version").fetchone())
        except psycopg.Error:
            return False

    def start(self, timeout: float = 300, on_progress=None) -> str | None:
        """Start what is not running, in order, and wait until every component is healthy.

        A component whose process is alive is never restarted. Raises StartupError (after stopping
        what this call started) when a component exits or the deployment is not healthy in time.
        Returns a note about the port chosen, if any.
        """
        say = on_progress or (lambda message: None)
        note = self.prepare()
        env = self.environment()
        started: list[str] = []
        try:
            for name in COMPONENTS:
                if read_pid(self.pid_file(name)) is not None:
                    continue
                say(f"starting {name}")
                args = [airflow_bin(), name]
                ready = (lambda: self.health(timeout=2) is not None) if name == "api-server" else (lambda: True)
                self._touch_log(name)
                start_daemon(f"airflow {name}", args, pid_file=self.pid_file(name), log_file=self.log_file(name),
                             ready=ready, timeout=timeout, env=env)
                started.append(name)
            self.wait_healthy(timeout)
            self.ensure_variables()
            self.ensure_alerts_connection()
        except BaseException:
            for name in reversed(started):
                stop_daemon(self.pid_file(name))
            raise
        return note

    def ensure_variables(self) -> dict[str, str]:
        """Create the stack's Variables (`sparkify_s3_bucket`, ...) in the metastore unless they exist:
        values edited in the UI are kept. Returns the ones created."""
        wanted = {key.removeprefix("AIRFLOW_VAR_").lower(): value
                  for key, value in self.stack.airflow_env().items() if key.startswith("AIRFLOW_VAR_")}
        api = self.api()
        created = {}
        try:
            for key, value in wanted.items():
                if api.client.get(f"/variables/{key}").status_code == 404:
                    api.post("/variables", {"key": key, "value": value}).raise_for_status()
                    created[key] = value
        finally:
            api.close()
        return created

    def ensure_alerts_connection(self) -> bool:
        """Create the notification connection ``sparkify_alerts`` (the stack's SMTP sink) in the metastore
        unless it exists: like the Variables, it can then be edited or deleted in the UI (no connection:
        nothing is sent, one log line says so). True when created."""
        conn = self.stack.mail.airflow_connection()
        api = self.api()
        try:
            if api.client.get(f"/connections/{ALERTS_CONN_ID}").status_code != 404:
                return False
            api.post("/connections", {"connection_id": ALERTS_CONN_ID, "conn_type": conn["conn_type"],
                                      "host": conn["host"], "port": conn["port"],
                                      "extra": json.dumps(conn["extra"])}).raise_for_status()
            return True
        finally:
            api.close()

    def _touch_log(self, name: str) -> None:
        path = self.log_file(name)
        path.touch(mode=0o600)
        path.chmod(0o600)

    def wait_healthy(self, timeout: float = 300) -> dict:
        """Wait until /monitor/health reports every component healthy; StartupError names the laggards."""
        deadline = time.monotonic() + timeout
        health = None
        while time.monotonic() < deadline:
            dead = [name for name, pid in self.pids().items() if pid is None]
            if dead:
                name = dead[0]
                raise StartupError(f"airflow {name} exited; last lines of {self.log_file(name)}:\n"
                                   f"{tail(self.log_file(name))}")
            health = self.health()
            if not self.unhealthy(health):
                return health
            time.sleep(1)
        raise StartupError(f"Airflow not healthy after {timeout:.0f}s: {', '.join(self.unhealthy(health))} "
                           f"(logs in {self.run_dir})")

    # -- stop -------------------------------------------------------------------------------------
    @property
    def stopping_marker(self) -> Path:
        return self.run_dir / "stopping"

    def stopping(self) -> bool:
        """True while some process (`make down`, say) is stopping the components."""
        return self.stopping_marker.exists()

    def stop(self, timeout: float = 30) -> bool:
        """Stop every component (scheduler first), each process group until it is gone, then wait
        until the api port is released. Safe to run from two processes at once (`make down` while
        `make airflow` runs): a pid file is removed only once its process is dead, so each caller
        returns only when nothing is left."""
        pids = {name: read_pid(self.pid_file(name)) for name in reversed(COMPONENTS)}
        if not any(pids.values()):
            return False
        self.stopping_marker.touch()
        try:
            for name, pid in pids.items():
                if pid is not None:
                    stop_process_group(pid)
                    self.pid_file(name).unlink(missing_ok=True)
            if self.endpoint:
                deadline = time.monotonic() + timeout
                while port_open(self.endpoint.host, self.endpoint.port) and time.monotonic() < deadline:
                    time.sleep(0.1)
        finally:
            self.stopping_marker.unlink(missing_ok=True)
        return True

    # -- REST -------------------------------------------------------------------------------------
    def api(self) -> AirflowApi:
        """An authenticated REST client (JWT from the simple auth manager's /auth/token)."""
        username, password = self.login
        response = httpx.post(self.base_url + "/auth/token", json={"username": username, "password": password},
                              timeout=30)
        response.raise_for_status()
        return AirflowApi(self.base_url, response.json()["access_token"])
