"""Stands in for a Glue job run: the downstream resource a shared semaphore protects."""

from __future__ import annotations

import time
from typing import Any

from stepqueue_runtime import TaskContext


def run_job(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Pretend to run ``job`` for ``seconds`` and report a run id stable across redeliveries."""
    seconds = float(payload.get("seconds", 0))
    if seconds > 0:
        time.sleep(seconds)
    return {
        "job": payload.get("job", "etl"),
        "job_run_id": "jr_" + ctx.idempotency_key[:20],
        "state": "SUCCEEDED",
    }
