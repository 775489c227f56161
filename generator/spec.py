"""The stepqueue part of a spec's top level: `name`, `concurrency:` and the top-level keys.

`workers:` has a module of its own (`workers`); the ASL part is the `asl` package's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.asl.jsonata import is_expression, syntax_error
from generator.intrinsics import check_dynamic_value
from generator.loader import Node
from generator.model import Admission, Concurrency
from generator.report import Reporter, key_at
from generator.semaphore import check_burst
from generator.vocabulary import (
    AGING_MAX_SECONDS,
    ASL_SECONDS_MAX,
    BURST_MAX,
    CONCURRENCY_KEYS,
    JSONATA,
    MAX_WAIT_DEFAULT,
    MAX_WAIT_MAX,
    PER_KEY_KEYS,
    QUERY_LANGUAGES,
    RATE_KEYS,
    RATE_MAX,
    RATE_MIN,
    RETIRED_POLLING,
    SEMAPHORE_NAME,
    TOP_LEVEL,
    WAITING_ROOM,
    WAITING_ROOM_LIMIT_MAX,
    WORKFLOW_NAME,
)
from generator.workers import DeclaredWorker, declare

# Both names end up in AWS resource names, which is why they are this strict.
_DASHED_NAME_FIX = "use 1-30 characters: a lowercase letter, then lowercase letters, digits or '-'"


@dataclass(slots=True)
class SpecFacts:
    """What the later checks, the checks across specs and the model need from one spec."""

    name: str | None = None
    workers: dict[str, DeclaredWorker] = field(default_factory=dict)
    has_concurrency: bool = False
    semaphore: str | None = None  # the default (the workflow name) filled in
    semaphore_node: Node | None = None
    limit: int | None = None
    max_wait_seconds: int | None = MAX_WAIT_DEFAULT
    admission: Admission = field(default_factory=Admission)
    admission_node: Node | None = None

    def concurrency(self) -> Concurrency | None:
        """The typed setting; only for a spec without errors."""
        if not self.has_concurrency:
            return None
        assert self.semaphore is not None and self.limit is not None
        assert self.max_wait_seconds is not None
        return Concurrency(self.semaphore, self.limit, self.max_wait_seconds, self.admission)


def check_top(r: Reporter, root: Node, source: Path | None = None) -> SpecFacts | None:
    facts = SpecFacts()
    if not r.is_map(root, "", "a spec"):
        return None
    r.keys(root, "", TOP_LEVEL, ("name", "StartAt", "States"), what="the spec")
    if (v := root.get("name")) is not None:
        facts.name = _name(r, v, "name", "workflow name", WORKFLOW_NAME)
    if (v := root.get("TimeoutSeconds")) is not None:
        r.integer(v, "TimeoutSeconds", "TimeoutSeconds", 1, ASL_SECONDS_MAX)
    if (v := root.get("Version")) is not None:
        r.choice(v, "Version", "Version", {"1.0"})
    if (v := root.get("QueryLanguage")) is not None:
        r.choice(v, "QueryLanguage", "QueryLanguage", QUERY_LANGUAGES)
    if (v := root.get("Comment")) is not None:
        r.string(v, "Comment", "Comment", non_empty=False)
    if (v := root.get("workers")) is not None:
        facts.workers = declare(r, v, source)
    if (v := root.get("concurrency")) is not None:
        language = root.get("QueryLanguage")
        jsonata = language is not None and language.scalar == JSONATA
        _concurrency(r, v, facts, jsonata)
    return facts


def _name(r: Reporter, node: Node, path: str, what: str, pattern: str) -> str | None:
    name = r.string(node, path, path.rsplit(".", 1)[-1])
    if name is not None and not re.match(pattern, name):
        r.error(node, path, f"{what} {name!r} is not valid", _DASHED_NAME_FIX)
        return None
    return name


def _concurrency(r: Reporter, node: Node, facts: SpecFacts, jsonata: bool) -> None:
    if not r.is_map(node, "concurrency", "concurrency"):
        return
    facts.has_concurrency = True
    # The global limit may be left out when a per-key limit is the point.
    required = () if "per_key" in node.mapping else ("limit",)
    # `concurrency: {key: $.tenant, limit: 3}` reads naturally but would make 3 the global
    # limit: the per-key limit is its own mapping, and the error says how to write it.
    if "key" in node.mapping:
        r.error(
            *key_at(node, "concurrency", "key"),
            "concurrency.key is not a key of concurrency: a limit per key is its own mapping, "
            "and concurrency.limit is the limit over all keys",
            "write per_key: {key: $.tenant, limit: 3} under concurrency (and limit: N beside it "
            "for a global limit too)",
        )
    allowed = CONCURRENCY_KEYS | {"key"}
    r.keys(node, "concurrency", allowed, required, what="concurrency")
    if (v := node.get("mode")) is not None:
        _mode(r, v)
    if (v := node.get("limit")) is not None:
        why = "one semaphore's gatekeeper serves its grants in order, one batch at a time"
        facts.limit = r.integer(v, "concurrency.limit", "limit", 1, WAITING_ROOM_LIMIT_MAX, why)
    if (v := node.get("max_wait_seconds")) is not None:
        path = "concurrency.max_wait_seconds"
        facts.max_wait_seconds = r.integer(v, path, "max_wait_seconds", 1, MAX_WAIT_MAX)
    if (v := node.get("semaphore")) is not None:
        sem = _name(r, v, "concurrency.semaphore", "semaphore name", SEMAPHORE_NAME)
        if sem is not None:
            facts.semaphore, facts.semaphore_node = sem, v
    elif facts.name is not None:
        facts.semaphore, facts.semaphore_node = facts.name, node
    _admission(r, node, facts, jsonata)
    check_burst(r, node, facts.limit, facts.max_wait_seconds, facts.admission.rate)


def _admission(r: Reporter, node: Node, facts: SpecFacts, jsonata: bool) -> None:
    """per_key, rate, priority, aging_seconds: the waiting room's gatekeeper decides them."""
    present: list[str] = [
        k for k in ("per_key", "rate", "priority", "aging_seconds") if k in node.mapping
    ]
    if not present:
        return
    facts.admission_node = node
    fields: dict[str, Any] = {}
    if (v := node.get("per_key")) is not None and r.is_map(v, "concurrency.per_key", "per_key"):
        fields.update(_per_key(r, v, node, facts, jsonata))
    if (v := node.get("rate")) is not None and r.is_map(v, "concurrency.rate", "rate"):
        fields.update(_rate(r, v))
    if (v := node.get("priority")) is not None:
        fields["priority"] = _input_value(r, v, "concurrency.priority", jsonata, "priority")
    if (v := node.get("aging_seconds")) is not None:
        fields["aging_seconds"] = _aging_seconds(r, v, node)
    facts.admission = Admission(**fields)


