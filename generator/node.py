"""The loaded spec: a tree of `Node`s, each with the line and column it came from.

Every later diagnostic points at one of these positions. An alias used more than once shares
its `Node`, so the tree is read-only once loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, eq=False)
class Node:
    kind: str  # "map", "seq" or "scalar"
    line: int  # 1-based
    col: int  # 1-based
    scalar: Any = None
    mapping: dict[str, Node] = field(default_factory=dict)
    key_nodes: dict[str, Node] = field(default_factory=dict)
    items: list[Node] = field(default_factory=list)

    @property
    def is_map(self) -> bool:
        return self.kind == "map"

    @property
    def is_seq(self) -> bool:
        return self.kind == "seq"

    def get(self, key: str) -> Node | None:
        return self.mapping.get(key)

    def key_node(self, key: str) -> Node:
        return self.key_nodes.get(key, self)

    def type_name(self) -> str:
        if self.kind == "map":
            return "a mapping"
        if self.kind == "seq":
            return "a list"
        return describe_value(self.scalar)


def describe_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    return type(value).__name__


def to_plain(node: Node) -> Any:
    """The node's value as plain JSON-like Python data."""
    if node.kind == "map":
        return {k: to_plain(v) for k, v in node.mapping.items()}
    if node.kind == "seq":
        return [to_plain(v) for v in node.items]
    return node.scalar
