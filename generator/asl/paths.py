"""Path-valued fields: JSONPath, reference paths, and `.$` values (paths or intrinsics)."""

from __future__ import annotations

from generator import jsonpath
from generator.loader import Node
from generator.report import Reporter, join


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
    problem = jsonpath.check_path(text, reference=reference, context=not reference)
    if problem:
        kind = "reference path" if reference else "JSONPath"
        r.error(
            node,
            path,
            f"{what} is not a valid {kind}: {problem} in {text!r}",
            "write a path such as $.order.items[0]"
            + (" (one node, no wildcards or filters)" if reference else ""),
        )


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
    problem = jsonpath.check_dynamic_value(text)
    if problem:
        r.error(
            node,
            path,
            f"{what} is not a valid path or intrinsic function: {problem} in {text!r}",
            "write $.field, $$.Execution.Id or States.Format('{}', $.x)",
        )


def payload(r: Reporter, node: Node, path: str, what: str) -> None:
    """Free-form JSON where keys ending in `.$` carry a path or intrinsic function."""
    if node.is_map:
        for key, value in node.mapping.items():
            if key.endswith(".$"):
                dynamic(r, value, join(path, key), f"the value of {key!r}")
            else:
                payload(r, value, join(path, key), what)
    elif node.is_seq:
        for i, value in enumerate(node.items):
            payload(r, value, join(path, i), what)


def optional_payload(r: Reporter, node: Node, path: str, field: str) -> None:
    if (v := node.get(field)) is not None:
        payload(r, v, join(path, field), field)
