"""Stage 2b: the ASL part of a spec (StartAt, States and everything nested in them).

Checks each state's shape by type, every path expression, Retry/Catch/Choice rules, and the
graph of every scope (top level, each Parallel branch, each Map processor): StartAt and every
Next exist in the same scope, every state is reachable, a scope can terminate. State names
must be unique across the whole machine, as the ASL specification requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator import jsonpath
from generator.limits import ASL_SECONDS_MAX, STATE_NAME_MAX, TASK_TIMEOUT_DEFAULT
from generator.loader import Node
from generator.report import Reporter, did_you_mean, join

RESERVED_PREFIX = "StepQueue:"

_COMMON = {"Type", "Comment"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End", "Assign"}
_FALLIBLE = {"Parameters", "ResultSelector", "ResultPath", "Retry", "Catch"}
FIELDS: dict[str, set[str]] = {
    "Pass": _COMMON | _IO | _FLOW | {"Parameters", "Result", "ResultPath"},
    "Task": _COMMON
    | _IO
    | _FLOW
    | _FALLIBLE
    | {
        "Resource",
        "Worker",
        "TimeoutSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSeconds",
        "HeartbeatSecondsPath",
        "Credentials",
    },
    "Choice": _COMMON | _IO | {"Choices", "Default", "Assign"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _FALLIBLE | {"Branches"},
    "Map": _COMMON
    | _IO
    | _FLOW
    | _FALLIBLE
    | {
        "ItemProcessor",
        "Iterator",
        "ItemsPath",
        "ItemSelector",
        "MaxConcurrency",
        "MaxConcurrencyPath",
        "ItemReader",
        "ItemBatcher",
        "ResultWriter",
        "Label",
        "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCount",
        "ToleratedFailureCountPath",
    },
}
TERMINAL_TYPES = {"Succeed", "Fail"}

_STRING_OPS = {
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
}
_NUMERIC_OPS = {
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
}
_TIMESTAMP_OPS = {
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
}
_TYPE_TESTS = {"IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"}
_VALUE_OPS = _STRING_OPS | _NUMERIC_OPS | _TIMESTAMP_OPS | {"BooleanEquals"}
_PATH_OPS = {op + "Path" for op in _VALUE_OPS}
COMPARISONS = _VALUE_OPS | _PATH_OPS | _TYPE_TESTS | {"StringMatches"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(slots=True)
class WorkerUse:
    """A `Worker:` task, kept for the cross-field rules that need the worker's settings."""

    node: Node
    path: str
    worker: str
    timeout_seconds: int
    heartbeat_seconds: int | None
    express: bool  # inside an EXPRESS Map: no .waitForTaskToken there


@dataclass(slots=True)
class _Scope:
    path: str
    states: Node
    express: bool


