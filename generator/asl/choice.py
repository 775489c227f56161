"""Choice states: each rule holds exactly one comparison or And/Or/Not, the operand has the
type its operator compares, and only top-level rules transition."""

from __future__ import annotations

import re

from generator.asl import graph, paths
from generator.loader import Node
from generator.report import Reporter, join
from generator.vocabulary import (
    COMBINATORS,
    COMPARISONS,
    NUMERIC_OPS,
    PATH_OPS,
    STRING_OPS,
    TIMESTAMP_OPS,
)

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TIMESTAMP_FIX = "write e.g. '2026-01-31T12:00:00Z' (quoted)"


def check(r: Reporter, node: Node, path: str, states: Node) -> None:
    choices = node.get("Choices")
    if choices is None:
        r.error(node, path, "a Choice state needs Choices", "add Choices: with at least one rule")
    elif r.is_seq(choices, join(path, "Choices"), "Choices"):
        for i, rule in enumerate(choices.items):
            _rule(r, rule, join(join(path, "Choices"), i), states, top=True)
    if (v := node.get("Default")) is not None:
        graph.target(r, v, join(path, "Default"), states)


def _rule(r: Reporter, node: Node, path: str, states: Node, top: bool) -> None:
    if not r.is_map(node, path, "a Choice rule"):
        return
    allowed = (
        COMPARISONS | {"Variable", *COMBINATORS, "Comment"} | ({"Next", "Assign"} if top else set())
    )
    what = "a Choice rule" if top else "a nested Choice rule (Next belongs on the top-level rule)"
    r.keys(node, path, allowed, what=what)
    if top:
        paths.optional_payload(r, node, path, "Assign")
        if (nxt := node.get("Next")) is None:
            r.error(node, path, "a top-level Choice rule needs Next", "add Next: <state>")
        else:
            graph.target(r, nxt, join(path, "Next"), states)
    op = r.exactly_one(
        node,
        path,
        [k for k in node.mapping if k in COMPARISONS or k in COMBINATORS],
        "a Choice rule needs exactly one comparison or And/Or/Not",
        "split it into separate rules or combine them with And",
    )
    if op is None:
        return
    value = node.mapping[op]
    vpath = join(path, op)
    if op in ("And", "Or"):
        if r.is_seq(value, vpath, op):
            for i, sub in enumerate(value.items):
                _rule(r, sub, join(vpath, i), states, top=False)
    elif op == "Not":
        _rule(r, value, vpath, states, top=False)
    else:
        _comparison(r, node, path, op, value, vpath)


def _comparison(r: Reporter, node: Node, path: str, op: str, value: Node, vpath: str) -> None:
    variable = node.get("Variable")
    if variable is None:
        r.error(node, path, f"{op} needs a Variable", "add Variable: $.field")
    else:
        paths.path_value(r, variable, join(path, "Variable"), "Variable")
    if op in PATH_OPS:
        paths.path_value(r, value, vpath, op)
    elif op in STRING_OPS or op == "StringMatches":
        r.string(value, vpath, op, non_empty=False)
    elif op in NUMERIC_OPS:
        r.number(value, vpath, op, -1e300, 1e300)
    elif op in TIMESTAMP_OPS:
        ts = r.string(value, vpath, op)
        if ts is not None and not TIMESTAMP.match(ts):
            r.error(value, vpath, f"{op} needs an RFC 3339 timestamp, got {ts!r}", TIMESTAMP_FIX)
    else:  # BooleanEquals and the type tests
        r.boolean(value, vpath, op)
