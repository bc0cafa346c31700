"""Session fixtures shared by every test: an isolated Airflow home, a real PostgreSQL server
and a real local S3 server (moto server process). Servers start only when a test asks for them
and are stopped when the session ends."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported: isolate it before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="sparkify-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
    }
)
for _path in (str(ROOT), str(ROOT / "plugins")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from devstack.postgres import PostgresServer  # noqa: E402
from devstack.processes import free_port  # noqa: E402
from devstack.s3server import DUMMY_CREDENTIALS, S3Server  # noqa: E402
from redshift_endpoint.process import EndpointProcess  # noqa: E402


def _scratch_dir(prefix: str) -> Path:
    # Under /tmp and world-traversable: PostgreSQL runs as an unprivileged account when we are root.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The isolated AIRFLOW_HOME, with its SQLite metadata database migrated."""
    if not (_AIRFLOW_HOME / "airflow.db").exists():
        subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
            check=True,
            capture_output=True,
            env=os.environ.copy(),
        )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server on a free loopback port, password-authenticated."""
    scratch = _scratch_dir("sparkify-pg-")
    # Failed statements logged: the endpoint tests grep postgres.log for secrets that reached PostgreSQL.
    server = PostgresServer(data_dir=scratch / "data", port=free_port(), password=secrets.token_urlsafe(16),
                            log_failed_statements=True)
    server.start()
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server():
    """A real moto server process; dummy AWS credentials are put in the environment."""
    scratch = _scratch_dir("sparkify-s3-")
    server = S3Server(state_dir=scratch, port=free_port())
    saved = {key: os.environ.get(key) for key in DUMMY_CREDENTIALS}
    os.environ.update(DUMMY_CREDENTIALS)
    server.start()
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def endpoint(pg_server, s3_server):
    """The endpoint as a real subprocess (host, port, and PostgreSQL's user/password/dbname).

    Also has ``.dsn()``, ``.redshift_connect_kwargs()``, ``.airflow_connection()``,
    ``.s3_endpoint_url`` and ``.log_file``.
    """
    log_file = Path(tempfile.mkdtemp(prefix="sparkify-endpoint-")) / "endpoint.log"
    ep = EndpointProcess(
        backend_host=pg_server.host, backend_port=pg_server.port, user=pg_server.user,
        password=pg_server.password, dbname=pg_server.dbname, s3_endpoint_url=s3_server.endpoint_url,
        log_file=log_file, log_level="DEBUG",
    )
    ep.start()
    yield ep
    ep.stop()
