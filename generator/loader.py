"""Stage 1: YAML text to a tree of `Node`s that remember where every key and value came from.

The tree is built here from the parser's events, which gives a mark for every node and lets
the loader bound what hostile input can cost (size, nesting depth, values with aliases
expanded) and answer with a located error instead of hanging or crashing. Values are converted
with YAML's safe rules except that mapping keys stay the raw text (a state named `No` must not
become `False`) and timestamps stay strings (ASL wants ISO 8601 strings, not datetime objects).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator.errors import Diagnostic
from generator.node import Node, describe_value, to_plain

__all__ = ["Node", "describe_value", "load_file", "load_text", "to_plain"]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

_STANDARD = yaml.resolver.Resolver()

# Bounds that keep hostile input cheap; real specs stay far below them. A state machine
# definition is at most 1 MB, so a spec twice that size cannot be one.
MAX_SPEC_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 200
_PATH_SHOWN = 80
MAX_VALUES = 100_000  # keys, values and collections, each use of an alias counted in full


@functools.lru_cache(maxsize=4096)
def _implicit_tag(value: str) -> str:
    """YAML's implicit type of a plain scalar; cached, as specs repeat a few words."""
    tag: str = _STANDARD.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


# libyaml is ~10x faster than the pure Python parser; used when PyYAML was built with it. Only
# its parser is used (events); the tree is built here, without recursion.
_PARSER: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None) or yaml.SafeLoader


@dataclass(slots=True, eq=False)
class _Open:
    """A collection whose end event has not come yet."""

    node: Node
    path: str
    anchor: str | None
    mark: Any
    is_map: bool
    size: int = 1  # values in it so far, itself included, aliases counted in full
    height: int = 1  # levels it spans so far
    awaiting_value: bool = False  # a mapping whose last key has no value yet
    key: str | None = None  # that key; None when it was rejected (its value is dropped)


@dataclass(frozen=True, slots=True)
class _Anchored:
    node: Node
    size: int
    height: int  # 0 for a scalar
    raw: str | None  # a scalar's text, for an alias used as a mapping key


def _mark(event: yaml.Event) -> Any:
    return event.start_mark  # the parser sets it on every event


