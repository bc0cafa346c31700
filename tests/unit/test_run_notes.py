"""Unit tests of the run's one-line summary note: publish's named counts, the line for each outcome, a
user's own note kept, the reason kept as XCom, and the plugin that registers the listener."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pendulum

from sparkify import reasons
from sparkify.publish import publish_summary, rows_written
from sparkify.run_notes import (
    LINE_LIMIT,
    NOTE_LIMIT,
    Failure,
    hour_label,
    is_summary,
    merged_note,
    summary_line,
)
from tests.unit.conftest import ROOT

HOUR = "2018-11-01 13:00 UTC"
PUBLISHED = {"plays": 42, "users": 7, "new_users": 2, "catalog": False}


def hour_statements(etl_dag) -> list[str]:
    from tests.hour_context import hour_context

    task = etl_dag.get_task("publish").prepare_for_execution()
    task.render_template_fields(hour_context(etl_dag, task, pendulum.datetime(2018, 11, 1, 13, tz="UTC")),
                                etl_dag.get_template_env())
    return task.build_statements("run-1", with_catalog=True)


def test_publish_names_its_counts_from_the_real_statements(etl_dag):
    statements = hour_statements(etl_dag)
    # LOCK, songplays DELETE/INSERT, time DELETE/INSERT, users DELETE/INSERT, catalog..., publish_log
    counts = [None, 5, 42, 3, 30, 4, 7, 150, 150, 80, 80, 1, 1]
    assert len(counts) == len(statements)
    written = rows_written(statements, counts)
    assert written["insert songplays"] == 42 and written["delete time"] == 3 and written["insert time"] == 30
    assert publish_summary(statements, counts, catalog=True) == {
        "plays": 42, "users": 7, "new_users": 3, "catalog": True,
    }


def test_publish_summary_says_unknown_when_the_driver_gives_no_count(etl_dag):
    statements = hour_statements(etl_dag)
    counts = [None] * len(statements)
    assert publish_summary(statements, counts, catalog=False) == {
        "plays": None, "users": None, "new_users": None, "catalog": False,
    }


def test_hour_label_is_the_interval_start_in_utc():
    assert hour_label(datetime(2018, 11, 1, 13, tzinfo=UTC)) == HOUR
    assert hour_label("2018-11-01 13:00:00") == HOUR
    assert hour_label(None, "manual__x") == "? (run manual__x)"


def test_a_published_hour():
    line = summary_line(HOUR, "success", PUBLISHED)
    assert line == ("Hour 2018-11-01 13:00 UTC: 42 plays published, 7 users updated (2 new), "
                    "catalog unchanged")
    assert summary_line(HOUR, "success", {**PUBLISHED, "catalog": True}).endswith("catalog republished")


def test_a_failed_gate_names_the_task_try_and_checks_on_one_line():
    # the gate's message as DataQualityOperator builds it: a check line, then its offending rows
    reason = ("FAILED: 2 of 12 data quality checks failed:\n"
              "  - FAIL unique(audit_songplays.songplay_id): observed 2, expected 0\n"
              "      ('2018-11-01 13:05:00', 7, 120, 3)\n"
              "  - FAIL not_null(audit_songplays.user_id): observed 1, expected 0")
    line = summary_line(HOUR, "failed", None, Failure("run_quality_checks", 1, reason))
    assert line == ("Hour 2018-11-01 13:00 UTC: nothing published: run_quality_checks FAILED (try 1): "
                    "2 of 12 data quality checks failed: "
                    "FAIL unique(audit_songplays.songplay_id): observed 2, expected 0; "
                    "FAIL not_null(audit_songplays.user_id): observed 1, expected 0")


def test_a_failure_after_publish_keeps_what_was_published():
    line = summary_line(HOUR, "failed", PUBLISHED, Failure("check_published", 2, None))
    assert "42 plays published" in line
    assert line.endswith("then check_published FAILED (try 2): no reason recorded, see its log")


def test_a_skipped_publish_and_a_run_marked_failed():
    skipped = summary_line(HOUR, "success", None, skipped_reason="SKIPPED: nothing to do")
    assert skipped == "Hour 2018-11-01 13:00 UTC: nothing published: publish skipped: nothing to do"
    assert summary_line(HOUR, "failed", None, why="timed_out").endswith("nothing published: the run failed "
                                                                         "(timed_out)")


def test_a_rerun_replaces_the_old_counts():
    assert summary_line(HOUR, "running", PUBLISHED) == (
        "Hour 2018-11-01 13:00 UTC: rerunning; this line is rewritten when the run ends")


def test_a_long_reason_is_cut_to_one_bounded_line():
    line = summary_line(HOUR, "failed", None, Failure("run_quality_checks", 1, "x" * 5000))
    assert len(line) == LINE_LIMIT and line.endswith("…")


def test_the_note_replaces_its_own_line_and_keeps_a_users_words():
    first = summary_line(HOUR, "success", PUBLISHED)
    assert merged_note(None, first) == first
    user = "Checked with the app team: the dip at 13:00 is real.\nSee ticket DATA-12."
    noted = merged_note(f"{first}\n\n{user}", summary_line(HOUR, "running", None))
    assert noted == f"Hour {HOUR}: rerunning; this line is rewritten when the run ends\n\n{user}"
    again = merged_note(noted, first)
    assert again == f"{first}\n\n{user}" and again.count("Hour ") == 1
    assert merged_note(user, first) == f"{first}\n\n{user}"


def test_the_note_fits_the_note_column():
    line = summary_line(HOUR, "success", PUBLISHED)
    assert len(merged_note("y" * 2000, line)) == NOTE_LIMIT


def test_only_summary_lines_are_taken_for_ours():
    assert is_summary(f"Hour {HOUR}: anything")
    assert is_summary("Hour ? (run manual__1): nothing published: ...")
    assert not is_summary("Hour 13 looked odd: see DATA-12")
    assert not is_summary(f"  Hour {HOUR}: indented, a user's quote")


def test_a_reason_outside_a_task_is_only_logged(caplog):
    caplog.set_level("INFO", logger=reasons.__name__)
    reasons.announce("SKIPPED", "nothing to stage", close_group=False)
    assert "SKIPPED: nothing to stage" in caplog.text


def test_a_reason_inside_a_task_is_kept_as_xcom(monkeypatch):
    pushed = {}

    class TI:
        def xcom_push(self, key, value):
            pushed[key] = value

    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: {"ti": TI()})
    reasons.announce("FAILED", "2 of 9 checks failed:\n  a\n  b", close_group=False)
    assert pushed == {reasons.REASON_KEY: "FAILED: 2 of 9 checks failed:\n  a\n  b"}


def test_the_plugin_registers_the_listener_and_nothing_else(tmp_path):
    """Airflow's own plugin loader on the project's plugins folder: one plugin, no import error, and the
    ``sparkify`` package (excluded by ``plugins/.airflowignore``) is not imported as loose modules."""
    code = (
        "import sys\n"
        "from airflow import plugins_manager as pm\n"
        "plugins, errors = pm._get_plugins()\n"
        "from airflow.listeners.listener import get_listener_manager\n"
        "names = [type(p).__name__ for p in get_listener_manager().pm.get_plugins()]\n"
        "print([p.name for p in plugins], errors, names, [m for m in ('publish', 'load', 'run_notes') "
        "if m in sys.modules])\n"
    )
    env = {"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "['sparkify'] {} ['RunNotesListener'] []"