# Said where `mode: polling` is refused: what to change, and what the next deploy does.
POLLING_RETIRED_FIX = (
    "remove the mode: line (or write mode: waiting_room) and deploy: the waiting room is the "
    "only mode. The plan adds the gatekeeper (its FIFO queue, DLQ, function and EventBridge "
    "rules) and the table's holders index, updates the state machines in place, and destroys "
    "the reclaimer; drain the semaphore first, since an execution started on the polling "
    "definition keeps it to its end (docs/design.md §4, Migrating from polling)"
)


def _mode(r: Reporter, node: Node) -> None:
    """`mode: waiting_room` is accepted as written before; `mode: polling` was retired."""
    if node.scalar == RETIRED_POLLING:
        r.error(
            node,
            "concurrency.mode",
            "concurrency.mode: polling was retired: a semaphore waits in its waiting room "
            "(a FIFO queue and one serialised gatekeeper), which replaced polling on cost, "
            "throttling, order, limit changes and wait length",
            POLLING_RETIRED_FIX,
        )
        return
    r.choice(node, "concurrency.mode", "mode", {WAITING_ROOM})


def _per_key(
    r: Reporter, per_key: Node, node: Node, facts: SpecFacts, jsonata: bool
) -> dict[str, Any]:
    """concurrency.per_key: what names a waiter's key, and the limit each key has."""
    fields: dict[str, Any] = {}
    r.keys(per_key, "concurrency.per_key", PER_KEY_KEYS, ("key", "limit"), what="per_key")
    if (key := per_key.get("key")) is not None:
        fields["key"] = _input_value(r, key, "concurrency.per_key.key", jsonata, "tenant")
    if (limit := per_key.get("limit")) is not None:
        fields["key_limit"] = _key_limit(r, limit, facts)
    if "limit" not in node.mapping:
        facts.limit = WAITING_ROOM_LIMIT_MAX  # only the per-key limit applies
    return fields


