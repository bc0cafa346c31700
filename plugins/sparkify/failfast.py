"""Fail fast on template render errors: no 3 x 5-minute retry for a template that can never render.

A task renders its templated fields before it executes. An undefined template variable, a Jinja syntax
error, a missing template file or a bad Variable then fails the task; by default Airflow would retry it
``retries`` times, ``retry_delay`` apart, although the outcome cannot change. :class:`RenderErrorsFailFast`
is the DAG's ``retry_policy`` (Airflow 3.3 evaluates it in the worker with the actual exception): an error
raised while rendering fails the task at once, and the policy logs one line saying so, naming the task
and the error. Every other error falls through to the task's normal retries.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import jinja2
from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

log = logging.getLogger(__name__)

#: The Task SDK method that renders templated fields before ``execute``.
RENDER_FRAME = "render_templates"


def raised_while_rendering(exception: BaseException) -> bool:
    """True when ``exception`` is a Jinja error or was raised inside the task's template rendering."""
    if isinstance(exception, jinja2.TemplateError):
        return True
    frames = traceback.extract_tb(exception.__traceback__)
    return any(frame.name in (RENDER_FRAME, "render_template_fields") for frame in frames)


def render_error_message(exception: BaseException, task_id: str | None = None) -> str:
    """The one-line summary logged for a render error."""
    detail = f"{type(exception).__name__}: {exception}".strip().splitlines()[0]
    where = f" of task {task_id}" if task_id else ""
    return (
        f"TEMPLATE RENDER ERROR{where}, not retried: {detail} "
        "(fix the template, the Variable or the run's parameters, then clear the task)"
    )


class RenderErrorsFailFast(RetryPolicy):
    """Retry policy: render errors fail immediately; anything else uses the task's ``retries``."""

    def evaluate(self, exception: BaseException, try_number: int, max_tries: int, context=None) -> RetryDecision:
        if not raised_while_rendering(exception):
            return RetryDecision.default()
        task = (context or {}).get("task") if isinstance(context, dict) or hasattr(context, "get") else None
        message = render_error_message(exception, getattr(task, "task_id", None))
        log.error("%s", message)
        return RetryDecision.fail(reason=message)

    def serialize(self) -> dict[str, Any]:
        return {"__type": "RenderErrorsFailFast"}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> RenderErrorsFailFast:
        return cls()
