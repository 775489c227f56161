"""Which fields a state type takes, and the checks of the fields several types share."""

from __future__ import annotations

from generator.asl import paths
from generator.loader import Node
from generator.report import Reporter, join
from generator.vocabulary import FIELDS, PAYLOAD_FIELDS


def state_type(r: Reporter, node: Node, key: Node, name: str, path: str) -> str | None:
    """The state's Type when it is a known one."""
    kind_node = node.get("Type")
    if kind_node is None:
        r.error(
            key,
            path,
            f"state {name!r} has no Type",
            f"add Type: one of {', '.join(sorted(FIELDS))}",
        )
        return None
    return r.choice(kind_node, join(path, "Type"), "Type", FIELDS)


def check(r: Reporter, node: Node, path: str, kind: str) -> None:
    """Unknown keys for this type, then the input/output fields any type may carry."""
    r.keys(node, path, FIELDS[kind], what=f"a {kind} state")
    for field in ("InputPath", "OutputPath"):
        if (v := node.get(field)) is not None:
            paths.path_value(r, v, join(path, field), field, nullable=True)
    paths.result_path(r, node, path)
    for field in PAYLOAD_FIELDS:
        paths.optional_payload(r, node, path, field)
    if (v := node.get("Comment")) is not None:
        r.string(v, join(path, "Comment"), "Comment", non_empty=False)