def _key_limit(r: Reporter, limit: Node, facts: SpecFacts) -> int | None:
    key_limit = r.integer(limit, "concurrency.per_key.limit", "limit", 1, WAITING_ROOM_LIMIT_MAX)
    if facts.limit is not None and key_limit is not None and key_limit > facts.limit:
        r.error(
            limit,
            "concurrency.per_key.limit",
            f"the per-key limit {key_limit} is above the semaphore's "
            f"limit {facts.limit}: no key could ever reach it",
            f"use a per-key limit from 1 to {facts.limit}, or raise concurrency.limit",
        )
    return key_limit


def _rate(r: Reporter, rate: Node) -> dict[str, Any]:
    """concurrency.rate: starts per second, and how many may start at once."""
    fields: dict[str, Any] = {}
    r.keys(rate, "concurrency.rate", RATE_KEYS, ("per_second",), what="rate")
    if (per_second := rate.get("per_second")) is not None:
        fields["rate"] = r.number(
            per_second, "concurrency.rate.per_second", "per_second", RATE_MIN, RATE_MAX
        )
    if (burst := rate.get("burst")) is not None:
        fields["burst"] = r.integer(burst, "concurrency.rate.burst", "burst", 1, BURST_MAX)
    return fields


def _aging_seconds(r: Reporter, aging: Node, node: Node) -> int | None:
    seconds = r.integer(aging, "concurrency.aging_seconds", "aging_seconds", 1, AGING_MAX_SECONDS)
    if "priority" not in node.mapping:
        r.error(
            aging,
            "concurrency.aging_seconds",
            "aging_seconds without priority: aging raises a waiter's priority",
            "add priority: $.priority (the path of a number 0-9 in the input), or remove "
            "aging_seconds",
        )
    return seconds


def _input_value(r: Reporter, node: Node, path: str, jsonata: bool, example: str) -> str | None:
    """What the acquire sends from the execution's input: a JSONPath in a JSONPath
    workflow (`$.tenant`), a `{% %}` expression in a JSONata one."""
    text = r.string(node, path, path.rsplit(".", 1)[-1])
    if text is None:
        return None
    if jsonata:
        if not is_expression(text):
            r.error(
                node,
                path,
                f"{text!r} is not a JSONata expression, and this workflow's QueryLanguage is "
                "JSONata",
                f"write an expression such as '{{% $states.input.{example} %}}' (the "
                "execution's input is $states.input)",
            )
            return None
        body = text.strip()[2:-2]
        if (syntax := syntax_error(body)) is not None:
            message, offset = syntax
            r.error(
                node,
                path,
                f"JSONata syntax error at character {offset + 1}: {message}",
                "fix the expression between {% and %}",
            )
            return None
        return text
    problem = check_dynamic_value(text)
    if problem is not None or is_expression(text):
        why = problem or "a JSONata expression in a JSONPath workflow"
        r.error(
            node,
            path,
            f"{text!r} is not a JSONPath: {why}",
            "write a path into the execution's input, such as $.tenant",
        )
        return None
    return text
