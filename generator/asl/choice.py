"""Choice states: each rule holds exactly one comparison or And/Or/Not, the operand has the
type its operator compares, and only top-level rules transition."""

from __future__ import annotations

import re

from generator.asl import graph, language, paths
from generator.asl.language import Language
from generator.loader import Node
from generator.report import Reporter, join, key_at
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


# A JSONata Choice rule: one Condition, where to go, and what to assign when it matches.
_JSONATA_RULE = frozenset({"Condition", "Next", "Assign", "Comment"})


def check(r: Reporter, node: Node, path: str, states: Node, lang: Language) -> None:
    choices = node.get("Choices")
    if choices is None:
        r.error(node, path, "a Choice state needs Choices", "add Choices: with at least one rule")
    elif r.is_seq(choices, join(path, "Choices"), "Choices"):
        for i, rule in enumerate(choices.items):
            rpath = join(join(path, "Choices"), i)
            if lang.jsonata:
                _jsonata_rule(r, rule, rpath, states, lang)
            else:
                _rule(r, rule, rpath, states, top=True)
    if (v := node.get("Default")) is not None:
        graph.target(r, v, join(path, "Default"), states)


def _jsonata_rule(r: Reporter, node: Node, path: str, states: Node, lang: Language) -> None:
    if not r.is_map(node, path, "a Choice rule"):
        return
    for key in node.mapping:
        if key in COMPARISONS or key in COMBINATORS or key == "Variable":
            r.error(
                *key_at(node, path, key),
                f"{key} is a JSONPath Choice rule field; this state uses JSONata",
                "write the whole test as Condition: '{% $states.input.total > 100 %}'",
            )
    r.keys(
        node,
        path,
        _JSONATA_RULE | COMPARISONS | set(COMBINATORS) | {"Variable"},
        what="a Choice rule",
    )
    if (nxt := node.get("Next")) is None:
        r.error(node, path, "a Choice rule needs Next", "add Next: <state>")
    else:
        graph.target(r, nxt, join(path, "Next"), states)
    condition = node.get("Condition")
    cpath = join(path, "Condition")
    if condition is None:
        r.error(
            node,
            path,
            "a JSONata Choice rule needs a Condition",
            "add Condition: '{% $states.input.total > 100 %}'",
        )
    elif not lang.expressions.value_or_expression(condition, cpath, lang.place("Condition")):
        r.error(
            condition,
            cpath,
            f"Condition must be one JSONata expression, got {condition.type_name()}",
            "write Condition: '{% ... %}' (true or false is a constant: use Default instead)",
        )
    if (v := node.get("Assign")) is not None and r.is_map(v, join(path, "Assign"), "Assign"):
        language.assign_names(r, v, join(path, "Assign"))
        lang.expressions.template(v, join(path, "Assign"), lang.place("a Choice rule's Assign"))
    if (v := node.get("Comment")) is not None:
        r.string(v, join(path, "Comment"), "Comment", non_empty=False)


def _rule(r: Reporter, node: Node, path: str, states: Node, top: bool) -> None:
    if not r.is_map(node, path, "a Choice rule"):
        return
    if "Condition" in node.mapping:
        r.error(
            *key_at(node, path, "Condition"),
            "Condition is a JSONata field; this state uses JSONPath",
            "add QueryLanguage: JSONata to the Choice state (or the workflow), or write "
            "Variable with a comparison such as NumericGreaterThan",
        )
    allowed = (
        COMPARISONS
        | {"Variable", *COMBINATORS, "Comment"}
        | ({"Next", "Assign"} if top else set())
        | ({"Condition"} & node.mapping.keys())  # reported above, not again as unknown
    )
    what = "a Choice rule" if top else "a nested Choice rule (Next belongs on the top-level rule)"
    r.keys(node, path, allowed, what=what)
    if top:
        paths.optional_payload(r, node, path, "Assign")
        if (nxt := node.get("Next")) is None:
            r.error(node, path, "a top-level Choice rule needs Next", "add Next: <state>")
        else:
            graph.target(r, nxt, join(path, "Next"), states)
    if "Condition" in node.mapping:
        return  # reported above; the comparison it stands for cannot be checked
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
