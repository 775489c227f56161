"""JSONata in a spec: which strings are `{% %}` expressions, their syntax, and what they read.

Syntax is checked by the JSONata parser of `jsonata-rs` (the engine the emulator's shim runs
too); an error is reported at its own line and column inside the spec file wherever the YAML
writes the string on one line or as a `|` block, else at the string with the offset named.
References are found by a small scanner (strings, regex literals and comments skipped): every
`$states.X` must be a field AWS sets in that place, every `$name` a variable assigned in this
scope or an enclosing one, a local binding (`:=`, a function parameter), or a function.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from generator.loader import Node
from generator.report import Reporter, did_you_mean, join
from generator.vocabulary import (
    AWS_JSONATA_FUNCTIONS,
    JSONATA_FUNCTIONS,
    RESERVED_VARIABLE,
    STATES_FIELDS,
)

OPEN, CLOSE = "{%", "%}"
# A spec may hold at most 2 MiB; one expression is bounded again before the parser sees it
# (which bounds nesting itself: depth 1,000, a located error).
EXPRESSION_MAX_CHARS = 65536
_FUNCTIONS = JSONATA_FUNCTIONS | AWS_JSONATA_FUNCTIONS
_NAME = re.compile(r"[A-Za-z0-9_]*")
# After one of these a `/` starts a regex literal; after a value it divides.
_BEFORE_REGEX = set("([,:;?{=!<>&|+-*%~")


def is_expression(value: Any) -> bool:
    """A string that Step Functions evaluates: `{% ... %}`."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return len(text) >= 4 and text.startswith(OPEN) and text.endswith(CLOSE)


def half_open(value: Any) -> bool:
    """A string with one delimiter of an expression but not the other: a typo, not text."""
    if not isinstance(value, str) or is_expression(value):
        return False
    text = value.strip()
    return text.startswith(OPEN) or text.endswith(CLOSE)


@dataclass(frozen=True, slots=True)
class Place:
    """Where an expression is written: what `$states` holds there, and the variables visible."""

    field: str  # for messages: "Arguments", "a catcher's Output", ...
    variables: frozenset[str]
    result: bool = False  # $states.result: a Task's, Parallel's or Map's Output and Assign
    error_output: bool = False  # $states.errorOutput: a catcher's Output and Assign


@dataclass(frozen=True, slots=True)
class _Ref:
    name: str  # without the "$"
    offset: int  # of the "$" in the expression body
    called: bool  # followed by "("
    member: str | None  # the field after "." ($states.input -> "input")


class Expressions:
    """Checks the expressions of one spec, reporting through `r`."""

    def __init__(self, r: Reporter, source: Path | None) -> None:
        self.r = r
        self.source = source
        self._lines: list[str] | None = None

    # -- entry points -------------------------------------------------------------------------

    def template(self, node: Node, path: str, place: Place) -> None:
        """Free-form JSON (Arguments, Output, Assign values...): every string in it that is an
        expression, at any depth, and no half-written one."""
        if node.is_map:
            for key, value in node.mapping.items():
                self.template(value, join(path, key), place)
        elif node.is_seq:
            for i, value in enumerate(node.items):
                self.template(value, join(path, i), place)
        elif is_expression(node.scalar):
            self.expression(node, path, place)
        elif half_open(node.scalar):
            self._half_open(node, path)

    def expression(self, node: Node, path: str, place: Place) -> None:
        """One string that is an expression: syntax, then the names it reads."""
        value: str = node.scalar
        if len(value) > EXPRESSION_MAX_CHARS:
            self.r.error(
                node,
                path,
                f"the JSONata expression is {len(value)} characters long",
                f"keep expressions under {EXPRESSION_MAX_CHARS} characters",
            )
            return
        start = value.index(OPEN) + len(OPEN)
        body = value[start : value.rindex(CLOSE)]
        if not body.strip():
            self.r.error(node, path, "the JSONata expression is empty", "write {% expression %}")
            return
        problem = syntax_error(body)
        if problem is not None:
            message, offset = problem
            self._at(node, path, start + offset, f"invalid JSONata: {message}", _SYNTAX_FIX)
            return
        for ref, reference_problem, fix in check_references(body, place):
            self._at(node, path, start + ref.offset, reference_problem, fix)

    def value_or_expression(self, node: Node, path: str, place: Place) -> bool:
        """True when `node` is an expression (then checked); a half-written one is reported and
        also counts, so that the caller does not report a wrong type on top."""
        if is_expression(node.scalar):
            self.expression(node, path, place)
            return True
        if half_open(node.scalar):
            self._half_open(node, path)
            return True
        return False

    # -- reporting at the right column --------------------------------------------------------

    def _half_open(self, node: Node, path: str) -> None:
        self.r.error(
            node,
            path,
            "this string has only one of the JSONata delimiters {% and %}",
            "write the whole expression as '{% expression %}', or no delimiter for plain text",
        )

    def _at(self, node: Node, path: str, offset: int, message: str, fix: str) -> None:
        line, col = self.position(node, offset)
        if (line, col) == (node.line, node.col):
            message += f" (character {offset + 1} of the string)"
        where = Node("scalar", line, col, node.scalar)
        self.r.error(where, path, message, fix)

    def position(self, node: Node, offset: int) -> tuple[int, int]:
        """The file position of character `offset` of the string `node` holds."""
        value: str = node.scalar
        lines = self._source()
        if not lines or node.line > len(lines):
            return node.line, node.col
        first = lines[node.line - 1][node.col - 1 :]
        if "\n" not in value:
            if first.startswith(value):  # a plain scalar
                return node.line, node.col + offset
            if first[:1] in "'\"" and first[1:].startswith(value):  # quoted, nothing escaped
                return node.line, node.col + 1 + offset
            return node.line, node.col
        if first.rstrip().startswith("|"):  # a literal block: one source line per value line
            before = value[:offset]
            index = before.count("\n")
            row = node.line + 1 + index
            wanted = value.split("\n")[index]
            if row <= len(lines) and wanted and lines[row - 1].endswith(wanted):
                indent = len(lines[row - 1]) - len(wanted)
                return row, indent + 1 + len(before) - (before.rfind("\n") + 1)
        return node.line, node.col

    def _source(self) -> list[str]:
        if self._lines is None:
            self._lines = []
            if self.source is not None:
                # Unreadable now: positions fall back to the string's own.
                with contextlib.suppress(OSError, UnicodeDecodeError):
                    self._lines = self.source.read_text(encoding="utf-8").split("\n")
        return self._lines


