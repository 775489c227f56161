"""Generic handlers for demos, benchmarks and tests."""

from __future__ import annotations

import time
from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed


def echo(payload: Any, ctx: TaskContext) -> Any:
    """Return the input unchanged."""
    return payload


def sleep(payload: Any, ctx: TaskContext) -> Any:
    """Sleep ``payload["seconds"]`` (default 0), then return the payload.

    ``"fail": true`` fails the task with ``Sleep.Failed`` (a Catch can match it). There is no
    "poison" switch on purpose: a handler's error always becomes a task failure, never a
    redelivery; a poison *message* is a body the runtime cannot parse, which a demo produces
    by sending one to the queue directly.
    """
    seconds = float(payload.get("seconds", 0)) if isinstance(payload, dict) else 0.0
    if seconds > 0:
        time.sleep(seconds)
    if isinstance(payload, dict) and payload.get("fail") is True:
        raise TaskFailed(error="Sleep.Failed", cause=f"asked to fail after {seconds} s")
    return payload
