"""A long-running task: heartbeats while it works."""

from __future__ import annotations

import time
from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed


def transcode(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Pretend to transcode ``source`` into each of ``renditions`` (``seconds`` each).

    The runtime heartbeats in the background when the state sets HeartbeatSeconds; the
    explicit ``ctx.heartbeat()`` between steps shows how to stop early once the task is gone.
    """
    source = payload.get("source", "input.mov")
    out = []
    for name in payload.get("renditions", ["720p"]):
        time.sleep(float(payload.get("seconds", 0)))
        if not ctx.heartbeat():
            raise TaskFailed(error="Media.Abandoned", cause="the task closed while transcoding")
        out.append({"rendition": name, "key": f"{source}.{name}.mp4"})
    return {"source": source, "outputs": out}
