"""Driving the Airflow UI in headless Chromium (Debian's `chromium`, driven by playwright).

Screenshots go to `.ci/artifacts/browser/` (or $SPARKIFY_ARTIFACTS_DIR), which CI keeps.
"""

from __future__ import annotations

import os
import re
import shutil
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """Debian's chromium (apt), or $SPARKIFY_CHROMIUM."""
    if os.environ.get("SPARKIFY_CHROMIUM"):
        return os.environ["SPARKIFY_CHROMIUM"]
    return next((found for name in CHROMIUM_CANDIDATES if (found := shutil.which(name))), None)


def artifacts_dir(kind: str = "browser") -> Path:
    """`.ci/artifacts/<kind>/` (or under $SPARKIFY_ARTIFACTS_DIR): what CI keeps of a run."""
    path = Path(os.environ.get("SPARKIFY_ARTIFACTS_DIR", ROOT / ".ci" / "artifacts")) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


class AirflowUI:
    """A logged-in page on the Airflow UI, with the few moves the smoke test makes."""

    def __init__(self, page, base_url: str, shots: Path):
        self.page = page
        self.base_url = base_url
        self.shots = shots

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def login(self, username: str, password: str) -> None:
        self.page.goto(self.base_url + "/")
        self.page.locator("input[name=username]").fill(username)
        self.page.locator("input[name=password]").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))
        self.page.wait_for_load_state("networkidle")

    def open(self, path: str, wait_for: str | re.Pattern | None = None) -> str:
        """Go to `path`, wait for the page's requests (and for the text `wait_for` to show: the UI
        renders lists after further API calls), return its visible text."""
        self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("networkidle")
        if wait_for is not None:
            self.page.get_by_text(wait_for).first.wait_for()
        return self.page.inner_text("body")

    def trigger(self, dag_id: str) -> None:
        """Trigger a single run from the DAG page's Trigger dialog, with its default logical date."""
        self.open(f"/dags/{dag_id}", wait_for=dag_id)
        self.page.get_by_role("button", name=re.compile("^Trigger")).first.click()
        dialog = self.page.get_by_role("dialog")
        dialog.wait_for()
        self.shot("03-trigger-dialog")
        dialog.get_by_role("button", name=re.compile("^Trigger$")).click()
        dialog.wait_for(state="hidden")

    def task_log_text(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The task's log page, every group expanded, as text."""
        run = urllib.parse.quote(run_id, safe="")
        self.open(f"/dags/{dag_id}/runs/{run}/tasks/{task_id}")
        page = self.page
        page.get_by_text(re.compile("rows affected", re.I)).first.wait_for(timeout=60_000)
        # Collapsed groups ("Pre Execute", ...) hide lines: open them all.
        for summary in page.locator("summary").all():
            if summary.is_visible():
                summary.click()
        return page.inner_text("body")