class AslValidator:
    def __init__(self, reporter: Reporter, workers: set[str], semaphore: bool) -> None:
        self.r = reporter
        self.workers = workers
        self.semaphore = semaphore
        self.worker_uses: list[WorkerUse] = []
        self._names: dict[str, str] = {}  # state name -> path of its first definition

    # -- scopes -----------------------------------------------------------------------------

    def machine(self, root: Node) -> None:
        self.scope(root, "", express=False, top=True)

    def scope(self, node: Node, path: str, *, express: bool, top: bool = False) -> None:
        start = node.get("StartAt")
        states = node.get("States")
        if states is None or not self.r.is_map(states, join(path, "States"), "States"):
            if states is None and not top:
                self.r.error(node, path, "missing States", "add States: with at least one state")
            return
        if not states.mapping:
            self.r.error(states, join(path, "States"), "States is empty", "add at least one state")
            return
        start_name: str | None = None
        if start is not None:
            start_name = self.r.string(start, join(path, "StartAt"), "StartAt")
            if start_name is not None and start_name not in states.mapping:
                self.r.error(
                    start,
                    join(path, "StartAt"),
                    f"StartAt names {start_name!r}, which is not a state in this scope",
                    did_you_mean(start_name, states.mapping)
                    or f"use one of: {', '.join(states.mapping)}",
                )
                start_name = None
        elif not top:
            self.r.error(node, path, "missing StartAt", "add StartAt: <first state>")
        for name, state in states.mapping.items():
            self.state(
                name, state, join(join(path, "States"), name), _Scope(path, states, express), top
            )
        if start_name is not None:
            self.graph(start_name, states, path)

    def graph(self, start: str, states: Node, path: str) -> None:
        seen = {start}
        todo = [start]
        while todo:
            for target in _targets(states.mapping[todo.pop()]):
                if target in states.mapping and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states.mapping:
            if name not in seen:
                self.r.error(
                    states.key_node(name),
                    join(join(path, "States"), name),
                    f"state {name!r} is unreachable from StartAt {start!r}",
                    "reference it with Next, Default or a Catch, or remove it",
                )
        # A broken Next or a malformed End is already reported; an extra "never ends" would be
        # noise about the same mistake.
        broken = any(
            t not in states.mapping or _dangling(states.mapping[n])
            for n in seen
            for t in [*_targets(states.mapping[n]), n]
        )
        if not broken and not any(_terminates(states.mapping[n]) for n in seen):
            self.r.error(
                states,
                join(path, "States"),
                "no reachable state ends the workflow",
                "add End: true, a Succeed or a Fail state",
            )

    # -- states -----------------------------------------------------------------------------

    def state(self, name: str, node: Node, path: str, scope: _Scope, top: bool) -> None:
        key = scope.states.key_node(name)
        if name in self._names:
            self.r.error(
                key,
                path,
                f"state name {name!r} is already used at {self._names[name]}",
                "state names must be unique across the whole state machine; rename one",
            )
        else:
            self._names[name] = path
        if name.startswith(RESERVED_PREFIX):
            self.r.error(
                key,
                path,
                f"state names starting with {RESERVED_PREFIX!r} are reserved for generated states",
                "rename the state",
            )
        limit = STATE_NAME_MAX
        if not self.r.is_map(node, path, f"state {name!r}"):
            return
        kind_node = node.get("Type")
        if kind_node is None:
            self.r.error(
                key,
                path,
                f"state {name!r} has no Type",
                f"add Type: one of {', '.join(sorted(FIELDS))}",
            )
            return
        kind = self.r.choice(kind_node, join(path, "Type"), "Type", FIELDS)
        if kind is None:
            return
        if top and self.semaphore and kind in TERMINAL_TYPES:
            # Its release state is named "<prefix>Release:<name>" and must fit in 80 characters.
            limit = STATE_NAME_MAX - len(RESERVED_PREFIX + "Release:")
        if len(name) > limit:
            self.r.error(
                key,
                path,
                f"state name is {len(name)} characters, more than {limit}",
                f"shorten it to at most {limit} characters",
            )
        self.r.keys(node, path, FIELDS[kind], what=f"a {kind} state")
        self.common(node, path, kind, scope)
        getattr(self, f"_{kind.lower()}")(node, path, scope)

    def common(self, node: Node, path: str, kind: str, scope: _Scope) -> None:
        for field in ("InputPath", "OutputPath"):
            if (v := node.get(field)) is not None:
                self.path_value(v, join(path, field), field, nullable=True)
        if (v := node.get("ResultPath")) is not None:
            self.path_value(
                v, join(path, "ResultPath"), "ResultPath", nullable=True, reference=True
            )
        for field in ("Parameters", "ResultSelector", "ItemSelector", "Assign"):
            if (v := node.get(field)) is not None:
                self.payload(v, join(path, field), field)
        if (v := node.get("Comment")) is not None:
            self.r.string(v, join(path, "Comment"), "Comment", non_empty=False)
        if kind in ("Pass", "Task", "Wait", "Parallel", "Map"):
            self.transition(node, path, scope)
        if (v := node.get("Retry")) is not None and self.r.is_seq(v, join(path, "Retry"), "Retry"):
            for i, item in enumerate(v.items):
                self.retrier(item, join(join(path, "Retry"), i), last=i == len(v.items) - 1)
        if (v := node.get("Catch")) is not None and self.r.is_seq(v, join(path, "Catch"), "Catch"):
            for i, item in enumerate(v.items):
                self.catcher(item, join(join(path, "Catch"), i), scope, last=i == len(v.items) - 1)

    def transition(self, node: Node, path: str, scope: _Scope) -> None:
        nxt, end = node.get("Next"), node.get("End")
        if nxt is not None and end is not None:
            self.r.error(
                node.key_node("End"),
                join(path, "End"),
                "a state cannot have both Next and End",
                "keep Next to continue, or End: true to finish",
            )
        elif nxt is None and end is None:
            self.r.error(
                node, path, "the state has neither Next nor End", "add Next: <state> or End: true"
            )
        if nxt is not None:
            self.target(nxt, join(path, "Next"), scope)
        if end is not None and self.r.boolean(end, join(path, "End"), "End") is False:
            self.r.error(
                end,
                join(path, "End"),
                "End must be true when present",
                "write End: true, or remove End and add Next",
            )

    def target(self, node: Node, path: str, scope: _Scope) -> None:
        name = self.r.string(node, path, path.rsplit(".", 1)[-1])
        if name is not None and name not in scope.states.mapping:
            hint = did_you_mean(name, scope.states.mapping)
            self.r.error(
                node,
                path,
                f"{name!r} is not a state in this scope",
                hint or f"use one of: {', '.join(scope.states.mapping)}",
            )

    def _pass(self, node: Node, path: str, scope: _Scope) -> None:
        pass  # Result and Parameters are free-form JSON, checked by `common`

    def _succeed(self, node: Node, path: str, scope: _Scope) -> None:
        pass

    def _task(self, node: Node, path: str, scope: _Scope) -> None:
        resource, worker = node.get("Resource"), node.get("Worker")
        timeout = self.seconds(node, path, "TimeoutSeconds")
        heartbeat = self.seconds(node, path, "HeartbeatSeconds")
        # A worker task gets TimeoutSeconds 1800 when the spec leaves it out: compare with that.
        limit = timeout or (TASK_TIMEOUT_DEFAULT if worker is not None else None)
        if limit is not None and heartbeat is not None and heartbeat >= limit:
            shown = "TimeoutSeconds" if timeout else "the default TimeoutSeconds"
            self.r.error(
                node.get("HeartbeatSeconds") or node,
                join(path, "HeartbeatSeconds"),
                f"HeartbeatSeconds ({heartbeat}) must be less than {shown} ({limit})",
                "lower HeartbeatSeconds or raise TimeoutSeconds",
            )
        for field in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if (v := node.get(field)) is not None:
                self.path_value(v, join(path, field), field)
        if resource is not None and worker is not None:
            self.r.error(
                node.key_node("Worker"),
                join(path, "Worker"),
                "a Task has either Resource or Worker, not both",
                "remove Resource: Worker expands to the SQS integration",
            )
            return
        if resource is None and worker is None:
            self.r.error(
                node,
                path,
                "a Task needs Resource or Worker",
                "add Worker: <a worker from workers:> or Resource: <an ARN>",
            )
            return
        if resource is not None:
            arn = self.r.string(resource, join(path, "Resource"), "Resource")
            if arn is not None and not arn.startswith("arn:"):
                self.r.error(
                    resource,
                    join(path, "Resource"),
                    f"Resource must be an ARN, got {arn!r}",
                    "write arn:aws:states:::... or a Lambda ARN, or use Worker:",
                )
            return
        assert worker is not None
        for field in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
            if node.get(field) is not None:
                self.r.error(
                    node.key_node(field),
                    join(path, field),
                    f"{field} cannot be checked against the worker's settings",
                    f"use {field.removesuffix('Path')} with a number",
                )
        name = self.r.string(worker, join(path, "Worker"), "Worker")
        if name is None:
            return
        if name not in self.workers:
            hint = did_you_mean(name, self.workers)
            known = ", ".join(sorted(self.workers)) or "none defined"
            self.r.error(
                worker,
                join(path, "Worker"),
                f"unknown worker {name!r}",
                hint or f"define it under workers: (known: {known})",
            )
            return
        self.worker_uses.append(
            WorkerUse(node, path, name, timeout or TASK_TIMEOUT_DEFAULT, heartbeat, scope.express)
        )

    def seconds(self, node: Node, path: str, field: str) -> int | None:
        v = node.get(field)
        return (
            None if v is None else self.r.integer(v, join(path, field), field, 1, ASL_SECONDS_MAX)
        )

    def _choice(self, node: Node, path: str, scope: _Scope) -> None:
        choices = node.get("Choices")
        if choices is None:
            self.r.error(
                node, path, "a Choice state needs Choices", "add Choices: with at least one rule"
            )
        elif self.r.is_seq(choices, join(path, "Choices"), "Choices"):
            for i, rule in enumerate(choices.items):
                self.rule(rule, join(join(path, "Choices"), i), scope, top=True)
        if (v := node.get("Default")) is not None:
            self.target(v, join(path, "Default"), scope)

    def rule(self, node: Node, path: str, scope: _Scope, top: bool) -> None:
        if not self.r.is_map(node, path, "a Choice rule"):
            return
        allowed = (
            COMPARISONS
            | {"Variable", "And", "Or", "Not", "Comment"}
            | ({"Next", "Assign"} if top else set())
        )
        what = (
            "a Choice rule" if top else "a nested Choice rule (Next belongs on the top-level rule)"
        )
        self.r.keys(node, path, allowed, what=what)
        if top:
            if (v := node.get("Assign")) is not None:
                self.payload(v, join(path, "Assign"), "Assign")
            if (nxt := node.get("Next")) is None:
                self.r.error(node, path, "a top-level Choice rule needs Next", "add Next: <state>")
            else:
                self.target(nxt, join(path, "Next"), scope)
        ops = [k for k in node.mapping if k in COMPARISONS or k in ("And", "Or", "Not")]
        if len(ops) != 1:
            found = ", ".join(ops) or "none"
            self.r.error(
                node,
                path,
                f"a Choice rule needs exactly one comparison or And/Or/Not (found: {found})",
                "split it into separate rules or combine them with And",
            )
            return
        op = ops[0]
        value = node.mapping[op]
        vpath = join(path, op)
        if op in ("And", "Or"):
            if self.r.is_seq(value, vpath, op):
                for i, sub in enumerate(value.items):
                    self.rule(sub, join(vpath, i), scope, top=False)
            return
        if op == "Not":
            self.rule(value, vpath, scope, top=False)
            return
        variable = node.get("Variable")
        if variable is None:
            self.r.error(node, path, f"{op} needs a Variable", "add Variable: $.field")
        else:
            self.path_value(variable, join(path, "Variable"), "Variable")
        if op in _PATH_OPS:
            self.path_value(value, vpath, op)
        elif op in _STRING_OPS or op == "StringMatches":
            self.r.string(value, vpath, op, non_empty=False)
        elif op in _NUMERIC_OPS:
            self.r.number(value, vpath, op, -1e300, 1e300)
        elif op in _TIMESTAMP_OPS:
            ts = self.r.string(value, vpath, op)
            if ts is not None and not _TIMESTAMP.match(ts):
                self.r.error(
                    value,
                    vpath,
                    f"{op} needs an RFC 3339 timestamp, got {ts!r}",
                    "write e.g. '2026-01-31T12:00:00Z' (quoted)",
                )
        else:  # BooleanEquals and the type tests
            self.r.boolean(value, vpath, op)

    def _wait(self, node: Node, path: str, scope: _Scope) -> None:
        fields = [
            f for f in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if f in node.mapping
        ]
        if len(fields) != 1:
            self.r.error(
                node,
                path,
                "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, "
                f"TimestampPath (found: {', '.join(fields) or 'none'})",
                "keep exactly one",
            )
            return
        field = fields[0]
        value = node.mapping[field]
        fpath = join(path, field)
        if field == "Seconds":
            self.r.integer(value, fpath, field, 0, ASL_SECONDS_MAX)
        elif field == "Timestamp":
            ts = self.r.string(value, fpath, field)
            if ts is not None and not _TIMESTAMP.match(ts):
                self.r.error(
                    value,
                    fpath,
                    f"Timestamp must be RFC 3339, got {ts!r}",
                    "write e.g. '2026-01-31T12:00:00Z' (quoted)",
                )
        else:
            self.path_value(value, fpath, field)

    def _fail(self, node: Node, path: str, scope: _Scope) -> None:
        for plain, dynamic in (("Error", "ErrorPath"), ("Cause", "CausePath")):
            if plain in node.mapping and dynamic in node.mapping:
                self.r.error(
                    node.key_node(dynamic),
                    join(path, dynamic),
                    f"{plain} and {dynamic} are mutually exclusive",
                    f"keep {plain} or {dynamic}",
                )
            if (v := node.get(plain)) is not None:
                self.r.string(v, join(path, plain), plain, non_empty=False)
            if (v := node.get(dynamic)) is not None:
                self.dynamic(v, join(path, dynamic), dynamic)

    def _parallel(self, node: Node, path: str, scope: _Scope) -> None:
        branches = node.get("Branches")
        if branches is None:
            self.r.error(
                node,
                path,
                "a Parallel state needs Branches",
                "add Branches: with at least one branch",
            )
            return
        if not self.r.is_seq(branches, join(path, "Branches"), "Branches"):
            return
        for i, branch in enumerate(branches.items):
            bpath = join(join(path, "Branches"), i)
            if self.r.is_map(branch, bpath, "a branch"):
                self.r.keys(
                    branch,
                    bpath,
                    {"StartAt", "States", "Comment"},
                    ("StartAt", "States"),
                    what="a branch",
                )
                self.scope(branch, bpath, express=scope.express)

    def _map(self, node: Node, path: str, scope: _Scope) -> None:
        processor, iterator = node.get("ItemProcessor"), node.get("Iterator")
        if processor is not None and iterator is not None:
            self.r.error(
                node.key_node("Iterator"),
                join(path, "Iterator"),
                "a Map has ItemProcessor or the legacy Iterator, not both",
                "keep ItemProcessor",
            )
            return
        if processor is None and iterator is None:
            self.r.error(
                node,
                path,
                "a Map state needs ItemProcessor",
                "add ItemProcessor: {StartAt: ..., States: ...}",
            )
            return
        field = "ItemProcessor" if processor is not None else "Iterator"
        body = processor if processor is not None else iterator
        assert body is not None
        bpath = join(path, field)
        if (v := node.get("ItemsPath")) is not None:
            self.path_value(v, join(path, "ItemsPath"), "ItemsPath")
        if (v := node.get("MaxConcurrency")) is not None:
            self.r.integer(v, join(path, "MaxConcurrency"), "MaxConcurrency", 0, ASL_SECONDS_MAX)
        for f in (
            "MaxConcurrencyPath",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCountPath",
        ):
            if (v := node.get(f)) is not None:
                self.path_value(v, join(path, f), f)
        if (v := node.get("ToleratedFailurePercentage")) is not None:
            self.r.number(
                v, join(path, "ToleratedFailurePercentage"), "ToleratedFailurePercentage", 0, 100
            )
        if (v := node.get("ToleratedFailureCount")) is not None:
            self.r.integer(
                v, join(path, "ToleratedFailureCount"), "ToleratedFailureCount", 0, ASL_SECONDS_MAX
            )
        if not self.r.is_map(body, bpath, field):
            return
        allowed = {"StartAt", "States", "Comment"} | (
            {"ProcessorConfig"} if field == "ItemProcessor" else set()
        )
        self.r.keys(body, bpath, allowed, ("StartAt", "States"), what=field)
        express = scope.express
        if (config := body.get("ProcessorConfig")) is not None and self.r.is_map(
            config, join(bpath, "ProcessorConfig"), "ProcessorConfig"
        ):
            cpath = join(bpath, "ProcessorConfig")
            self.r.keys(config, cpath, {"Mode", "ExecutionType"}, what="ProcessorConfig")
            if (v := config.get("Mode")) is not None:
                self.r.choice(v, join(cpath, "Mode"), "Mode", {"INLINE", "DISTRIBUTED"})
            if (v := config.get("ExecutionType")) is not None:
                express = (
                    self.r.choice(
                        v, join(cpath, "ExecutionType"), "ExecutionType", {"STANDARD", "EXPRESS"}
                    )
                    == "EXPRESS"
                )
        self.scope(body, bpath, express=express)

    # -- Retry / Catch ----------------------------------------------------------------------

    def errors(self, node: Node, path: str, last: bool, what: str) -> None:
        equals = node.get("ErrorEquals")
        if equals is None:
            self.r.error(
                node,
                path,
                f"a {what} needs ErrorEquals",
                "add ErrorEquals: [States.ALL] or specific error names",
            )
            return
        epath = join(path, "ErrorEquals")
        if not self.r.is_seq(equals, epath, "ErrorEquals"):
            return
        names = [
            self.r.string(e, join(epath, i), "an error name") for i, e in enumerate(equals.items)
        ]
        if "States.ALL" in names and (len(names) > 1 or not last):
            self.r.error(
                equals,
                epath,
                f"States.ALL must be alone in ErrorEquals and in the last {what}",
                f"move it to a last {what} of its own",
            )

    def retrier(self, node: Node, path: str, last: bool) -> None:
        if not self.r.is_map(node, path, "a retrier"):
            return
        self.r.keys(
            node,
            path,
            {
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            },
            what="a retrier",
        )
        self.errors(node, path, last, "retrier")
        for field, lo in (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1)):
            if (v := node.get(field)) is not None:
                self.r.integer(v, join(path, field), field, lo, ASL_SECONDS_MAX)
        if (v := node.get("BackoffRate")) is not None:
            self.r.number(v, join(path, "BackoffRate"), "BackoffRate", 1.0, 1e9)
        if (v := node.get("JitterStrategy")) is not None:
            self.r.choice(v, join(path, "JitterStrategy"), "JitterStrategy", {"FULL", "NONE"})

    def catcher(self, node: Node, path: str, scope: _Scope, last: bool) -> None:
        if not self.r.is_map(node, path, "a catcher"):
            return
        self.r.keys(
            node,
            path,
            {"ErrorEquals", "Next", "ResultPath", "Comment", "Assign"},
            ("Next",),
            what="a catcher",
        )
        self.errors(node, path, last, "catcher")
        if (v := node.get("Next")) is not None:
            self.target(v, join(path, "Next"), scope)
        if (v := node.get("ResultPath")) is not None:
            self.path_value(
                v, join(path, "ResultPath"), "ResultPath", nullable=True, reference=True
            )
        if (v := node.get("Assign")) is not None:
            self.payload(v, join(path, "Assign"), "Assign")

    # -- values -----------------------------------------------------------------------------

    def path_value(
        self, node: Node, path: str, what: str, *, nullable: bool = False, reference: bool = False
    ) -> None:
        if nullable and node.kind == "scalar" and node.scalar is None:
            return
        text = self.r.string(node, path, what)
        if text is None:
            return
        problem = jsonpath.check_path(text, reference=reference, context=not reference)
        if problem:
            kind = "reference path" if reference else "JSONPath"
            self.r.error(
                node,
                path,
                f"{what} is not a valid {kind}: {problem} in {text!r}",
                "write a path such as $.order.items[0]"
                + (" (one node, no wildcards or filters)" if reference else ""),
            )

    def dynamic(self, node: Node, path: str, what: str) -> None:
        text = self.r.string(node, path, what)
        if text is None:
            return
        problem = jsonpath.check_dynamic_value(text)
        if problem:
            self.r.error(
                node,
                path,
                f"{what} is not a valid path or intrinsic function: {problem} in {text!r}",
                "write $.field, $$.Execution.Id or States.Format('{}', $.x)",
            )

    def payload(self, node: Node, path: str, what: str) -> None:
        """Free-form JSON where keys ending in `.$` carry a path or intrinsic function."""
        if node.is_map:
            for key, value in node.mapping.items():
                if key.endswith(".$"):
                    self.dynamic(value, join(path, key), f"the value of {key!r}")
                else:
                    self.payload(value, join(path, key), what)
        elif node.is_seq:
            for i, value in enumerate(node.items):
                self.payload(value, join(path, i), what)


def _targets(state: Node) -> list[str]:
    """Names a state can transition to, ignoring malformed entries (reported elsewhere)."""
    if not state.is_map:
        return []
    found: list[Node] = []
    for field in ("Next", "Default"):
        if (v := state.get(field)) is not None:
            found.append(v)
    for field in ("Choices", "Catch"):
        if (v := state.get(field)) is not None and v.is_seq:
            found.extend(
                n for item in v.items if item.is_map and (n := item.get("Next")) is not None
            )
    return [n.scalar for n in found if isinstance(n.scalar, str)]


def _dangling(state: Node) -> bool:
    """End present but not true, or a flow state with neither Next nor End."""
    if "End" in state.mapping:
        return state.mapping["End"].scalar is not True
    kind = state.get("Type")
    flow = kind is not None and kind.scalar in ("Pass", "Task", "Wait", "Parallel", "Map")
    return flow and "Next" not in state.mapping


def _terminates(state: Node) -> bool:
    if not state.is_map:
        return True  # already reported; do not pile on
    kind = state.get("Type")
    if kind is not None and kind.scalar in TERMINAL_TYPES:
        return True
    end = state.get("End")
    return end is not None and end.scalar is True
