"""Retry and Catch: their shape, and `States.ALL` alone in the last retrier or catcher (ASL
matches them in order, so anything after a catch-all could never run)."""

from __future__ import annotations

from generator.asl import graph, language, paths
from generator.asl.language import Language
from generator.loader import Node
from generator.report import Reporter, join, key_at
from generator.vocabulary import (
    ASL_SECONDS_MAX,
    CATCHER_FIELDS,
    ERROR_ALL,
    JITTER_STRATEGIES,
    RETRIER_FIELDS,
    RETRIER_MINIMUMS,
)


def check(r: Reporter, node: Node, path: str, states: Node, lang: Language) -> None:
    """The Retry and Catch lists of a state, when present (empty lists are allowed, as AWS
    allows them: no retrier, no catcher)."""
    retry, catch = node.get("Retry"), node.get("Catch")
    if retry is not None and r.is_seq(retry, join(path, "Retry"), "Retry", non_empty=False):
        for i, item in enumerate(retry.items):
            _retrier(r, item, join(join(path, "Retry"), i), last=i == len(retry.items) - 1)
    if catch is not None and r.is_seq(catch, join(path, "Catch"), "Catch", non_empty=False):
        for i, item in enumerate(catch.items):
            last = i == len(catch.items) - 1
            _catcher(r, item, join(join(path, "Catch"), i), states, last, lang)


def _retrier(r: Reporter, node: Node, path: str, last: bool) -> None:
    if not r.is_map(node, path, "a retrier"):
        return
    r.keys(node, path, RETRIER_FIELDS, what="a retrier")
    _error_equals(r, node, path, last, "retrier")
    for field, lo in RETRIER_MINIMUMS:
        if (v := node.get(field)) is not None:
            r.integer(v, join(path, field), field, lo, ASL_SECONDS_MAX)
    if (v := node.get("BackoffRate")) is not None:
        r.number(v, join(path, "BackoffRate"), "BackoffRate", 1.0, 1e9)
    if (v := node.get("JitterStrategy")) is not None:
        r.choice(v, join(path, "JitterStrategy"), "JitterStrategy", JITTER_STRATEGIES)


def _catcher(r: Reporter, node: Node, path: str, states: Node, last: bool, lang: Language) -> None:
    if not r.is_map(node, path, "a catcher"):
        return
    r.keys(node, path, CATCHER_FIELDS, ("Next",), what="a catcher")
    _error_equals(r, node, path, last, "catcher")
    if (v := node.get("Next")) is not None:
        graph.target(r, v, join(path, "Next"), states)
    assign = node.get("Assign")
    if assign is not None and r.is_map(assign, join(path, "Assign"), "Assign"):
        language.assign_names(r, assign, join(path, "Assign"))
    if not lang.jsonata:
        if "Output" in node.mapping:
            r.error(
                *key_at(node, path, "Output"),
                "Output is a JSONata field; this state uses JSONPath",
                "use ResultPath, or add QueryLanguage: JSONata to the state",
            )
        paths.result_path(r, node, path)
        paths.optional_payload(r, node, path, "Assign")
        return
    if "ResultPath" in node.mapping:
        r.error(
            *key_at(node, path, "ResultPath"),
            "ResultPath is a JSONPath field; this state uses JSONata",
            "write Output: '{% $states.errorOutput %}' (the default), or Assign it",
        )
    for field in ("Output", "Assign"):
        if (v := node.get(field)) is not None and (field == "Output" or v.is_map):
            place = lang.place(f"a catcher's {field}", error_output=True)
            lang.expressions.template(v, join(path, field), place)


def _error_equals(r: Reporter, node: Node, path: str, last: bool, what: str) -> None:
    equals = node.get("ErrorEquals")
    if equals is None:
        r.error(
            node,
            path,
            f"a {what} needs ErrorEquals",
            "add ErrorEquals: [States.ALL] or specific error names",
        )
        return
    epath = join(path, "ErrorEquals")
    if not r.is_seq(equals, epath, "ErrorEquals"):
        return
    names = [r.string(e, join(epath, i), "an error name") for i, e in enumerate(equals.items)]
    if ERROR_ALL in names and (len(names) > 1 or not last):
        r.error(
            equals,
            epath,
            f"{ERROR_ALL} must be alone in ErrorEquals and in the last {what}",
            f"move it to a last {what} of its own",
        )
