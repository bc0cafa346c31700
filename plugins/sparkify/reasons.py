"""Skip and failure reasons as top-level lines of the task log, not hidden in a collapsed group.

Airflow 3.3's task runner (``airflow/sdk/execution_time/task_runner.py``) wraps its own work in log
groups that the UI shows collapsed: ``::group::Pre Execute`` opens before the task's ``pre_execute``
hooks and is closed (``::endgroup::``) only after them, just before ``execute``; an exception leaving a
hook is therefore logged *inside* the collapsed group, and the runner's own "Skipping task." line goes into
the ``::group::Post Execute`` it opens after any exception. Collapsed, the log page says nothing useful.

:func:`skip` and :func:`fail` close the runner's Pre Execute group first (when called from a
``pre_execute`` hook), log one line ``SKIPPED: <reason>`` / ``FAILED: <reason>`` at the top level and
raise the matching exception. The UI's log view keeps a stack of open groups; an ``::endgroup::`` with
none open is ignored, and the runner's later ``::endgroup::`` closes its own Post Execute group.

The line is also kept as the task's XCom ``reason`` (:data:`REASON_KEY`), so the run's one-line summary
(:mod:`sparkify.run_notes`) can say why a run did nothing without anyone opening a log.
"""

from __future__ import annotations

import logging
from typing import NoReturn

log = logging.getLogger(__name__)

#: The marker the task runner and the UI use to close a log group.
END_GROUP = "::endgroup::"
#: The XCom key holding the task's last announced reason, ``"<KIND>: <reason>"``.
REASON_KEY = "reason"


def keep_reason(line: str) -> None:
    """Store ``line`` as the running task's XCom :data:`REASON_KEY`; a no-op outside a task."""
    from airflow.sdk import get_current_context

    try:
        ti = get_current_context()["ti"]
    except Exception:  # not inside a running task (unit tests, dag parsing): nothing to keep it on
        return
    ti.xcom_push(key=REASON_KEY, value=line)


def announce(kind: str, reason: str, *, close_group: bool) -> None:
    """Log ``<KIND>: <reason>`` outside any group; ``close_group`` ends the runner's Pre Execute group."""
    if close_group:
        log.info(END_GROUP)
    log.info("%s: %s", kind, reason)
    keep_reason(f"{kind}: {reason}")


def skip(reason: str, *, close_group: bool = True) -> NoReturn:
    """Skip the task, the reason on a top-level log line. ``close_group=False`` from ``execute``."""
    from airflow.sdk.exceptions import AirflowSkipException

    announce("SKIPPED", reason, close_group=close_group)
    raise AirflowSkipException(reason)


def fail(reason: str, *, retry: bool = False, close_group: bool = True) -> NoReturn:
    """Fail the task, the reason on a top-level log line; no retry unless ``retry``."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    announce("FAILED", reason, close_group=close_group)
    raise (AirflowException if retry else AirflowFailException)(reason)
