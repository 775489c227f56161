"""The walk over every scope of a state machine, dispatching each state to its checks."""

from __future__ import annotations

from collections.abc import Callable

from generator.asl import choice, fields, graph, retry_catch, states
from generator.loader import Node
from generator.report import Reporter, join
from generator.vocabulary import FLOW, TERMINAL

# (state name, its node, its path, TimeoutSeconds, HeartbeatSeconds, inside an EXPRESS Map):
# called for each Task with `Worker:`, which the project's own rules check instead of Resource.
WorkerTaskHook = Callable[[str, Node, str, int | None, int | None, bool], None]


def check_machine(r: Reporter, root: Node, *, semaphore: bool, worker_task: WorkerTaskHook) -> None:
    """Every ASL rule for the spec `root`; `semaphore`: the workflow will be wrapped in one."""
    _Walker(r, semaphore, worker_task).scope(root, "", express=False, top=True)


class _Walker:
    def __init__(self, r: Reporter, semaphore: bool, worker_task: WorkerTaskHook) -> None:
        self.r = r
        self.semaphore = semaphore
        self.worker_task = worker_task
        self.names = graph.Names()

    def scope(self, node: Node, path: str, *, express: bool, top: bool = False) -> None:
        r = self.r
        states_node = node.get("States")
        if states_node is None or not r.is_map(states_node, join(path, "States"), "States"):
            if states_node is None and not top:
                r.error(node, path, "missing States", "add States: with at least one state")
            return
        if not states_node.mapping:
            r.error(states_node, join(path, "States"), "States is empty", "add at least one state")
            return
        start = graph.start_at(r, node, path, states_node)
        if node.get("StartAt") is None and not top:
            r.error(node, path, "missing StartAt", "add StartAt: <first state>")
        for name, state in states_node.mapping.items():
            spath = join(join(path, "States"), name)
            self.state(name, state, spath, states_node, express=express, top=top)
        if start is not None:
            graph.reachability(r, start, states_node, path)

    def state(
        self, name: str, node: Node, path: str, scope: Node, *, express: bool, top: bool
    ) -> None:
        r = self.r
        key = scope.key_node(name)
        self.names.check(r, key, name, path)
        if not r.is_map(node, path, f"state {name!r}"):
            return
        kind = fields.state_type(r, node, key, name, path)
        if kind is None:
            return
        released = top and self.semaphore and kind in TERMINAL
        graph.name_length(r, key, name, path, released)
        fields.check(r, node, path, kind)
        if kind in FLOW:
            graph.transition(r, node, path, scope)
        retry_catch.check(r, node, path, scope)
        nested: list[states.Scope] = []
        if kind == "Task":
            timeout, heartbeat = states.task(r, node, path)
            if "Worker" in node.mapping:
                self.worker_task(name, node, path, timeout, heartbeat, express)
            else:
                states.resource(r, node, path)
        elif kind == "Choice":
            choice.check(r, node, path, scope)
        elif kind == "Wait":
            states.wait(r, node, path)
        elif kind == "Fail":
            states.fail(r, node, path)
        elif kind == "Parallel":
            nested = states.parallel(r, node, path, express)
        elif kind == "Map":
            nested = states.map_(r, node, path, express)
        for inner in nested:
            self.scope(inner.node, inner.path, express=inner.express)
