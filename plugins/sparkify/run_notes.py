"""One line per run in the UI: the run's note says what the hour did, or why it did nothing.

Tasks cannot write a DAG run's note (the Execution API has no call for it), so a **listener** does it, in
the component that changes the run's state: the scheduler when a run ends (``on_dag_run_success`` /
``on_dag_run_failed``, called from ``DagRun.update_state`` with the run attached to the scheduler's
session, which commits the note with the new state), the api-server when a user marks a run. The facts
come from the run's XComs: ``publish``'s result (:func:`sparkify.publish.publish_summary`) and the
``reason`` line a task announced before it skipped or failed (:mod:`sparkify.reasons`).

The note is the summary line, then, after a blank line, whatever else the note held (a user's own
words are kept; an earlier summary line is replaced). A cleared run that starts again
(``on_dag_run_running``) gets "rerunning" in place of its old summary until it ends with a fresh one.
The plugin that registers the listener is ``plugins/sparkify_plugin.py``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow.listeners import hookimpl

from sparkify.reasons import REASON_KEY

log = logging.getLogger(__name__)

#: DAGs whose runs get a summary note, and the task whose result says what was published.
SUMMARISED_DAGS = frozenset({"sparkify_etl"})
PUBLISH_TASK = "publish"
#: DagRunNote.content holds at most 1000 characters; the summary line takes at most this many.
NOTE_LIMIT = 1000
LINE_LIMIT = 400
#: How a summary line starts: ``Hour 2018-11-01 13:00 UTC: ...``; lines of this form are ours.
#: The mark :mod:`sparkify.reasons` puts before a reason, and the indent of a reason's detail lines.
_KIND = re.compile(r"^(FAILED|SKIPPED): ")
DETAIL_INDENT = 4
_SUMMARY_LINE = re.compile(r"^Hour (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC|\S+ \(run [^)]*\)): ")


@dataclass(frozen=True)
class Failure:
    """A task that failed its last try, and the reason it announced (None when it announced none)."""

    task_id: str
    try_number: int
    reason: str | None = None


def hour_label(start: datetime | str | None, run_id: str = "") -> str:
    """``2018-11-01 13:00 UTC`` for an interval start; ``? (run <run_id>)`` when the hour is unknown."""
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if start is None:
        return f"? (run {run_id})"
    return start.strftime("%Y-%m-%d %H:%M UTC")


def _count(value: int | None, noun: str) -> str:
    return f"{'?' if value is None else value} {noun}"


def published_text(result: Mapping[str, Any]) -> str:
    """``42 plays published, 7 users updated (2 new), catalog unchanged`` from publish's result."""
    users = _count(result.get("users"), "users updated")
    if result.get("new_users") is not None:
        users += f" ({result['new_users']} new)"
    catalog = "catalog republished" if result.get("catalog") else "catalog unchanged"
    return f"{_count(result.get('plays'), 'plays published')}, {users}, {catalog}"


def reason_text(reason: str | None) -> str:
    """A task's reason on one line, without its ``FAILED:``/``SKIPPED:`` mark: its lines joined by ``; ``,
    bullets dropped, and deeper-indented detail lines (the gate's offending rows) left to the log."""
    if not reason:
        return "no reason recorded, see its log"
    text = ""
    for raw in _KIND.sub("", reason, count=1).splitlines():
        if len(raw) - len(raw.lstrip()) > DETAIL_INDENT or not raw.strip():
            continue
        line = raw.strip().removeprefix("- ")
        text += ("" if not text else " " if text.endswith(":") else "; ") + line
    return text


def summary_line(
    hour: str,
    state: str,
    published: Mapping[str, Any] | None,
    failure: Failure | None = None,
    skipped_reason: str | None = None,
    why: str = "",
) -> str:
    """The run's one line: what the hour published, or why it published nothing.

    :param hour: :func:`hour_label` of the run's interval.
    :param state: the run's state (``success``, ``failed``, ``running``).
    :param published: ``publish``'s result, None when publish did not succeed in this run.
    :param failure: the task that failed the run (runs that failed).
    :param skipped_reason: the reason ``publish`` was skipped, when it was.
    :param why: Airflow's word for the state change (``timed_out``, a manual mark's message, ...).
    """
    if state == "running":
        text = "rerunning; this line is rewritten when the run ends"
    elif published is not None:
        text = published_text(published)
        if failure is not None:
            text += f"; then {failure.task_id} FAILED (try {failure.try_number}): {reason_text(failure.reason)}"
    elif failure is not None:
        text = (f"nothing published: {failure.task_id} FAILED (try {failure.try_number}): "
                f"{reason_text(failure.reason)}")
    elif state == "failed":
        text = f"nothing published: the run failed ({why or 'no task failed'})"
    else:
        text = f"nothing published: {PUBLISH_TASK} skipped: {reason_text(skipped_reason)}"
    line = f"Hour {hour}: {text}"
    return line if len(line) <= LINE_LIMIT else line[: LINE_LIMIT - 1] + "…"