class _Builder:
    """Builds the `Node` tree from the parser's event stream, without recursion.

    PyYAML's own composer recurses once per nesting level (libyaml's build overflows the C
    stack on deep input) and an alias used twice is expanded twice downstream, so hostile
    input could crash the process or grow without bound. Building from events lets every
    bound be checked as the parser goes: nesting depth, values (each use of an alias counts
    the whole anchored value again) and recursive aliases. A repeated alias shares its `Node`.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.root: Node | None = None
        self._constructor = yaml.constructor.SafeConstructor()
        self._stack: list[_Open] = []
        self._anchors: dict[str, _Anchored] = {}
        self._open_anchors: set[str] = set()
        self._values = 0
        self._documents = 0

    def error(self, mark: Any, path: str, message: str, fix: str) -> None:
        if len(path) > _PATH_SHOWN:  # 200 levels of [0] would fill the screen
            path = path[: _PATH_SHOWN // 2] + "..." + path[-_PATH_SHOWN // 2 :]
        self.diagnostics.append(
            Diagnostic(self.file, mark.line + 1, mark.column + 1, path, message, fix)
        )

    def build(self, events: Iterator[yaml.Event]) -> bool:
        """Consume the events; False when a bound was crossed (the rest is not read)."""
        for event in events:
            if isinstance(event, yaml.ScalarEvent):
                ok = self._scalar(event)
            elif isinstance(event, yaml.CollectionStartEvent):
                ok = self._open(event)
            elif isinstance(event, yaml.CollectionEndEvent):
                ok = self._close()
            elif isinstance(event, yaml.AliasEvent):
                ok = self._alias(event)
            elif isinstance(event, yaml.DocumentStartEvent):
                self._documents += 1
                ok = self._documents == 1
                if not ok:  # the message yaml.compose gives
                    self.error(
                        event.start_mark,
                        "",
                        "invalid YAML: expected a single document in the stream, but found "
                        "another document",
                        "fix the YAML syntax here",
                    )
            else:
                ok = True
            if not ok:
                return False
        return True

    def _count(self, mark: Any, path: str, values: int) -> bool:
        self._values += values
        if self._values <= MAX_VALUES:
            return True
        self.error(
            mark,
            path,
            f"the document holds more than {MAX_VALUES} values (counting each use of an alias "
            "in full)",
            "remove aliases that repeat large parts of the document, or split the workflow",
        )
        return False

    def _child_path(self) -> str:
        if not self._stack:
            return ""
        top = self._stack[-1]
        if not top.is_map:
            return f"{top.path}[{len(top.node.items)}]"
        if top.awaiting_value and top.key is not None:
            return f"{top.path}.{top.key}" if top.path else top.key
        return top.path

    def _scalar(self, event: yaml.ScalarEvent) -> bool:
        # The hot path (most events are scalars): the spec path is built only for an error.
        mark = _mark(event)
        self._values += 1
        if self._values > MAX_VALUES:
            return self._count(mark, self._child_path(), 0)
        top = self._stack[-1] if self._stack else None
        if top is not None and top.is_map and not top.awaiting_value:
            # Keys stay the raw text: a state named `No` must not become False.
            node = Node("scalar", mark.line + 1, mark.column + 1, event.value)
        else:
            node = Node("scalar", mark.line + 1, mark.column + 1, self._value(event))
        if event.anchor is not None:
            self._anchors[event.anchor] = _Anchored(node, 1, 0, event.value)
        self._attach(node, 1, 0, event.value, mark)
        return True

    def _open(self, event: yaml.CollectionStartEvent) -> bool:
        path, mark = self._child_path(), _mark(event)
        if len(self._stack) >= MAX_DEPTH:
            self.error(
                mark,
                path,
                f"the document nests more than {MAX_DEPTH} levels deep",
                "flatten the structure; a spec needs a few dozen levels at most",
            )
            return False
        if not self._count(mark, path, 1):
            return False
        is_map = isinstance(event, yaml.MappingStartEvent)
        if event.tag not in (None, "!", _MAP if is_map else _SEQ):
            self._bad_tag(mark, path, event.tag)
        node = Node("map" if is_map else "seq", mark.line + 1, mark.column + 1)
        self._stack.append(_Open(node, path, event.anchor, mark, is_map))
        if event.anchor is not None:
            self._open_anchors.add(event.anchor)
        return True

    def _close(self) -> bool:
        done = self._stack.pop()
        if done.anchor is not None:
            self._open_anchors.discard(done.anchor)
            self._anchors[done.anchor] = _Anchored(done.node, done.size, done.height, None)
        self._attach(done.node, done.size, done.height, None, done.mark)
        return True

    def _alias(self, event: yaml.AliasEvent) -> bool:
        path, mark, name = self._child_path(), _mark(event), str(event.anchor)
        if name in self._open_anchors:
            self.error(
                mark,
                path,
                f"alias *{name} is used inside the value it refers to",
                "remove the recursive alias: a spec is a tree",
            )
            return False
        target = self._anchors.get(name)
        if target is None:
            self.error(
                mark,
                path,
                f"invalid YAML: found undefined alias {name!r}",
                "define the anchor before using it",
            )
            return False
        if len(self._stack) + target.height > MAX_DEPTH:
            self.error(
                mark,
                path,
                f"alias *{name} makes the document nest more than {MAX_DEPTH} levels deep",
                "flatten the structure; a spec needs a few dozen levels at most",
            )
            return False
        if not self._count(mark, path, target.size):
            return False
        self._attach(target.node, target.size, target.height, target.raw, mark)
        return True

    def _attach(self, node: Node, size: int, height: int, raw: str | None, mark: Any) -> None:
        if not self._stack:
            self.root = node
            return
        top = self._stack[-1]
        top.size += size
        top.height = max(top.height, height + 1)
        if not top.is_map:
            top.node.items.append(node)
        elif top.awaiting_value:
            top.awaiting_value = False
            if top.key is not None:
                top.node.mapping[top.key] = node
        else:
            top.awaiting_value = True
            top.key = self._key(top, node, raw, mark)

    def _key(self, top: _Open, node: Node, raw: str | None, mark: Any) -> str | None:
        if node.kind != "scalar" or raw is None:
            self.error(mark, top.path, "a mapping key must be plain text", "quote the key")
            return None
        key = raw
        child_path = f"{top.path}.{key}" if top.path else key
        first = top.node.key_nodes.get(key)
        if first is not None:
            self.error(
                mark,
                child_path,
                f"duplicate key {key!r} (first defined at line {first.line}, column {first.col})",
                "remove or rename one of the two keys; YAML would silently keep the last",
            )
            return None
        # An alias's node may hold a converted value (1, not "1"): the key node holds the text.
        key_node = node if node.scalar == key else Node("scalar", node.line, node.col, key)
        top.node.key_nodes[key] = key_node
        return key

    def _value(self, event: yaml.ScalarEvent) -> Any:
        tag, text = event.tag, event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return text  # quoted: a string
            tag = _implicit_tag(text)
        if tag in (_STR, _TIMESTAMP):
            return text
        if tag == _INT:
            # Plain decimals are most integers; YAML 1.1 reads 012 as octal, so not those.
            if text.isdigit() and (text[0] != "0" or text == "0"):
                return int(text)
            return self._constructor.construct_yaml_int(yaml.ScalarNode(tag, text))
        if tag == _FLOAT:
            value = self._constructor.construct_yaml_float(yaml.ScalarNode(tag, text))
            if value != value or value in (float("inf"), float("-inf")):
                self.error(
                    _mark(event),
                    self._child_path(),
                    "NaN and infinity are not valid JSON",
                    "use a finite number",
                )
                return None
            return value
        if tag == _BOOL:
            return self._constructor.construct_yaml_bool(yaml.ScalarNode(tag, text))
        if tag != _NULL:
            self._bad_tag(_mark(event), self._child_path(), tag)
            return text
        return None

    def _bad_tag(self, mark: Any, path: str, tag: str | None) -> None:
        self.error(
            mark,
            path,
            f"unsupported YAML tag {tag!r}",
            "remove the tag; a spec holds plain mappings, lists, strings, numbers and booleans",
        )


def load_text(text: str, file: str) -> tuple[Node | None, list[Diagnostic]]:
    if len(text) > MAX_SPEC_BYTES:
        return None, [_too_large(file, text[:MAX_SPEC_BYTES])]
    builder = _Builder(file)
    try:
        complete = builder.build(yaml.parse(text, Loader=_PARSER))
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
    if not complete:
        return None, builder.diagnostics
    if builder.root is None:
        return None, [Diagnostic(file, 1, 1, "", "the spec is empty", "write a workflow spec")]
    return builder.root, builder.diagnostics


def _too_large(file: str, head: str) -> Diagnostic:
    """Located where the limit is crossed, so the file needs no further reading."""
    line = head.count("\n") + 1
    col = len(head) - (head.rfind("\n") + 1) + 1
    return Diagnostic(
        file,
        line,
        col,
        "",
        f"the spec is larger than {MAX_SPEC_BYTES} bytes",
        "a state machine definition is at most 1 MB: split the workflow into several specs",
    )


def load_file(path: Path, display: str | None = None) -> tuple[Node | None, list[Diagnostic]]:
    name = display if display is not None else str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SPEC_BYTES + 1)  # never more than one byte over the limit
    except OSError as exc:
        return None, [
            Diagnostic(name, 1, 1, "", f"cannot read the spec: {exc.strerror}", "check the path")
        ]
    if len(data) > MAX_SPEC_BYTES:
        return None, [_too_large(name, data[:MAX_SPEC_BYTES].decode("utf-8", "replace"))]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [
            Diagnostic(name, 1, 1, "", f"the file is not UTF-8 ({exc.reason})", "save as UTF-8")
        ]
    return load_text(text, name)
