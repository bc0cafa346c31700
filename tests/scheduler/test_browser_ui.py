"""Browser smoke test of the local Airflow: log in, see the DAG, trigger a run from the UI, see the run's
one-line summary on its page, read the fact load's log, and find no secret on the page. Headless Debian chromium via playwright."""

from __future__ import annotations

import re
import time

import pytest
from browser import AirflowUI, artifacts_dir, chromium_path
from conftest import DAG_ID

from devstack.s3server import DUMMY_CREDENTIALS


@pytest.fixture(scope="module")
def ui(local_airflow):
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        pytest.fail("chromium not found: `make test` installs Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        ui = AirflowUI(page, local_airflow.base_url, artifacts_dir())
        try:
            ui.login(*local_airflow.login)
            yield ui
        except BaseException:
            ui.shot("zz-failure")
            raise
        finally:
            browser.close()


def secrets_of(stack) -> list[str]:
    return [DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            stack.config.password, stack.config.airflow_db_password]


def new_manual_run(api, known: set[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [run["dag_run_id"] for run in api.runs(DAG_ID, run_type="manual") if run["dag_run_id"] not in known]
        if runs:
            return runs[0]
        time.sleep(1)
    raise AssertionError("the Trigger button created no run")


def test_trigger_from_the_ui_and_read_the_fact_log(ui, local_airflow, airflow_stack):
    home = ui.open("/", wait_for="Dag Processor")
    ui.shot("01-home")
    assert "Import Error" not in home
    dags = ui.open("/dags", wait_for=DAG_ID)
    ui.shot("02-dags")
    assert DAG_ID in dags
    api = local_airflow.api()
    assert api.import_errors() == []

    known = {run["dag_run_id"] for run in api.runs(DAG_ID)}
    ui.trigger(DAG_ID)
    run_id = new_manual_run(api, known)
    final = api.wait_for_run(DAG_ID, run_id, timeout=900)
    assert final["state"] == "success", api.task_instances(DAG_ID, run_id)

    run_page = ui.open(f"/dags/{DAG_ID}/runs/{run_id}", wait_for="Success")
    # the run's one-line summary (its note, written when the run ended) shows on the run's page
    summary = api.run(DAG_ID, run_id)["note"]
    assert summary and re.match(r"Hour \d{4}-\d{2}-\d{2} \d{2}:00 UTC: \d+ plays published, ", summary), summary
    ui.page.get_by_text("plays published").first.wait_for()
    run_page = ui.page.inner_text("body")
    ui.shot("04-run")
    assert run_id in run_page and "Success" in run_page
    assert summary in run_page

    log = ui.task_log_text(DAG_ID, run_id, "load_songplays_fact")
    ui.shot("05-load_songplays_fact-log")
    assert "INSERT INTO audit_songplays" in log  # the rendered statement (the load writes the audit table)
    assert re.search(r"rows affected: \d+", log, re.IGNORECASE)
    html = ui.page.content()
    for secret in secrets_of(airflow_stack):
        assert secret not in log and secret not in html