def is_summary(line: str) -> bool:
    """True for a line this module wrote."""
    return bool(_SUMMARY_LINE.match(line))


def merged_note(existing: str | None, line: str) -> str:
    """The note with ``line`` first, replacing an earlier summary line and keeping everything else."""
    kept = "\n".join(part for part in (existing or "").splitlines() if not is_summary(part)).strip()
    if not kept:
        return line
    room = NOTE_LIMIT - len(line) - 2
    return f"{line}\n\n{kept[:room]}"


# --- the scheduler side: read the run's facts from the metadata database ---------------------------------

def _xcom(session, dag_run, task_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalars(
        select(XComModel).where(
            XComModel.dag_run_id == dag_run.id, XComModel.task_id == task_id, XComModel.key == key,
            XComModel.map_index == -1,
        )
    ).first()
    return None if row is None else XComModel.deserialize_value(row)


def _hour(dag_run, published: Mapping[str, Any] | None) -> str:
    """The run's hour: the interval publish used, else the run's data interval, else the DAG's manual rule."""
    if published and published.get("interval"):
        return hour_label(published["interval"][0])
    if dag_run.data_interval_start is not None:
        return hour_label(dag_run.data_interval_start)
    try:
        from sparkify.intervals import run_interval

        return hour_label(run_interval({"dag_run": dag_run, "dag": dag_run.dag})[0])
    except Exception:
        return hour_label(None, dag_run.run_id)


def run_summary(dag_run, session, state: str, why: str = "") -> str:
    """The summary line of ``dag_run`` (an ORM ``DagRun`` in ``session``) in ``state``."""
    from airflow.utils.state import TaskInstanceState

    published = failure = skipped_reason = None
    if state != "running":
        tis = {ti.task_id: ti for ti in dag_run.get_task_instances(session=session)}
        publish = tis.get(PUBLISH_TASK)
        if publish is not None and publish.state == TaskInstanceState.SUCCESS:
            published = _xcom(session, dag_run, PUBLISH_TASK, "return_value")
        elif publish is not None and publish.state == TaskInstanceState.SKIPPED:
            skipped_reason = _xcom(session, dag_run, PUBLISH_TASK, REASON_KEY)
        failed = [ti for ti in tis.values() if ti.state == TaskInstanceState.FAILED]
        if failed:
            first = min(failed, key=lambda ti: (ti.end_date is None, ti.end_date or datetime.max, ti.task_id))
            failure = Failure(first.task_id, first.try_number, _xcom(session, dag_run, first.task_id, REASON_KEY))
    return summary_line(_hour(dag_run, published), state, published, failure, skipped_reason, why)


def write_note(dag_run, state: str, why: str = "") -> None:
    """Set ``dag_run``'s note to its summary (a no-op for other DAGs, or when the run has no session)."""
    from sqlalchemy.orm import object_session

    if dag_run.dag_id not in SUMMARISED_DAGS:
        return
    session = object_session(dag_run)
    if session is None:
        log.warning("run %s is not attached to a session: no summary note", dag_run.run_id)
        return
    if state == "running" and not any(is_summary(line) for line in (dag_run.note or "").splitlines()):
        return  # a first start: nothing stale to replace, the summary comes when the run ends
    dag_run.note = merged_note(dag_run.note, run_summary(dag_run, session, state, why))


class RunNotesListener:
    """Airflow listener: a summarised DAG's run gets its one-line note when it ends, or starts again."""

    @hookimpl
    def on_dag_run_running(self, dag_run, msg: str) -> None:
        """A run (re)starts: a stale summary from an earlier attempt becomes "rerunning"."""
        write_note(dag_run, "running")

    @hookimpl
    def on_dag_run_success(self, dag_run, msg: str) -> None:
        """A run succeeded: what it published, or why publish was skipped."""
        write_note(dag_run, "success")

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg: str) -> None:
        """A run failed: the failed task, its try and the first lines of its reason."""
        write_note(dag_run, "failed", msg)
