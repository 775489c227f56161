"""The `workers:` section: each worker's declaration, its settings with every default filled in
(here and nowhere else), and the rules between settings that no range expresses.

Those rules matter because a mismatch there does not fail at deploy time: it loses task tokens
or pushes messages to the DLQ weeks later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import jsonpath
from generator.asl.jsonata import CLOSE, OPEN, half_open, is_expression, syntax_error
from generator.loader import Node
from generator.model import Deployment, Worker
from generator.report import Reporter, join, value_at, whole_number
from generator.vocabulary import (
    BATCH_SIZE_WITHOUT_WINDOW,
    GROUP_BY_HASH,
    VISIBILITY_FACTOR,
    VISIBILITY_SLACK,
    WORKER_FIELDS,
    WORKER_KEYS,
    WORKER_NAME,
)
from generator.worker_deployment import deployment

_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_VISIBILITY = "visibility_timeout_seconds"


def minimum_visibility_timeout(timeout_seconds: int, batching_window_seconds: int) -> int:
    return VISIBILITY_FACTOR * timeout_seconds + batching_window_seconds


def default_visibility_timeout(timeout_seconds: int, batching_window_seconds: int) -> int:
    return minimum_visibility_timeout(timeout_seconds, batching_window_seconds) + VISIBILITY_SLACK


@dataclass(frozen=True, slots=True)
class GroupBy:
    """A worker's `group_by` (fair queues): the tenant key of each message it is sent."""

    text: str  # as written: a JSONPath ($.tenant) or a JSONata expression ({% ... %})
    node: Node
    jsonata: bool


@dataclass(slots=True)
class DeclaredWorker:
    """One entry of `workers:` while validating: where it is, and what it says."""

    name: str
    node: Node
    handler: str | None  # None when missing or malformed (already reported)
    handler_node: Node | None
    # Every setting, defaults filled in. A whole number outside its range is kept, so the
    # rules between settings still speak about what the user wrote; None = not a whole number.
    settings: dict[str, int | None]
    group_by: GroupBy | None = None  # None when absent or malformed (already reported)
    deployment: Deployment = field(default_factory=Deployment)

    def model(self) -> Worker:
        """The typed worker; only for a spec without errors, where every setting is valid."""
        assert self.handler is not None
        # reserved_concurrency alone may stay None: unset means nothing is reserved.
        assert all(v is not None for k, v in self.settings.items() if k != "reserved_concurrency")
        settings: dict[str, Any] = self.settings
        return Worker(name=self.name, handler=self.handler, deployment=self.deployment, **settings)


def declare(r: Reporter, node: Node, spec: Path | None = None) -> dict[str, DeclaredWorker]:
    """The workers of `workers:`, by name, with their shape and ranges checked; `spec` is the
    file, for paths relative to it (`requirements:`)."""
    declared: dict[str, DeclaredWorker] = {}
    if not r.is_map(node, "workers", "workers"):
        return declared
    for name, worker in node.mapping.items():
        path = join("workers", name)
        if not re.match(WORKER_NAME, name):
            r.error(
                node.key_node(name),
                path,
                f"worker name {name!r} is not valid",
                "use 1-30 characters: a lowercase letter, then lowercase letters, digits or '_' "
                "(no '-': it becomes a Terraform attribute name)",
            )
        if not r.is_map(worker, path, f"worker {name!r}"):
            continue
        r.keys(worker, path, WORKER_KEYS, ("handler",), what=f"worker {name!r}")
        handler, handler_node = _handler(r, worker, path)
        declared[name] = DeclaredWorker(
            name,
            worker,
            handler,
            handler_node,
            _settings(r, worker, path),
            _group_by(r, worker, path),
            deployment(r, worker, path, spec),
        )
    return declared


def _handler(r: Reporter, worker: Node, path: str) -> tuple[str | None, Node | None]:
    if (node := worker.get("handler")) is None:
        return None, None
    handler = r.string(node, join(path, "handler"), "handler")
    if handler is None:
        return None, None
    if not _HANDLER.match(handler):
        r.error(
            node,
            join(path, "handler"),
            f"handler {handler!r} is not a dotted module.function name",
            "write e.g. examples.orders.enrich (lambda_src/examples/orders.py, function enrich)",
        )
        return None, None
    return handler, node


_GROUP_BY_FIX = (
    "write a JSONPath into the task state's input, such as $.tenant (JSONPath states), or a "
    "JSONata expression such as '{% $states.input.tenant %}' (JSONata states)"
)


