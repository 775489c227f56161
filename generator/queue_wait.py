"""How long a queued task can wait before any worker sees it, where a semaphore bounds it.

A task's `HeartbeatSeconds` and `TimeoutSeconds` count from the moment its message is sent,
not from when a worker receives it. Behind a backlog the token expires while the message is
still queued: the task fails and the worker later finds a closed token. With `concurrency:`
the backlog is bounded, so the worst case is known: at most `limit` executions, each with as
many messages on the queue at once as its Parallel branches and Map iterations allow; the
worker takes `batch_size x max_concurrency` at a time, each batch taking up to its timeout plus
the batching window. The runtime's first heartbeat comes when a worker reads the message, and
the next a third of `HeartbeatSeconds` later: the wait must stay under two thirds of it, so
that one failed heartbeat is not fatal. A Map without `MaxConcurrency` around a Worker task
lets one execution queue any number of messages: the wait has no bound, which is warned too.
"""

from __future__ import annotations

from generator.loader import Node
from generator.report import Reporter, join, value_at
from generator.worker_tasks import TaskUse
from generator.workers import DeclaredWorker

_SETTINGS = (
    "batch_size",
    "max_concurrency",
    "timeout_seconds",
    "batching_window_seconds",
    "delay_seconds",
)


class _Unbounded(Exception):
    """A Map without a positive MaxConcurrency around a Task of the worker."""

    def __init__(self, name: str, node: Node, path: str) -> None:
        super().__init__(name)
        self.name, self.node, self.path = name, node, path


def messages_per_execution(scope: Node, worker: str) -> int | None:
    """The most messages for `worker` one execution can have queued at once; None: unbounded
    (a Map without MaxConcurrency around a task of that worker)."""
    try:
        return _scope(scope, worker, "")
    except _Unbounded:
        return None


def unbounded_map(scope: Node, worker: str) -> tuple[str, Node, str] | None:
    """(name, node, path) of the first Map that leaves `worker`'s queue unbounded, if any."""
    try:
        _scope(scope, worker, "")
    except _Unbounded as found:
        return found.name, found.node, found.path
    return None


def _scope(scope: Node, worker: str, path: str) -> int:
    states = scope.get("States")
    if states is None or not states.is_map:
        return 0
    most = 0
    for name, state in states.mapping.items():
        count = _state(state, worker, str(name), join(join(path, "States"), str(name)))
        most = max(most, count)  # states of one scope run one after another
    return most


def _state(state: Node, worker: str, name: str, path: str) -> int:
    if not state.is_map:
        return 0
    kind = (state.get("Type") or state).scalar
    if kind == "Task":
        used = state.get("Worker")
        return 1 if used is not None and used.scalar == worker else 0
    if kind == "Parallel":
        branches = state.get("Branches")
        total = 0
        for i, branch in enumerate(
            branches.items if branches is not None and branches.is_seq else []
        ):
            total += _scope(branch, worker, join(join(path, "Branches"), i))  # at the same time
        return total
    if kind == "Map":
        field = "ItemProcessor" if state.get("ItemProcessor") is not None else "Iterator"
        inner = state.get(field)
        count = 0 if inner is None else _scope(inner, worker, join(path, field))
        if not count:
            return count
        limit = (state.get("MaxConcurrency") or state).scalar
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise _Unbounded(name, state, path)
        return count * limit
    return 0


def check(
    r: Reporter, root: Node, limit: int, workers: dict[str, DeclaredWorker], uses: list[TaskUse]
) -> None:
    """Warn where a Worker task's heartbeat or timeout is shorter than its worst-case wait, or
    where no wait can be worked out because a Map has no MaxConcurrency."""
    unbounded_warned: set[tuple[str, str]] = set()
    for use in uses:
        s = workers[use.task.worker].settings
        values = [s[k] for k in _SETTINGS]
        unbounded = unbounded_map(root, use.task.worker)
        if unbounded is not None:
            name, node, path = unbounded
            if (path, use.task.worker) not in unbounded_warned:
                unbounded_warned.add((path, use.task.worker))
                r.warning(
                    *value_at(node, path, "MaxConcurrency"),
                    f"Map {name!r} has no MaxConcurrency (or 0: no limit), so each of up to "
                    f"{limit} executions (the semaphore limit) can queue any number of messages "
                    f"for worker {use.task.worker!r} at once: the queue wait is unbounded, and "
                    "the HeartbeatSeconds and TimeoutSeconds of its Worker tasks count from "
                    "when the message is queued",
                    f"set MaxConcurrency on {name!r}: the generator then checks the worst-case "
                    "queue wait",
                )
            continue
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
        # The first heartbeat comes when a worker reads the message; the next a third of
        # HeartbeatSeconds later must still be in time (worker_tasks.py, the same rule).
        if heartbeat is not None and 2 * heartbeat <= 3 * wait:
            r.warning(
                *value_at(use.node, use.path, "HeartbeatSeconds"),
                f"HeartbeatSeconds {heartbeat} is not above 1.5 x the worst-case queue wait "
                f"({wait} s; the worker's first heartbeat can come that late, and one that "
                f"fails must leave a third of HeartbeatSeconds for the next): {why}",
                f"raise HeartbeatSeconds above {3 * wait // 2}, or {other}",
            )
        needed = wait + timeout
        if use.task.timeout_seconds < needed:
            r.warning(
                *value_at(use.node, use.path, "TimeoutSeconds"),
                f"TimeoutSeconds {use.task.timeout_seconds} is shorter than the worst-case "
                f"queue wait plus one run ({wait} + {timeout} = {needed} s): {why}",
                f"set TimeoutSeconds to at least {needed}, or {other}",
            )
