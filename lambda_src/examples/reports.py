"""A report renderer whose output size is driven by the input (to show the output limit)."""

from __future__ import annotations

from typing import Any

from stepqueue_runtime import TaskContext


def render(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Render ``rows`` lines; more than ~6,000 exceeds 256 KiB (Stepqueue.OutputTooLarge)."""
    rows = int(payload.get("rows", 3))
    title = str(payload.get("title", "report"))
    lines = [f"{title} line {i}: " + "x" * 32 for i in range(rows)]
    return {"title": title, "rows": rows, "lines": lines}
