"""The local SMTP sink (aiosmtpd in its own process) receives what sparkify.notify sends through the smtp
provider, sync (worker, dag processor) and async (triggerer), and files each message privately."""

from __future__ import annotations

import asyncio
import json
import stat

import pytest

from devstack.mailsink import LOCAL_TO, MailSink
from devstack.processes import free_port, port_open
from sparkify import notify

pytestmark = pytest.mark.integration


@pytest.fixture
def sink(tmp_path, monkeypatch):
    server = MailSink(state_dir=tmp_path, port=free_port())
    assert server.start()
    monkeypatch.setenv("AIRFLOW_CONN_SPARKIFY_ALERTS", json.dumps(server.airflow_connection()))
    try:
        yield server
    finally:
        server.stop()


def late(run_id: str) -> notify.Message:
    return notify.late_hour_message({"dag_id": "sparkify_etl", "dag_run_id": run_id, "state": "queued",
                                     "data_interval_start": "2018-11-01T05:00:00+00:00",
                                     "data_interval_end": "2018-11-01T06:00:00+00:00"}, None, base_url="http://ui")


def test_a_message_sent_through_the_provider_is_filed_once_and_privately(sink):
    assert notify.send(late("r-sync")) is True
    assert asyncio.run(notify.asend(late("r-async"))) is True
    messages = sink.messages()
    assert [m["X-Sparkify-Run-Id"] for m in messages] == ["r-sync", "r-async"]
    first = messages[0]
    assert first["To"] == LOCAL_TO and first["X-Sparkify-Kind"] == "late"
    assert first["Subject"] == "[sparkify_etl] LATE hour 2018-11-01 05:00: run is queued"
    assert "Hour:   2018-11-01 05:00 to 2018-11-01 06:00 (UTC)" in first.get_body(("html",)).get_content()
    assert stat.S_IMODE(sink.folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in sink.message_files())
    assert not list(sink.folder.glob(".*.partial"))


def test_start_is_idempotent_and_stop_frees_the_port(sink):
    assert sink.start() is False  # already running: not replaced
    assert sink.stop() is True
    assert not port_open(sink.host, sink.port)
    assert sink.stop() is False
