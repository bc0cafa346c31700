"""Run the endpoint as a subprocess (tests, benchmarks, the local stack)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class EndpointProcess:
    """``python -m redshift_endpoint`` in front of backend_host:backend_port.

    ``user``/``password`` are PostgreSQL's: the endpoint lets clients log in as that user
    (``--admin-user``, the password in PGPASSWORD, never on the command line), then logs in to
    PostgreSQL with them. ``auth_file``: more users (``--auth-file``); ``login_timeout``: ``--login-timeout``.
    """

    backend_host: str
    backend_port: int
    user: str
    password: str
    dbname: str
    s3_endpoint_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    log_file: Path | None = None
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)
    auth_file: Path | None = None
    login_timeout: float | None = None
    proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        """The command line that runs this endpoint."""
        cmd = [sys.executable, "-m", "redshift_endpoint", "--host", self.host, "--port", str(self.port),
               "--backend-host", self.backend_host, "--backend-port", str(self.backend_port),
               "--admin-user", self.user, "--log-level", self.log_level]
        if self.s3_endpoint_url:
            cmd += ["--s3-endpoint-url", self.s3_endpoint_url]
        if self.auth_file:
            cmd += ["--auth-file", str(self.auth_file)]
        if self.login_timeout is not None:
            cmd += ["--login-timeout", str(self.login_timeout)]
        return cmd

    def environment(self) -> dict[str, str]:
        """Its environment: PGPASSWORD (the admin user's password), the repository importable."""
        env = {**os.environ, "PGPASSWORD": self.password, **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env

    def start(self, timeout: float = 30.0) -> None:
        stderr = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=stderr,
                                     env=self.environment(), cwd=ROOT, text=True)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("listening on "):
            self.stop()
            raise RuntimeError(f"endpoint did not start: {line!r}; see {self.log_file}")
        self.port = int(line[0].strip().rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def dsn(self, dbname: str | None = None) -> str:
        return (f"host={self.host} port={self.port} user={self.user} password={self.password} "
                f"dbname={dbname or self.dbname}")

    conninfo = dsn

    def redshift_connect_kwargs(self) -> dict:
        """Keyword arguments for redshift_connector.connect()."""
        return {"host": self.host, "port": self.port, "user": self.user, "password": self.password,
                "database": self.dbname, "ssl": False}

    def airflow_connection(self, conn_type: str = "redshift") -> dict:
        """An Airflow connection (AIRFLOW_CONN_* JSON form) pointing at the endpoint."""
        conn = {"conn_type": conn_type, "host": self.host, "port": self.port, "login": self.user,
                "password": self.password, "schema": self.dbname}
        if conn_type == "redshift":
            conn["extra"] = {"ssl": False}
        return conn