_SYNTAX_FIX = "fix the expression (JSONata 2.0 syntax: https://docs.jsonata.org)"


@cache
def _parser() -> Any:
    # Imported on first use: specs without JSONata never load the extension module.
    import jsonata

    return jsonata


def syntax_error(body: str) -> tuple[str, int] | None:
    """The parser's message and the offset it names, or None when `body` parses."""
    jsonata = _parser()
    try:
        jsonata.Jsonata(body)
    except jsonata.JsonataError as exc:
        position = getattr(exc, "position", -1)
        offset = max(0, min(position - 1 if position > 0 else 0, len(body) - 1))
        return f"{exc} ({getattr(exc, 'code', '?')})", offset
    return None


def check_references(body: str, place: Place) -> Iterator[tuple[_Ref, str, str]]:
    """(reference, problem, fix) for every name `body` may not read in `place`."""
    refs = list(_scan(body))
    local = {ref.name for ref in refs if _binds(body, ref)} | _parameters(body)
    for ref in refs:
        name = ref.name
        if name == RESERVED_VARIABLE:
            yield from _states_field(ref, place)
        elif ref.called:
            if name == "eval":
                yield ref, "$eval is not available in Step Functions", "use $parse"
            elif name not in _FUNCTIONS and name not in local:
                yield ref, f"unknown JSONata function ${name}", _function_fix(name)
        elif name in ("", "$") or name in local or name in _FUNCTIONS:
            continue  # the context value, a local binding, or a function passed as a value
        elif name not in place.variables:
            yield (
                ref,
                f"variable ${name} is not assigned in this scope or an enclosing one",
                "assign it with Assign in a state of this scope or an enclosing one (a Map "
                "iteration or Parallel branch cannot read what another scope assigns)",
            )


def _function_fix(name: str) -> str:
    return did_you_mean(name, _FUNCTIONS) or "use a JSONata or Step Functions function"


def _states_field(ref: _Ref, place: Place) -> Iterator[tuple[_Ref, str, str]]:
    field = ref.member
    if field is None:
        return
    if field not in STATES_FIELDS:
        yield (
            ref,
            f"$states has no field {field!r}",
            "use $states.input, $states.context, $states.result or $states.errorOutput",
        )
    elif field == "result" and not place.result:
        yield (
            ref,
            f"$states.result is not available in {place.field}",
            "read it in the Output or Assign of a Task, Parallel or Map state",
        )
    elif field == "errorOutput" and not place.error_output:
        yield (
            ref,
            f"$states.errorOutput is not available in {place.field}",
            "read it in the Output or Assign of a catcher (Catch)",
        )


def _binds(body: str, ref: _Ref) -> bool:
    """`$name :=` (a local variable of the expression)."""
    rest = body[ref.offset + 1 + len(ref.name) :].lstrip()
    return rest.startswith(":=")


def _parameters(body: str) -> set[str]:
    """The parameters of every `function($a, $b)` (or `λ(...)`) in `body`."""
    names: set[str] = set()
    for match in re.finditer(r"(?:\bfunction|λ)\s*\(([^)]*)\)", body):
        names.update(re.findall(r"\$([A-Za-z0-9_]+)", match.group(1)))
    return names


def _scan(body: str) -> Iterator[_Ref]:
    """Every `$name` outside string and regex literals and comments."""
    i, n = 0, len(body)
    previous = ""  # the last significant character, to tell a regex from a division
    while i < n:
        c = body[i]
        if c in "'\"":
            i = _skip_string(body, i)
            previous = "a"
            continue
        if c == "/" and body.startswith("/*", i):
            end = body.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == "/" and (previous == "" or previous in _BEFORE_REGEX):
            i = _skip_regex(body, i)
            previous = "a"
            continue
        if c == "`":  # a quoted field name
            end = body.find("`", i + 1)
            i = n if end < 0 else end + 1
            previous = "a"
            continue
        if c == "$":
            name = "$" if body.startswith("$$", i) else _NAME.match(body, i + 1).group()  # type: ignore[union-attr]
            end = i + 1 + len(name)
            rest = body[end:].lstrip()
            member = None
            if rest.startswith("."):
                m = _NAME.match(rest, 1)
                member = m.group() if m and m.group() else None
            yield _Ref(name, i, rest.startswith("("), member)
            i = end
            previous = "a"
            continue
        if not c.isspace():
            previous = c if not (c.isalnum() or c == "_") else "a"
        i += 1


def _skip_string(body: str, i: int) -> int:
    quote, i = body[i], i + 1
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == quote:
            return i + 1
        i += 1
    return i


def _skip_regex(body: str, i: int) -> int:
    i += 1
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == "/":
            return i + 1
        i += 1
    return i
