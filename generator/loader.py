"""Stage 1: YAML text to a tree of `Node`s that remember where every key and value came from.

`yaml.compose` gives marks for every node; we keep them so each later diagnostic can point at a
line and column. Values are converted with YAML's safe rules except that mapping keys stay the
raw text (a state named `No` must not become `False`) and timestamps stay strings (ASL wants
ISO 8601 strings, not datetime objects).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator.errors import Diagnostic

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_PLAIN = "stepqueue:plain"  # a plain scalar whose type is resolved later, and only if needed
_STANDARD = yaml.resolver.Resolver()


class _LazyResolver(yaml.resolver.BaseResolver):
    """Defers implicit typing of plain scalars: keys never need it (they stay text), and
    values go through a cache, since specs repeat the same few words (Task, true, $.x)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _MAP if kind is yaml.MappingNode else _SEQ

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers: skip PyYAML's bookkeeping for every node

    def ascend_resolver(self) -> None:
        pass


@functools.lru_cache(maxsize=4096)
def _implicit_tag(value: str) -> str:
    tag: str = _STANDARD.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


# libyaml is ~10x faster than the pure Python parser; used when PyYAML was built with it.
_Parser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None)
if _Parser is not None:

    class _Loader(_Parser, yaml.constructor.SafeConstructor, _LazyResolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _LazyResolver.__init__(self)

    _LOADER: Any = _Loader
else:
    _LOADER = yaml.SafeLoader
_MAX_DEPTH = 200  # guards against recursive aliases and pathological nesting


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


class _Converter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, path: str, message: str, fix: str) -> None:
        mark = node.start_mark
        self.diagnostics.append(
            Diagnostic(self.file, mark.line + 1, mark.column + 1, path, message, fix)
        )

    def convert(self, node: yaml.Node, path: str, depth: int = 0) -> Node:
        mark = node.start_mark
        line, col = mark.line + 1, mark.column + 1
        if depth > _MAX_DEPTH:
            self.error(node, path, "the document nests too deeply", "remove recursive aliases")
            return Node("scalar", line, col)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self._bad_tag(node, path)
            items = [self.convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node.value)]
            return Node("seq", line, col, items=items)
        assert isinstance(node, yaml.ScalarNode)
        return Node("scalar", line, col, scalar=self._scalar(node, path))

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> Node:
        if node.tag != _MAP:
            self._bad_tag(node, path)
        result = Node("map", node.start_mark.line + 1, node.start_mark.column + 1)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, path, "a mapping key must be plain text", "quote the key")
                continue
            key = str(key_node.value)
            child_path = f"{path}.{key}" if path else key
            if key in result.mapping:
                first = result.key_nodes[key]
                self.error(
                    key_node,
                    child_path,
                    f"duplicate key {key!r} (first defined at line {first.line}, column "
                    f"{first.col})",
                    "remove or rename one of the two keys; YAML would silently keep the last",
                )
                continue
            kmark = key_node.start_mark
            result.key_nodes[key] = Node("scalar", kmark.line + 1, kmark.column + 1, scalar=key)
            result.mapping[key] = self.convert(value_node, child_path, depth + 1)
        return result

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        tag = node.tag
        if tag == _PLAIN:
            tag = _implicit_tag(node.value)
        c = self._constructor
        if tag in (_STR, _TIMESTAMP):
            return str(node.value)
        if tag == _INT:
            return c.construct_yaml_int(node)
        if tag == _FLOAT:
            value = c.construct_yaml_float(node)
            if value != value or value in (float("inf"), float("-inf")):
                self.error(node, path, "NaN and infinity are not valid JSON", "use a finite number")
                return None
            return value
        if tag == _BOOL:
            return c.construct_yaml_bool(node)
        if tag == _NULL:
            return None
        self._bad_tag(node, path)
        return str(node.value)

    def _bad_tag(self, node: yaml.Node, path: str) -> None:
        self.error(
            node,
            path,
            f"unsupported YAML tag {node.tag!r}",
            "remove the tag; a spec holds plain mappings, lists, strings, numbers and booleans",
        )


def load_text(text: str, file: str) -> tuple[Node | None, list[Diagnostic]]:
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or str(exc)
        if exc.context:
            what = f"{exc.context}, {what}"
        return None, [
            Diagnostic(file, line, col, "", f"invalid YAML: {what}", "fix the YAML syntax here")
        ]
    except yaml.YAMLError as exc:  # e.g. a reader error for a control character
        return None, [
            Diagnostic(file, 1, 1, "", f"invalid YAML: {exc}", "save the spec as UTF-8 text")
        ]
    if root is None:
        return None, [Diagnostic(file, 1, 1, "", "the spec is empty", "write a workflow spec")]
    converter = _Converter(file)
    node = converter.convert(root, "")
    return node, converter.diagnostics


def load_file(path: Path, display: str | None = None) -> tuple[Node | None, list[Diagnostic]]:
    name = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Diagnostic(name, 1, 1, "", f"the file is not UTF-8 ({exc.reason})", "save as UTF-8")
        ]
    except OSError as exc:
        return None, [
            Diagnostic(name, 1, 1, "", f"cannot read the spec: {exc.strerror}", "check the path")
        ]
    return load_text(text, name)
