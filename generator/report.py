"""Collecting diagnostics while walking a spec, plus small typed field readers.

Each reader reports a precise diagnostic on a wrong type or out-of-range value and returns
None, so validation keeps going and the user sees every problem in one run.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable

from generator.errors import Diagnostic, Severity
from generator.loader import Node, describe_value


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def value_at(node: Node, path: str, field: str) -> tuple[Node, str]:
    """Where a problem with a field's value is reported: the value, else (when the field is
    absent and a default stands in) the mapping that lacks it."""
    return node.get(field) or node, join(path, field)


def key_at(node: Node, path: str, field: str) -> tuple[Node, str]:
    """Where a problem with a field's presence is reported: its key."""
    return node.key_node(field), join(path, field)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


def whole_number(node: Node) -> int | None:
    """The integer a scalar holds, accepting 60.0 for 60 (YAML and JSON writers emit both)."""
    value = node.scalar
    if node.kind != "scalar" or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


class Reporter:
    def __init__(self, file: str) -> None:
        self.file = file
        self.diagnostics: list[Diagnostic] = []

    def error(self, node: Node, path: str, message: str, fix: str) -> None:
        self.diagnostics.append(Diagnostic(self.file, node.line, node.col, path, message, fix))

    def warning(self, node: Node, path: str, message: str, fix: str) -> None:
        self.diagnostics.append(
            Diagnostic(self.file, node.line, node.col, path, message, fix, Severity.WARNING)
        )

    def _wrong_type(self, node: Node, path: str, what: str, expected: str, fix: str) -> None:
        self.error(node, path, f"{what} must be {expected}, got {node.type_name()}", fix)

    # -- shapes ---------------------------------------------------------------------------

    def is_map(self, node: Node, path: str, what: str) -> bool:
        if node.is_map:
            return True
        self._wrong_type(node, path, what, "a mapping", "write key: value pairs")
        return False

    def is_seq(self, node: Node, path: str, what: str, non_empty: bool = True) -> bool:
        if not node.is_seq:
            self._wrong_type(node, path, what, "a list", "write a YAML list (- item)")
            return False
        if non_empty and not node.items:
            self.error(node, path, f"{what} must not be empty", "add at least one item")
            return False
        return True

    def exactly_one(
        self, node: Node, path: str, found: list[str], needs: str, fix: str
    ) -> str | None:
        """The one key of `found`, the keys of `node` that exclude each other."""
        if len(found) == 1:
            return found[0]
        self.error(node, path, f"{needs} (found: {', '.join(found) or 'none'})", fix)
        return None

    def exclusive(self, node: Node, path: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Fields that set the same thing (a value and its `...Path` twin): at most one of
        each pair, reported at the second."""
        for first, second in pairs:
            if first in node.mapping and second in node.mapping:
                self.error(
                    *key_at(node, path, second),
                    f"{first} and {second} are mutually exclusive",
                    f"keep {first} or {second}",
                )

    def keys(
        self,
        node: Node,
        path: str,
        allowed: Collection[str],
        required: Iterable[str] = (),
        what: str = "this mapping",
    ) -> None:
        """Unknown keys (with a suggestion) and missing required keys."""
        for key in node.mapping:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                fix = hint or f"allowed keys: {', '.join(sorted(allowed))}"
                self.error(*key_at(node, path, key), f"unknown key {key!r} in {what}", fix)
        for key in required:
            if key not in node.mapping:
                self.error(
                    node, path, f"{what} is missing the required key {key!r}", f"add {key}: ..."
                )

    # -- scalars --------------------------------------------------------------------------

    def string(self, node: Node, path: str, what: str, non_empty: bool = True) -> str | None:
        if node.kind != "scalar" or not isinstance(node.scalar, str):
            fix = "write text; quote it if YAML reads it as another type"
            self._wrong_type(node, path, what, "a string", fix)
            return None
        if non_empty and not node.scalar:
            self.error(node, path, f"{what} must not be empty", "write a non-empty value")
            return None
        return node.scalar

    def integer(
        self, node: Node, path: str, what: str, lo: int, hi: int, why: str = ""
    ) -> int | None:
        value = whole_number(node)
        if value is None:
            self._wrong_type(
                node, path, what, "a whole number", f"write an integer from {lo} to {hi}"
            )
            return None
        if not lo <= value <= hi:
            reason = f" ({why})" if why else ""
            self.error(
                node,
                path,
                f"{what} must be between {lo} and {hi}, got {value}{reason}",
                f"use a value from {lo} to {hi}",
            )
            return None
        return value

    def number(self, node: Node, path: str, what: str, lo: float, hi: float) -> float | None:
        value = node.scalar
        if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong_type(node, path, what, "a number", f"write a number from {lo:g} to {hi:g}")
            return None
        if not lo <= value <= hi:
            self.error(
                node,
                path,
                f"{what} must be between {lo:g} and {hi:g}, got {value:g}",
                f"use a value from {lo:g} to {hi:g}",
            )
            return None
        return float(value)

    def boolean(self, node: Node, path: str, what: str) -> bool | None:
        if node.kind != "scalar" or not isinstance(node.scalar, bool):
            self._wrong_type(node, path, what, "true or false", "write true or false")
            return None
        return bool(node.scalar)

    def choice(self, node: Node, path: str, what: str, options: Collection[str]) -> str | None:
        value = self.string(node, path, what)
        if value is None:
            return None
        if value not in options:
            hint = did_you_mean(value, options)
            self.error(
                node,
                path,
                f"{what} must be one of {', '.join(sorted(options))}, got {describe_value(value)}",
                hint or f"use one of {', '.join(sorted(options))}",
            )
            return None
        return value
