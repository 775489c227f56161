"""Stage 2a: the stepqueue extensions of a spec (name, workers, concurrency) and its top level."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generator.limits import (
    ASL_SECONDS_MAX,
    HOLDER_MAX_BYTES,
    MAX_WAIT_MAX,
    SEMAPHORE_LIMIT_MAX,
    SEMAPHORE_NAME,
    WORKER_FIELDS,
    WORKER_NAME,
    WORKFLOW_NAME,
)
from generator.loader import Node
from generator.report import Reporter, join

TOP_LEVEL = {
    "name",
    "concurrency",
    "workers",
    "Comment",
    "StartAt",
    "States",
    "TimeoutSeconds",
    "Version",
    "QueryLanguage",
}
WORKER_KEYS = {"handler", *WORKER_FIELDS}
CONCURRENCY_KEYS = {"limit", "semaphore", "max_wait_seconds"}
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


@dataclass(slots=True)
class SpecFacts:
    """What later checks need from the stepqueue part of one spec."""

    name: str | None = None
    semaphore: str | None = None
    semaphore_node: Node | None = None
    limit: int | None = None
    has_concurrency: bool = False
    workers: dict[str, Node] = field(default_factory=dict)  # name -> its mapping node
    handlers: dict[str, tuple[str, Node]] = field(default_factory=dict)  # worker -> (handler, node)


def check_top(r: Reporter, root: Node) -> SpecFacts | None:
    facts = SpecFacts()
    if not r.is_map(root, "", "a spec"):
        return None
    r.keys(root, "", TOP_LEVEL, ("name", "StartAt", "States"), what="the spec")
    if (v := root.get("name")) is not None:
        name = r.string(v, "name", "name")
        if name is not None and not re.match(WORKFLOW_NAME, name):
            r.error(
                v,
                "name",
                f"workflow name {name!r} is not valid",
                "use 1-30 characters: a lowercase letter, then lowercase letters, digits or '-'",
            )
        elif name is not None:
            facts.name = name
    if (v := root.get("TimeoutSeconds")) is not None:
        r.integer(v, "TimeoutSeconds", "TimeoutSeconds", 1, ASL_SECONDS_MAX)
    if (v := root.get("Version")) is not None:
        r.choice(v, "Version", "Version", {"1.0"})
    if (v := root.get("QueryLanguage")) is not None:
        r.choice(v, "QueryLanguage", "QueryLanguage", {"JSONPath"})
    if (v := root.get("Comment")) is not None:
        r.string(v, "Comment", "Comment", non_empty=False)
    if (v := root.get("workers")) is not None:
        check_workers(r, v, facts)
    if (v := root.get("concurrency")) is not None:
        check_concurrency(r, v, facts)
    return facts


def check_workers(r: Reporter, node: Node, facts: SpecFacts) -> None:
    if not r.is_map(node, "workers", "workers"):
        return
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
        facts.workers[name] = worker
        r.keys(worker, path, WORKER_KEYS, ("handler",), what=f"worker {name!r}")
        if (h := worker.get("handler")) is not None:
            handler = r.string(h, join(path, "handler"), "handler")
            if handler is not None and not _HANDLER.match(handler):
                r.error(
                    h,
                    join(path, "handler"),
                    f"handler {handler!r} is not a dotted module.function name",
                    "write e.g. examples.orders.enrich (lambda_src/examples/orders.py, function "
                    "enrich)",
                )
            elif handler is not None:
                facts.handlers[name] = (handler, h)
        for key, (lo, hi, _default, why) in WORKER_FIELDS.items():
            if (v := worker.get(key)) is not None:
                r.integer(v, join(path, key), key, lo, hi, why)


def check_concurrency(r: Reporter, node: Node, facts: SpecFacts) -> None:
    if not r.is_map(node, "concurrency", "concurrency"):
        return
    facts.has_concurrency = True
    r.keys(node, "concurrency", CONCURRENCY_KEYS, ("limit",), what="concurrency")
    if (v := node.get("limit")) is not None:
        why = f"all holders must fit in one 400 KB DynamoDB item, {HOLDER_MAX_BYTES} bytes each"
        facts.limit = r.integer(v, "concurrency.limit", "limit", 1, SEMAPHORE_LIMIT_MAX, why)
    if (v := node.get("max_wait_seconds")) is not None:
        r.integer(v, "concurrency.max_wait_seconds", "max_wait_seconds", 1, MAX_WAIT_MAX)
    if (v := node.get("semaphore")) is not None:
        sem = r.string(v, "concurrency.semaphore", "semaphore")
        if sem is not None and not re.match(SEMAPHORE_NAME, sem):
            r.error(
                v,
                "concurrency.semaphore",
                f"semaphore name {sem!r} is not valid",
                "use 1-30 characters: a lowercase letter, then lowercase letters, digits or '-'",
            )
        elif sem is not None:
            facts.semaphore, facts.semaphore_node = sem, v
    elif facts.name is not None:
        facts.semaphore, facts.semaphore_node = facts.name, node
