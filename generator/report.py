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


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


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

    # -- shapes ---------------------------------------------------------------------------

    def is_map(self, node: Node, path: str, what: str) -> bool:
        if node.is_map:
            return True
        self.error(
            node,
            path,
            f"{what} must be a mapping, got {node.type_name()}",
            "write key: value pairs",
        )
        return False

    def is_seq(self, node: Node, path: str, what: str, non_empty: bool = True) -> bool:
        if not node.is_seq:
            self.error(
                node,
                path,
                f"{what} must be a list, got {node.type_name()}",
                "write a YAML list (- item)",
            )
            return False
        if non_empty and not node.items:
            self.error(node, path, f"{what} must not be empty", "add at least one item")
            return False
        return True

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
                self.error(
                    node.key_node(key), join(path, key), f"unknown key {key!r} in {what}", fix
                )
        for key in required:
            if key not in node.mapping:
                self.error(
                    node, path, f"{what} is missing the required key {key!r}", f"add {key}: ..."
                )

    # -- scalars --------------------------------------------------------------------------

    def string(self, node: Node, path: str, what: str, non_empty: bool = True) -> str | None:
        if node.kind != "scalar" or not isinstance(node.scalar, str):
            self.error(
                node,
                path,
                f"{what} must be a string, got {node.type_name()}",
                "write text; quote it if YAML reads it as another type",
            )
            return None
        if non_empty and not node.scalar:
            self.error(node, path, f"{what} must not be empty", "write a non-empty value")
            return None
        return node.scalar

    def integer(
        self, node: Node, path: str, what: str, lo: int, hi: int, why: str = ""
    ) -> int | None:
        value = node.scalar
        if node.kind != "scalar" or isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self.error(
                    node,
                    path,
                    f"{what} must be a whole number, got {node.type_name()}",
                    f"write an integer from {lo} to {hi}",
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
            self.error(
                node,
                path,
                f"{what} must be a number, got {node.type_name()}",
                f"write a number from {lo:g} to {hi:g}",
            )
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
            self.error(
                node,
                path,
                f"{what} must be true or false, got {node.type_name()}",
                "write true or false",
            )
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
