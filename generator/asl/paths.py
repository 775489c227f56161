"""Path-valued fields: JSONPath, reference paths, and `.$` values (paths or intrinsics).

Whitespace after a path (`"$$.Execution.Name "`) is accepted with a warning: Step Functions
reads the path without it (Jayway JsonPath, which it runs, trims the path; asl-validator
accepts it too), so refusing it would refuse definitions AWS runs. Whitespace before a path, or
after an intrinsic function call, stays an error (asl-validator refuses both).
"""

from __future__ import annotations

from generator import intrinsics, jsonpath
from generator.loader import Node
from generator.report import Reporter, join, key_at

_TRAILING = " \t\r\n"


def path_value(
    r: Reporter,
    node: Node,
    path: str,
    what: str,
    *,
    nullable: bool = False,
    reference: bool = False,
) -> None:
    """A JSONPath; a reference path (one node, no operators) where ASL writes a result."""
    if nullable and node.kind == "scalar" and node.scalar is None:
        return
    text = r.string(node, path, what)
    if text is None:
        return
    trimmed = text.rstrip(_TRAILING) or text
    problem = jsonpath.check_path(trimmed, reference=reference, context=not reference)
    if problem:
        kind = "reference path" if reference else "JSONPath"
        r.error(
            node,
            path,
            f"{what} is not a valid {kind}: {problem} in {text!r}",
            "write a path such as $.order.items[0]"
            + (" (one node, no wildcards or filters)" if reference else ""),
        )
    elif trimmed != text:
        _trailing_space(r, node, path, what, text)


def optional_path(r: Reporter, node: Node, path: str, field: str) -> None:
    """`field` of `node`, when present, as a JSONPath."""
    if (v := node.get(field)) is not None:
        path_value(r, v, join(path, field), field)


def result_path(r: Reporter, node: Node, path: str) -> None:
    if (v := node.get("ResultPath")) is not None:
        path_value(r, v, join(path, "ResultPath"), "ResultPath", nullable=True, reference=True)


def dynamic(r: Reporter, node: Node, path: str, what: str) -> None:
    """A path or an intrinsic function call: the value of a `.$` key, ErrorPath, CausePath."""
    text = r.string(node, path, what)
    if text is None:
        return
    # Only a path: asl-validator (and LocalStack's reading of AWS) refuse a call followed by
    # whitespace, and nothing says AWS reads one.
    trimmed = text if text.startswith("States.") else text.rstrip(_TRAILING) or text
    problem = intrinsics.check_dynamic(trimmed)
    if problem:
        kind = "path or intrinsic function" if problem.syntax else "intrinsic function call"
        r.error(
            node,
            path,
            f"{what} is not a valid {kind}: {problem.message} in {text!r}",
            problem.fix,
        )
    elif trimmed != text:
        _trailing_space(r, node, path, what, text)


def _trailing_space(r: Reporter, node: Node, path: str, what: str, text: str) -> None:
    r.warning(
        node,
        path,
        f"{what} ends with whitespace ({text!r}); Step Functions reads it without the "
        "whitespace, other tools may not",
        "remove the trailing whitespace",
    )


def payload(r: Reporter, node: Node, path: str, what: str) -> None:
    """Free-form JSON where keys ending in `.$` carry a path or intrinsic function."""
    if node.is_map:
        for key, value in node.mapping.items():
            if key.endswith(".$"):
                _twin(r, node, path, key)
                dynamic(r, value, join(path, key), f"the value of {key!r}")
            else:
                payload(r, value, join(path, key), what)
    elif node.is_seq:
        for i, value in enumerate(node.items):
            payload(r, value, join(path, i), what)


def _twin(r: Reporter, node: Node, path: str, key: str) -> None:
    """`name` and `name.$` in one object would both set `name` (ASL forbids it)."""
    name = key.removesuffix(".$")
    if name in node.mapping:
        r.error(
            *key_at(node, path, key),
            f"{name!r} and {key!r} both set the field {name!r}",
            f"keep {name!r} for a fixed value or {key!r} for a path",
        )


def optional_payload(r: Reporter, node: Node, path: str, field: str) -> None:
    if (v := node.get(field)) is not None:
        payload(r, v, join(path, field), field)
