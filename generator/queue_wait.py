"""How long a queued task can wait before any worker sees it, where a semaphore bounds it.

A task's `HeartbeatSeconds` and `TimeoutSeconds` count from the moment its message is sent,
not from when a worker receives it. Behind a backlog the token expires while the message is
still queued: the task fails and the worker later finds a closed token. With `concurrency:`
the backlog is bounded, so the worst case is known: at most `limit` executions, each with as
many messages on the queue at once as its Parallel branches and Map iterations allow; the
worker takes `batch_size x max_concurrency` at a time, each batch taking up to its timeout plus
the batching window.
"""

from __future__ import annotations

from generator.loader import Node
from generator.report import Reporter, value_at
from generator.worker_tasks import TaskUse
from generator.workers import DeclaredWorker

_SETTINGS = (
    "batch_size",
    "max_concurrency",
    "timeout_seconds",
    "batching_window_seconds",
    "delay_seconds",
)


def messages_per_execution(scope: Node, worker: str) -> int | None:
    """The most messages for `worker` one execution can have queued at once; None: unbounded
    (a Map without MaxConcurrency around a task of that worker)."""
    states = scope.get("States")
    if states is None or not states.is_map:
        return 0
    most = 0
    for state in states.mapping.values():
        count = _state(state, worker)
        if count is None:
            return None
        most = max(most, count)  # states of one scope run one after another
    return most


def _state(state: Node, worker: str) -> int | None:
    if not state.is_map:
        return 0
    kind = (state.get("Type") or state).scalar
    if kind == "Task":
        used = state.get("Worker")
        return 1 if used is not None and used.scalar == worker else 0
    if kind == "Parallel":
        branches = state.get("Branches")
        total = 0
        for branch in branches.items if branches is not None and branches.is_seq else []:
            count = messages_per_execution(branch, worker)
            if count is None:
                return None
            total += count  # branches run at the same time
        return total
    if kind == "Map":
        inner = state.get("ItemProcessor") or state.get("Iterator")
        count = 0 if inner is None else messages_per_execution(inner, worker)
        if not count:
            return count
        limit = (state.get("MaxConcurrency") or state).scalar
        bounded = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        return count * limit if bounded else None
    return 0


def check(
    r: Reporter, root: Node, limit: int, workers: dict[str, DeclaredWorker], uses: list[TaskUse]
) -> None:
    """Warn where a Worker task's heartbeat or timeout is shorter than its worst-case wait."""
    for use in uses:
        s = workers[use.task.worker].settings
        values = [s[k] for k in _SETTINGS]
        per_execution = messages_per_execution(root, use.task.worker)
        if per_execution is None or any(v is None for v in values):
            continue
        batch, concurrency, timeout, window, delay = (v or 0 for v in values)
        queued = limit * per_execution
        at_once = batch * concurrency
        rounds_ahead = -(-queued // at_once) - 1
        if rounds_ahead < 1:
            continue  # every queued message is taken in the first round
        wait = delay + window + rounds_ahead * (timeout + window)
        why = (
            f"up to {queued} messages can be queued for worker {use.task.worker!r} (semaphore "
            f"limit {limit} x {per_execution} per execution) and it takes {at_once} at a time "
            f"(batch_size {batch} x max_concurrency {concurrency}), each batch up to "
            f"{timeout + window} s (timeout_seconds {timeout} + batching_window_seconds "
            f"{window}), so the last one waits up to {wait} s before a worker sees it; the "
            "clock starts when the message is queued"
        )
        other = "raise the worker's max_concurrency or batch_size, or lower the semaphore limit"
        heartbeat = use.task.heartbeat_seconds
        if heartbeat is not None and heartbeat <= wait:
            r.warning(
                *value_at(use.node, use.path, "HeartbeatSeconds"),
                f"HeartbeatSeconds {heartbeat} is not above the worst-case queue wait: {why}",
                f"raise HeartbeatSeconds above {wait}, or {other}",
            )
        needed = wait + timeout
        if use.task.timeout_seconds < needed:
            r.warning(
                *value_at(use.node, use.path, "TimeoutSeconds"),
                f"TimeoutSeconds {use.task.timeout_seconds} is shorter than the worst-case "
                f"queue wait plus one run ({wait} + {timeout} = {needed} s): {why}",
                f"set TimeoutSeconds to at least {needed}, or {other}",
            )
