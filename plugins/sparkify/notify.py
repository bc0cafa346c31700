"""Failure and late-hour notifications, sent through the smtp provider's ``SmtpNotifier``.

Three entry points, wired by ``dags/sparkify_etl.py``:

* :func:`notify_task_failure`: every task's ``on_failure_callback``. Airflow calls it only when a task
  has failed its *last* try (a retry calls ``on_retry_callback`` instead, which we do not set), so
  retries send nothing. It runs in the worker (or, for a task whose worker died, in the dag processor).
* No run-level callback: a run that failed because a task failed was told by that task; one that fails
  otherwise (deadlocked; the DAG sets no ``dagrun_timeout``) has not succeeded, so its late-hour message
  names it ``failed``.
* :func:`notify_late_hour`: the Deadline Alert's callback (an ``AsyncCallback``, run by the triggerer):
  the hour's run had not succeeded in time; the message names the hour and the state the run is in.

The channel is the connection :data:`ALERTS_CONN_ID` (type ``smtp``; its extra names the recipients,
``"to"``, and the sender, ``"from_email"``). Without it nothing is sent and one line says so. Messages
are plain text (in a ``<pre>`` block), pass through Airflow's secrets masker, and carry the headers
``X-Sparkify-Kind`` (``failed``/``late``) and ``X-Sparkify-Run-Id`` for filters.
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

#: The connection that configures the channel (type smtp; extra ``to`` and ``from_email``).
ALERTS_CONN_ID = "sparkify_alerts"
#: Minutes after an hour was due (its end, or its run's creation if later: sparkify.lateness) before it is late.
LATE_AFTER_ENV = "SPARKIFY_LATE_AFTER_MINUTES"
LATE_AFTER_DEFAULT_MINUTES = 120.0
#: The reason's lines kept in a message: its first line and, for the gate, the failed checks.
MAX_REASON_LINES = 12
MAX_LINE_CHARS = 400


@dataclass
class Message:
    """One notification: subject, plain-text body, and headers for filtering."""

    kind: str  # "failed" or "late"
    subject: str
    body: str
    run_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def html(self) -> str:
        """The body as the HTML part the smtp provider sends (plain text, escaped, preformatted)."""
        return f"<pre>{html.escape(self.body)}</pre>"

    def all_headers(self) -> dict[str, str]:
        return {"X-Sparkify-Kind": self.kind, "X-Sparkify-Run-Id": self.run_id, **self.headers}


# ---------------------------------------------------------------------------------------------- settings
def late_after(environ: dict[str, str] | None = None) -> timedelta:
    """The Deadline Alert's delay from ``$SPARKIFY_LATE_AFTER_MINUTES`` (default 120 minutes).

    Read when the DAG file is parsed (an environment lookup, no I/O). A value that is not a positive
    number fails the parse, naming the variable, rather than silently using another delay.
    """
    raw = (environ if environ is not None else os.environ).get(LATE_AFTER_ENV, "").strip()
    if not raw:
        return timedelta(minutes=LATE_AFTER_DEFAULT_MINUTES)
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not minutes > 0:
        raise ValueError(f"{LATE_AFTER_ENV} must be a positive number of minutes, got {raw!r}")
    return timedelta(minutes=minutes)


# ---------------------------------------------------------------------------------------------- text
def reason_lines(exception: BaseException | str | None) -> list[str]:
    """The first line of the reason and, when it lists items (the gate's ``  - FAIL ...: observed X,
    expected Y`` lines), those items without their indented detail rows. Masked and bounded."""
    if exception is None:
        return ["(no exception recorded)"]
    text = exception if isinstance(exception, str) else f"{type(exception).__name__}: {exception}"
    lines = [line.rstrip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return [text if isinstance(exception, str) else type(exception).__name__]
    kept = [lines[0]] + [line.strip() for line in lines[1:] if line.lstrip().startswith("- ")]
    if len(kept) > MAX_REASON_LINES:
        kept = kept[:MAX_REASON_LINES] + [f"... ({len(kept) - MAX_REASON_LINES} more in the task log)"]
    return [_mask(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + " ...") for line in kept]


def _mask(text: str) -> str:
    """The text through Airflow's secrets masker (every connection secret the process has seen)."""
    try:
        from airflow.sdk.log import redact
    except ImportError:  # pragma: no cover - the task SDK is always there in Airflow 3
        return text
    return str(redact(text))


def _hour(start, end) -> str:
    if start is None or end is None:
        return "none (the run has no data interval)"
    return f"{_iso(start)} to {_iso(end)} (UTC)"


def _iso(moment) -> str:
    """``YYYY-MM-DD HH:MM`` of a datetime or of an ISO string (the REST API's form)."""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
    return moment.strftime("%Y-%m-%d %H:%M")


