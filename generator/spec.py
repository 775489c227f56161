"""The stepqueue part of a spec's top level: `name`, `concurrency:` and the top-level keys.

`workers:` has a module of its own (`workers`); the ASL part is the `asl` package's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generator.loader import Node
from generator.model import Concurrency
from generator.report import Reporter
from generator.vocabulary import (
    ASL_SECONDS_MAX,
    CONCURRENCY_KEYS,
    HOLDER_MAX_BYTES,
    MAX_WAIT_DEFAULT,
    MAX_WAIT_MAX,
    POLLING,
    POLLING_MAX_WAIT_MAX,
    QUERY_LANGUAGES,
    SEMAPHORE_LIMIT_MAX,
    SEMAPHORE_MODE_DEFAULT,
    SEMAPHORE_MODES,
    SEMAPHORE_NAME,
    TOP_LEVEL,
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
    mode: str = SEMAPHORE_MODE_DEFAULT

    def concurrency(self) -> Concurrency | None:
        """The typed setting; only for a spec without errors."""
        if not self.has_concurrency:
            return None
        assert self.semaphore is not None and self.limit is not None
        assert self.max_wait_seconds is not None
        return Concurrency(self.semaphore, self.limit, self.max_wait_seconds, self.mode)


def check_top(r: Reporter, root: Node) -> SpecFacts | None:
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
        facts.workers = declare(r, v)
    if (v := root.get("concurrency")) is not None:
        _concurrency(r, v, facts)
    return facts


def _name(r: Reporter, node: Node, path: str, what: str, pattern: str) -> str | None:
    name = r.string(node, path, path.rsplit(".", 1)[-1])
    if name is not None and not re.match(pattern, name):
        r.error(node, path, f"{what} {name!r} is not valid", _DASHED_NAME_FIX)
        return None
    return name


def _concurrency(r: Reporter, node: Node, facts: SpecFacts) -> None:
    if not r.is_map(node, "concurrency", "concurrency"):
        return
    facts.has_concurrency = True
    r.keys(node, "concurrency", CONCURRENCY_KEYS, ("limit",), what="concurrency")
    if (v := node.get("mode")) is not None:
        facts.mode = r.choice(v, "concurrency.mode", "mode", SEMAPHORE_MODES) or facts.mode
    # Polling keeps every holder in one 400 KB item and every retry in the history.
    polling = facts.mode == POLLING
    if (v := node.get("limit")) is not None:
        why = f"all holders must fit in one 400 KB DynamoDB item, {HOLDER_MAX_BYTES} bytes each"
        if not polling:
            why = "one semaphore's gatekeeper serves its grants in order, one batch at a time"
        top = SEMAPHORE_LIMIT_MAX if polling else WAITING_ROOM_LIMIT_MAX
        facts.limit = r.integer(v, "concurrency.limit", "limit", 1, top, why)
    if (v := node.get("max_wait_seconds")) is not None:
        path = "concurrency.max_wait_seconds"
        top = POLLING_MAX_WAIT_MAX if polling else MAX_WAIT_MAX
        facts.max_wait_seconds = r.integer(v, path, "max_wait_seconds", 1, top)
    if (v := node.get("semaphore")) is not None:
        sem = _name(r, v, "concurrency.semaphore", "semaphore name", SEMAPHORE_NAME)
        if sem is not None:
            facts.semaphore, facts.semaphore_node = sem, v
    elif facts.name is not None:
        facts.semaphore, facts.semaphore_node = facts.name, node
