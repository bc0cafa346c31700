"""The local Airflow's own logic: port choice, health verdicts, no secret in its airflow.cfg."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import devstack.local_airflow as local_airflow
from devstack.local_airflow import LocalAirflow
from devstack.processes import StartupError
from devstack.stack import Stack


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Stack:
    monkeypatch.setenv("SPARKIFY_DEVSTACK_DIR", str(tmp_path / "state"))
    return Stack(tmp_path / "state")


@pytest.fixture
def taken_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_default_port_taken_gives_a_free_port_and_says_so(stack, taken_port, monkeypatch):
    monkeypatch.setattr(local_airflow, "DEFAULT_PORT", taken_port)
    endpoint, note = LocalAirflow(stack).choose_endpoint()
    assert endpoint.host == "127.0.0.1" and endpoint.port != taken_port
    assert note == f"port {taken_port} is taken: using {endpoint.port}"


def test_a_requested_port_that_is_taken_is_an_error(stack, taken_port):
    with pytest.raises(StartupError, match=f"port {taken_port} on 127.0.0.1 is taken"):
        LocalAirflow(stack, port=taken_port).choose_endpoint()


def test_unhealthy_lists_every_component_not_reported_healthy():
    healthy = {"status": "healthy"}
    assert LocalAirflow.unhealthy(None) == ["metadatabase", "scheduler", "triggerer", "dag_processor"]
    assert LocalAirflow.unhealthy({"metadatabase": healthy, "scheduler": healthy, "triggerer": healthy,
                                   "dag_processor": healthy}) == []
    assert LocalAirflow.unhealthy({"metadatabase": healthy, "scheduler": {"status": "unhealthy"},
                                   "triggerer": healthy, "dag_processor": None}) == ["scheduler", "dag_processor"]


def test_airflow_cfg_reaches_the_metadata_db_without_holding_its_password(stack):
    import subprocess

    airflow = LocalAirflow(stack)
    airflow.endpoint, _ = airflow.choose_endpoint()
    airflow.home.mkdir(parents=True)
    airflow.write_config()
    cfg = (airflow.home / "airflow.cfg").read_text()
    assert stack.config.airflow_db_password not in cfg
    command = next(line.split(" = ", 1)[1] for line in cfg.splitlines() if line.startswith("sql_alchemy_conn_cmd"))
    uri = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout
    assert uri == airflow.metadata_db_uri()  # no trailing newline: Airflow uses it as is
    assert Path(airflow.home / "airflow.cfg").stat().st_mode & 0o077 == 0


def test_components_get_connections_but_not_variables_from_the_environment(stack, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SPARKIFY_S3_BUCKET", "from-the-shell")
    airflow = LocalAirflow(stack)
    airflow.endpoint, _ = airflow.choose_endpoint()
    env = airflow.environment()
    assert "AIRFLOW_CONN_AWS_DEFAULT" in env and "AIRFLOW_CONN_REDSHIFT_DEFAULT" in env
    assert not [key for key in env if key.startswith("AIRFLOW_VAR_")]
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == airflow.base_url + "/execution/"
