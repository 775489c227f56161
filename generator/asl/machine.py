"""The walk over every scope of a state machine, dispatching each state to its checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from generator.asl import choice, fields, graph, language, retry_catch, states
from generator.asl.jsonata import Expressions
from generator.loader import Node
from generator.report import Reporter, join
from generator.vocabulary import FLOW, JSONATA, TERMINAL

# (state name, its node, its path, TimeoutSeconds, HeartbeatSeconds, inside an EXPRESS Map,
# the state's language and scope): called for each Task with `Worker:`, which the project's own
# rules check instead of Resource.
WorkerTaskHook = Callable[[str, Node, str, int | None, int | None, bool, language.Language], None]


def check_machine(
    r: Reporter,
    root: Node,
    *,
    semaphore: bool,
    worker_task: WorkerTaskHook,
    source: Path | None = None,
) -> None:
    """Every ASL rule for the spec `root`; `semaphore`: the workflow will be wrapped in one;
    `source`: the spec file, for the columns of errors inside JSONata expressions."""
    walker = _Walker(r, semaphore, worker_task, language.top_language(root), source)
    walker.scope(root, "", express=False, top=True)


class _Walker:
    def __init__(
        self,
        r: Reporter,
        semaphore: bool,
        worker_task: WorkerTaskHook,
        top_language: str,
        source: Path | None,
    ) -> None:
        self.r = r
        self.semaphore = semaphore
        self.worker_task = worker_task
        self.names = graph.Names()
        self.top_language = top_language
        self.expressions = Expressions(r, source)
        self.variables: list[frozenset[str]] = [frozenset()]  # visible in each open scope

    def scope(
        self, node: Node, path: str, *, express: bool, top: bool = False, isolated: bool = False
    ) -> None:
        states_node = node.get("States")
        if states_node is not None and states_node.is_map:
            own = frozenset(language.assigned(states_node))
            self.variables.append(own if isolated else own | self.variables[-1])
        else:
            self.variables.append(self.variables[-1])
        try:
            self._scope(node, path, express=express, top=top)
        finally:
            self.variables.pop()

    def _scope(self, node: Node, path: str, *, express: bool, top: bool) -> None:
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
        chosen = language.state_language(r, node, path, self.top_language)
        lang = language.Language(chosen == JSONATA, self.expressions, self.variables[-1])
        fields.check(r, node, path, kind, lang)
        if kind in FLOW:
            graph.transition(r, node, path, scope)
        retry_catch.check(r, node, path, scope, lang)
        nested: list[states.Scope] = []
        if kind == "Task":
            timeout, heartbeat = states.task(r, node, path, lang)
            if "Worker" in node.mapping:
                self.worker_task(name, node, path, timeout, heartbeat, express, lang)
            else:
                states.resource(r, node, path, lang)
        elif kind == "Choice":
            choice.check(r, node, path, scope, lang)
        elif kind == "Wait":
            states.wait(r, node, path, lang)
        elif kind == "Fail":
            states.fail(r, node, path, lang)
        elif kind == "Parallel":
            nested = states.parallel(r, node, path, express)
        elif kind == "Map":
            nested = states.map_(r, node, path, express, lang)
        for inner in nested:
            self.scope(inner.node, inner.path, express=inner.express, isolated=inner.isolated)