def _base_url() -> str:
    from airflow.providers.common.compat.sdk import conf

    return conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")


def run_url(dag_id: str, run_id: str, base_url: str | None = None) -> str:
    """The run's page in the UI."""
    return f"{(base_url or _base_url()).rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}"


def task_failure_message(context: Any) -> Message:
    """The message for a task that failed its last try, from its Airflow context."""
    from sparkify.intervals import run_interval

    ti = context["ti"]
    try:
        start, end = run_interval(context)
    except ValueError:
        start = end = None
    dag_id, run_id, task_id = ti.dag_id, ti.run_id, ti.task_id
    hour = _hour(start, end)
    reasons = reason_lines(context.get("exception"))
    url = getattr(ti, "log_url", None) or f"{run_url(dag_id, run_id)}/tasks/{task_id}?try_number={ti.try_number}"
    body = "\n".join([
        f"DAG:    {dag_id}",
        f"Hour:   {hour}",
        f"Run:    {run_id}",
        f"Task:   {task_id}, try {ti.try_number} (final: no retry left)",
        "Reason: " + reasons[0],
        *(f"        {line}" for line in reasons[1:]),
        f"Log:    {url}",
    ])
    when = _iso(start) if start is not None else run_id
    subject = f"[{dag_id}] FAILED {task_id} for hour {when} (try {ti.try_number})"
    return Message("failed", subject, body, run_id=run_id)


def late_hour_message(dag_run: dict[str, Any], deadline: dict[str, Any] | None,
                      base_url: str | None = None) -> Message:
    """The message for a run that has not succeeded by its deadline (``dag_run``: the REST API's run JSON)."""
    dag_id, run_id = dag_run.get("dag_id", "?"), dag_run.get("dag_run_id") or dag_run.get("run_id") or ""
    start, end = dag_run.get("data_interval_start"), dag_run.get("data_interval_end")
    state = dag_run.get("state") or "unknown"
    due = (deadline or {}).get("deadline_time")
    body = "\n".join([
        f"DAG:    {dag_id}",
        f"Hour:   {_hour(start, end)}",
        f"Run:    {run_id}",
        f"State:  {state} (not succeeded by its deadline{f' {due}' if due else ''})",
        f"Run page: {run_url(dag_id, run_id, base_url)}",
    ])
    when = _iso(start) if start is not None else run_id
    return Message("late", f"[{dag_id}] LATE hour {when}: run is {state}", body, run_id=run_id)


# ---------------------------------------------------------------------------------------------- sending
def _notifier(message: Message, conn) -> Any:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    extra = conn.extra_dejson
    to = extra.get("to")
    if not to:
        raise ValueError(f"connection {ALERTS_CONN_ID!r} has no recipient: set its extra \"to\"")
    return SmtpNotifier(to=to, from_email=extra.get("from_email"), subject=_mask(message.subject),
                        html_content=_mask(message.html()), smtp_conn_id=ALERTS_CONN_ID,
                        custom_headers=message.all_headers())


def _nothing_sent(message: Message, logger) -> None:
    logger.info("NOTIFY: no connection %r configured: nothing sent (%s)", ALERTS_CONN_ID, message.subject)


def send(message: Message, logger: logging.Logger | None = None) -> bool:
    """Send ``message`` through the alerts connection; False (one log line) when there is none."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    logger = logger or log
    try:
        conn = BaseHook.get_connection(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        _nothing_sent(message, logger)
        return False
    _notifier(message, conn).notify({})
    logger.info("NOTIFY: sent through %r: %s", ALERTS_CONN_ID, message.subject)
    return True


async def asend(message: Message, logger: logging.Logger | None = None) -> bool:
    """:func:`send` for the triggerer's event loop."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    logger = logger or log
    try:
        conn = await BaseHook.aget_connection(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        _nothing_sent(message, logger)
        return False
    await _notifier(message, conn).async_notify({})
    logger.info("NOTIFY: sent through %r: %s", ALERTS_CONN_ID, message.subject)
    return True


# ---------------------------------------------------------------------------------------------- callbacks
def notify_task_failure(context: Any) -> None:
    """``on_failure_callback`` of every task: one message when a task failed its last try."""
    try:
        send(task_failure_message(context))
    except Exception as err:  # a broken channel must not hide the task's own failure
        log.error("NOTIFY: could not send the failure notification: %s", _mask(f"{type(err).__name__}: {err}"))


async def notify_late_hour(context: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """The Deadline Alert's callback (triggerer): the hour's run has not succeeded in time.

    ``context`` is what the scheduler gives a missed deadline: ``dag_run`` (the run as the REST API
    shows it, with its state at that moment) and ``deadline``.
    """
    context = context or {}
    message = late_hour_message(context.get("dag_run") or {}, context.get("deadline"))
    await asend(message)
