"""`Worker:` on a Task: the worker exists, and the Task's timing suits the worker's queue.

A Task state holds either an ASL `Resource` or a `Worker:`, which the expansion turns into
the SQS `.waitForTaskToken` integration (docs/contracts.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.asl.language import Language
from generator.loader import Node
from generator.model import WorkerTask
from generator.report import Reporter, did_you_mean, join, key_at, value_at
from generator.vocabulary import TASK_TIMEOUT_DEFAULT
from generator.workers import DeclaredWorker, check_group_by_syntax


@dataclass(frozen=True, slots=True)
class TaskUse:
    state: str
    node: Node
    path: str
    express: bool  # inside an EXPRESS Map: no .waitForTaskToken there
    task: WorkerTask


class WorkerTasks:
    """Collects the Worker tasks of one spec as the ASL walk meets them (`check_task` is its
    hook), then checks them against their workers (`check_uses`)."""

    def __init__(self, r: Reporter, workers: dict[str, DeclaredWorker]) -> None:
        self.r = r
        self.workers = workers
        self._uses: list[TaskUse] = []
        # (worker, the variables a state sees) whose JSONata group_by is checked: once each.
        self._group_by_checked: set[tuple[str, frozenset[str]]] = set()

    @property
    def uses(self) -> list[TaskUse]:
        """Every Worker task that names a declared worker, in the order of the walk."""
        return list(self._uses)

    def model(self) -> dict[str, WorkerTask]:
        return {use.state: use.task for use in self._uses}

    def check_task(
        self,
        state: str,
        node: Node,
        path: str,
        timeout: int | None,
        heartbeat: int | None,
        express: bool,
        lang: Language,
    ) -> None:
        r, jsonata = self.r, lang.jsonata
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            v = node.get(field)
            if jsonata and v is not None and isinstance(v.scalar, str):  # an expression
                r.error(
                    v,
                    join(path, field),
                    f"{field} of a Worker task cannot be an expression: it is checked against "
                    "the worker's settings",
                    f"write {field} as a number",
                )
                return
        if timeout is None:
            timeout = TASK_TIMEOUT_DEFAULT
            if heartbeat is not None and heartbeat >= timeout:
                r.error(
                    *value_at(node, path, "HeartbeatSeconds"),
                    f"HeartbeatSeconds ({heartbeat}) must be less than the default "
                    f"TimeoutSeconds ({timeout})",
                    "lower HeartbeatSeconds or raise TimeoutSeconds",
                )
        if node.get("Resource") is not None:
            r.error(
                *key_at(node, path, "Worker"),
                "a Task has either Resource or Worker, not both",
                "remove Resource: Worker expands to the SQS integration",
            )
            return
        for field in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if node.get(field) is not None:
                r.error(
                    *key_at(node, path, field),
                    f"{field} cannot be checked against the worker's settings",
                    f"use {field.removesuffix('Path')} with a number",
                )
        worker = node.mapping["Worker"]
        name = r.string(worker, join(path, "Worker"), "Worker")
        if name is None:
            return
        if name not in self.workers:
            known = ", ".join(sorted(self.workers)) or "none defined"
            r.error(
                worker,
                join(path, "Worker"),
                f"unknown worker {name!r}",
                did_you_mean(name, self.workers) or f"define it under workers: (known: {known})",
            )
            return
        group_by = self._group_by(state, node, path, self.workers[name], lang)
        task = WorkerTask(name, timeout, heartbeat, jsonata, group_by)
        self._uses.append(TaskUse(state, node, path, express, task))

    def _group_by(
        self, state: str, node: Node, path: str, worker: DeclaredWorker, lang: Language
    ) -> str | None:
        """The worker's group_by, when it is written in the state's language (one worker's
        group_by has one language: a JSONPath cannot be read in a JSONata state, nor the
        reverse, and the generator does not translate between them)."""
        group_by = worker.group_by
        if group_by is None:
            return None
        if group_by.jsonata != lang.jsonata:
            written, used = ("JSONata", "JSONPath") if group_by.jsonata else ("JSONPath", "JSONata")
            self.r.error(
                *key_at(node, path, "Worker"),
                f"worker {worker.name!r} groups its messages by {group_by.text!r}, written in "
                f"{written} (line {group_by.node.line}), but state {state!r} uses {used}",
                f"declare a second worker with the same handler and a group_by written in {used} "
                f"for the {used} states, or write state {state!r} in {written}",
            )
            return None
        key = (worker.name, lang.variables)
        if lang.jsonata and key not in self._group_by_checked:
            self._group_by_checked.add(key)
            place = lang.place(f"the group_by of worker {worker.name!r}")
            # Reported in the worker's group_by, naming the state whose scope it is read in.
            where = f"{join(join('workers', worker.name), 'group_by')}, read by {path}"
            lang.expressions.expression(group_by.node, where, place)
        return group_by.text

    def check_uses(self) -> None:
        r = self.r
        used = {u.task.worker for u in self._uses}
        read = {name for name, _ in self._group_by_checked}
        for name, worker in self.workers.items():
            if name not in read:  # no JSONata state reads its group_by: syntax at least
                check_group_by_syntax(r, worker)
            if name not in used:
                r.warning(
                    worker.node,
                    join("workers", name),
                    f"worker {name!r} is not used by any state",
                    "reference it with Worker: on a Task, or remove it",
                )
        for use in self._uses:
            self._check_use(use, self.workers[use.task.worker])

    def _check_use(self, use: TaskUse, worker: DeclaredWorker) -> None:
        r, task, s = self.r, use.task, worker.settings
        if use.express:
            r.error(
                *key_at(use.node, use.path, "Worker"),
                "a Worker task cannot run inside an EXPRESS Map: express executions do not "
                "support .waitForTaskToken",
                "use ExecutionType: STANDARD for this Map",
            )
        outlives = self._check_run_time(use, worker)
        receives, visibility = s["max_receive_count"], s["visibility_timeout_seconds"]
        if not outlives and receives is not None and visibility is not None:
            chain = receives * visibility
            if task.timeout_seconds < chain:
                r.warning(
                    *value_at(use.node, use.path, "TimeoutSeconds"),
                    f"TimeoutSeconds {task.timeout_seconds} is shorter than max_receive_count x "
                    f"visibility timeout = {receives} x {visibility} = {chain} s: the task token "
                    "can expire while SQS still redelivers the message",
                    f"set TimeoutSeconds to at least {chain}, or lower the worker's "
                    "max_receive_count or timeout_seconds",
                )
        if task.heartbeat_seconds is not None:
            self._check_heartbeat(use, task.heartbeat_seconds, worker)

    def _check_run_time(self, use: TaskUse, worker: DeclaredWorker) -> bool:
        """One run of the handler must fit in the time the task waits for it: otherwise the
        execution times out while the handler still works, and its result is thrown away.
        True when reported (the redelivery warning would then be about the same mistake)."""
        task, run_time = use.task, worker.settings["timeout_seconds"]
        if run_time is None or run_time <= task.timeout_seconds:
            return False
        written = use.node.get("TimeoutSeconds") is not None
        waits = (
            f"TimeoutSeconds {task.timeout_seconds}"
            if written
            else f"the default TimeoutSeconds {task.timeout_seconds} (none is written)"
        )
        self.r.error(
            *value_at(use.node, use.path, "TimeoutSeconds"),
            f"worker {task.worker!r} may run {run_time} s (its timeout_seconds) but state "
            f"{use.state!r} waits {waits}: the task would time out while the handler still runs",
            f"raise this state's TimeoutSeconds to at least {run_time} if the handler needs that "
            f"long, or lower timeout_seconds of worker {task.worker!r} to {task.timeout_seconds} "
            "or less",
        )
        return True

    def _check_heartbeat(self, use: TaskUse, heartbeat: int, worker: DeclaredWorker) -> None:
        """The heartbeat clock starts when the message is queued. The runtime's first
        heartbeat comes when the worker reads the message (up to delivery delay + batching
        window later), or a third of HeartbeatSeconds after queueing if that is later; then
        every third. Delay + window under two thirds of HeartbeatSeconds lets one heartbeat
        fail and the next still come in time (lambda_src/stepqueue_runtime/heartbeat.py)."""
        s = worker.settings
        delay, window = s["delay_seconds"] or 0, s["batching_window_seconds"] or 0
        wait = delay + window
        if heartbeat <= wait:
            self.r.error(
                *value_at(use.node, use.path, "HeartbeatSeconds"),
                f"HeartbeatSeconds {heartbeat} is not above the worker's "
                f"delivery delay + batching window ({wait} s): the heartbeat times "
                "out before the worker can even receive the message",
                f"raise HeartbeatSeconds above {wait}",
            )
        elif 2 * heartbeat <= 3 * wait:
            self.r.error(
                *value_at(use.node, use.path, "HeartbeatSeconds"),
                f"HeartbeatSeconds {heartbeat} is not above 1.5 x the worker's delivery delay + "
                f"batching window ({wait} s): its clock starts when the message is queued, the "
                f"worker's first heartbeat can come {wait} s later and the next a third of "
                "HeartbeatSeconds after that, so one failed heartbeat times the task out",
                f"raise HeartbeatSeconds above {3 * wait // 2}, or lower the worker's "
                "delay_seconds or batching_window_seconds",
            )