def _group_by(r: Reporter, worker: Node, path: str) -> GroupBy | None:
    """The shape of `group_by`. A JSONata expression's syntax and names are checked where a
    state reads it (the variables it may read are that state's); see `check_group_by_syntax`."""
    if (node := worker.get("group_by")) is None:
        return None
    path = join(path, "group_by")
    text = r.string(node, path, "group_by")
    if text is None:
        return None
    if is_expression(text):
        return GroupBy(text, node, jsonata=True)
    if half_open(text):
        r.error(
            node,
            path,
            "group_by has only one of the JSONata delimiters {% and %}",
            "write the whole expression as '{% expression %}', or a JSONPath such as $.tenant",
        )
        return None
    problem = None if text.startswith("$.") else "it must start with '$.' (the state's input)"
    problem = problem or jsonpath.check_path(text, reference=True, context=False)
    if problem:
        r.error(
            node,
            path,
            f"group_by {text!r} is not a JSONPath to one value: {problem}",
            _GROUP_BY_FIX,
        )
        return None
    return GroupBy(text, node, jsonata=False)


def check_group_by_syntax(r: Reporter, worker: DeclaredWorker) -> None:
    """The syntax of a JSONata group_by that no JSONata state reads (no state, no scope: the
    names an expression reads are checked where a state reads it)."""
    group_by = worker.group_by
    if group_by is None or not group_by.jsonata:
        return
    text = group_by.text
    start = text.index(OPEN) + len(OPEN)
    problem = syntax_error(text[start : text.rindex(CLOSE)])
    if problem is not None:
        message, offset = problem
        r.error(
            group_by.node,
            join(join("workers", worker.name), "group_by"),
            f"invalid JSONata: {message} (character {start + offset + 1} of the string)",
            "fix the expression (JSONata 2.0 syntax: https://docs.jsonata.org)",
        )


def message_group_id(group_by: str, jsonata: bool) -> str:
    """The MessageGroupId a Worker task sends: the hex digest of the tenant's text (SQS takes
    1..128 letters, digits and punctuation; a tenant may be a number, any Unicode, or long)."""
    if jsonata:
        body = group_by[group_by.index(OPEN) + len(OPEN) : group_by.rindex(CLOSE)]
        return f"{OPEN} $hash($string(({body.strip()})), '{GROUP_BY_HASH}') {CLOSE}"
    return f"States.Hash(States.Format('{{}}', {group_by}), '{GROUP_BY_HASH}')"


def _settings(r: Reporter, worker: Node, path: str) -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for key, (lo, hi, default, why) in WORKER_FIELDS.items():
        if (v := worker.get(key)) is None:
            values[key] = default
        else:
            r.integer(v, join(path, key), key, lo, hi, why)
            values[key] = whole_number(v)
    timeout, window = values["timeout_seconds"], values["batching_window_seconds"]
    if values[_VISIBILITY] is None and timeout is not None and window is not None:
        values[_VISIBILITY] = default_visibility_timeout(timeout, window)
    return values


def check_settings(r: Reporter, worker: DeclaredWorker) -> None:
    """Rules between one worker's settings."""
    s, path = worker.settings, join("workers", worker.name)
    timeout, window = s["timeout_seconds"], s["batching_window_seconds"]
    batch, visibility = s["batch_size"], s[_VISIBILITY]
    explicit = worker.node.get(_VISIBILITY)
    if (
        explicit is not None
        and timeout is not None
        and window is not None
        and visibility is not None
    ):
        minimum = minimum_visibility_timeout(timeout, window)
        if visibility < minimum:
            r.error(
                explicit,
                join(path, _VISIBILITY),
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
        r.error(
            *value_at(worker.node, path, "batch_size"),
            f"batch_size {batch} is above {BATCH_SIZE_WITHOUT_WINDOW}, which AWS accepts "
            "only with a batching window",
            "set batching_window_seconds to at least 1, or batch_size to at most 10",
        )
    reserved, maximum = s["reserved_concurrency"], s["max_concurrency"]
    if reserved is not None and maximum is not None and reserved < maximum:
        r.error(
            *value_at(worker.node, path, "reserved_concurrency"),
            f"reserved_concurrency {reserved} is below max_concurrency {maximum}: the event "
            "source would be throttled and messages would end in the DLQ",
            f"raise reserved_concurrency to at least {maximum}, or lower max_concurrency",
        )
