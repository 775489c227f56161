"""Stage 2c: rules across fields that no schema expresses (DESIGN.md section 3).

Each compares a worker's queue and Lambda settings with the Task states that use it, because a
mismatch there does not fail at deploy time: it loses task tokens or pushes messages to the DLQ
weeks later.
"""

from __future__ import annotations

from generator.asl import WorkerUse
from generator.limits import (
    BATCH_SIZE_WITHOUT_WINDOW,
    WORKER_FIELDS,
    default_visibility_timeout,
    minimum_visibility_timeout,
)
from generator.loader import Node
from generator.report import Reporter, join
from generator.spec import SpecFacts


def _int(worker: Node, key: str) -> int | None:
    node = worker.get(key)
    if node is None:
        default = WORKER_FIELDS[key][2]
        return default
    value = node.scalar
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def settings(worker: Node) -> dict[str, int | None]:
    values = {key: _int(worker, key) for key in WORKER_FIELDS}
    timeout, window = values["timeout_seconds"], values["batching_window_seconds"]
    if values["visibility_timeout_seconds"] is None and timeout is not None and window is not None:
        values["visibility_timeout_seconds"] = default_visibility_timeout(timeout, window)
    return values


def check_workers(r: Reporter, facts: SpecFacts) -> None:
    for name, worker in facts.workers.items():
        path = join("workers", name)
        s = settings(worker)
        timeout, window = s["timeout_seconds"], s["batching_window_seconds"]
        batch, visibility = s["batch_size"], s["visibility_timeout_seconds"]
        explicit = "visibility_timeout_seconds" in worker.mapping
        if explicit and timeout is not None and window is not None and visibility is not None:
            minimum = minimum_visibility_timeout(timeout, window)
            if visibility < minimum:
                node = worker.mapping["visibility_timeout_seconds"]
                r.error(
                    node,
                    join(path, "visibility_timeout_seconds"),
                    f"visibility timeout {visibility} s is below 6 x timeout_seconds + "
                    f"batching_window_seconds = {minimum} s, so messages reappear while still "
                    "being processed",
                    f"set it to at least {minimum}, or remove it to get the default "
                    f"{default_visibility_timeout(timeout, window)}",
                )
        if (
            batch is not None
            and window is not None
            and batch > BATCH_SIZE_WITHOUT_WINDOW
            and window < 1
        ):
            node = worker.get("batch_size") or worker
            r.error(
                node,
                join(path, "batch_size"),
                f"batch_size {batch} is above {BATCH_SIZE_WITHOUT_WINDOW}, which AWS accepts "
                "only with a batching window",
                "set batching_window_seconds to at least 1, or batch_size to at most 10",
            )
        reserved, maximum = s["reserved_concurrency"], s["max_concurrency"]
        if reserved is not None and maximum is not None and reserved < maximum:
            node = worker.get("reserved_concurrency") or worker
            r.error(
                node,
                join(path, "reserved_concurrency"),
                f"reserved_concurrency {reserved} is below max_concurrency {maximum}: the event "
                "source would be throttled and messages would end in the DLQ",
                f"raise reserved_concurrency to at least {maximum}, or lower max_concurrency",
            )


def check_uses(r: Reporter, facts: SpecFacts, uses: list[WorkerUse]) -> None:
    used = {u.worker for u in uses}
    for name, worker in facts.workers.items():
        if name not in used:
            r.warning(
                worker,
                join("workers", name),
                f"worker {name!r} is not used by any state",
                "reference it with Worker: on a Task, or remove it",
            )
    for use in uses:
        spec_worker = facts.workers.get(use.worker)
        if spec_worker is None:
            continue
        if use.express:
            r.error(
                use.node.key_node("Worker"),
                join(use.path, "Worker"),
                "a Worker task cannot run inside an EXPRESS Map: express executions do not "
                "support .waitForTaskToken",
                "use ExecutionType: STANDARD for this Map",
            )
        s = settings(spec_worker)
        receives, visibility = s["max_receive_count"], s["visibility_timeout_seconds"]
        if receives is not None and visibility is not None:
            chain = receives * visibility
            if use.timeout_seconds < chain:
                node = use.node.get("TimeoutSeconds") or use.node
                r.warning(
                    node,
                    join(use.path, "TimeoutSeconds"),
                    f"TimeoutSeconds {use.timeout_seconds} is shorter than max_receive_count x "
                    f"visibility timeout = {receives} x {visibility} = {chain} s: the task token "
                    "can expire while SQS still redelivers the message",
                    f"set TimeoutSeconds to at least {chain}, or lower the worker's "
                    "max_receive_count or timeout_seconds",
                )
        if use.heartbeat_seconds is not None:
            delay, window = s["delay_seconds"] or 0, s["batching_window_seconds"] or 0
            if use.heartbeat_seconds <= delay + window:
                node = use.node.get("HeartbeatSeconds") or use.node
                r.error(
                    node,
                    join(use.path, "HeartbeatSeconds"),
                    f"HeartbeatSeconds {use.heartbeat_seconds} is not above the worker's "
                    f"delivery delay + batching window ({delay + window} s): the heartbeat times "
                    "out before the worker can even receive the message",
                    f"raise HeartbeatSeconds above {delay + window}",
                )
