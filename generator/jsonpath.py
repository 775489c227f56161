"""A small, strict syntax checker for the JSONPath subset ASL accepts.

It does not evaluate anything; it answers "would Step Functions reject this string?" for the
flavours ASL uses: reference paths (`ResultPath`: one node, no operators) and paths
(`InputPath`, `ItemsPath`, Choice `Variable`, `...Path` fields, `.$` values: operators
allowed). Intrinsic functions are `intrinsics`' concern.
"""

from __future__ import annotations

import re

# A member name: anything up to the next '.' or '[' but whitespace, quotes, parentheses and the
# filter operators (Jayway JsonPath, which Step Functions runs, reads `$.custom:id`, `$.@type`
# or `$.a*b` as names, and so does asl-validator).
_NAME = re.compile(r"[^.\[\]\s'\"()=<>!,]+")
_INT = re.compile(r"-?\d+")
_SLICE = re.compile(r"-?\d*:-?\d*(:-?\d+)?")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # `$name`: a workflow variable (Assign)


def _quoted(text: str, i: int) -> int | None:
    """Index just past the quoted string starting at text[i], or None if unterminated."""
    quote = text[i]
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return None


def _balanced(text: str, i: int) -> int | None:
    """Index just past the parenthesised group opening at text[i]."""
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            end = _quoted(text, i)
            if end is None:
                return None
            i = end
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _bracket(text: str, i: int, reference: bool) -> tuple[int | None, str]:
    """Parse `[...]` starting at text[i] == '['. Returns (end, problem)."""
    j = _space(text, i + 1)
    if j < len(text) and text[j] in "'\"":
        return _quoted_names(text, j, reference)
    if j < len(text) and text[j] in "?(":
        return _filter(text, j, reference)
    return _subscript(text, j, reference)


def _space(text: str, i: int) -> int:
    """Past the spaces at text[i], which Jayway JsonPath allows inside brackets."""
    while i < len(text) and text[i] == " ":
        i += 1
    return i


def _closing(text: str, end: int, problem: str) -> tuple[int | None, str]:
    """Past the `]` expected at text[end] (after spaces), or `problem` when it is not there."""
    end = _space(text, end)
    if end >= len(text) or text[end] != "]":
        return None, problem
    return end + 1, ""


def _quoted_names(text: str, j: int, reference: bool) -> tuple[int | None, str]:
    """`['name']`, or a union `['a','b']` where more than one node is allowed."""
    end = _quoted(text, j)
    if end is None:
        return None, "unterminated quoted name"
    while not reference and (comma := _space(text, end)) < len(text) and text[comma] == ",":
        name = _space(text, comma + 1)
        if name >= len(text) or text[name] not in "'\"":
            return None, "expected a quoted name after ','"
        end = _quoted(text, name)
        if end is None:
            return None, "unterminated quoted name"
    return _closing(text, end, "expected ']'")


def _filter(text: str, j: int, reference: bool) -> tuple[int | None, str]:
    """`[?(...)]` or `[(...)]`, starting at text[j] in '?('."""
    if reference:
        return None, "filters and scripts are not allowed in a reference path"
    start = j + 1 if text[j] == "?" else j
    if start >= len(text) or text[start] != "(":
        return None, "expected '(' after '?'"
    end = _balanced(text, start)
    if end is None:
        return None, "unbalanced parentheses in a filter"
    return _closing(text, end, "expected ']' after the filter")


def _subscript(text: str, j: int, reference: bool) -> tuple[int | None, str]:
    """`[0]`, and where more than one node is allowed `[*]`, `[1:3]` or `[0,2]`."""
    close = text.find("]", j)
    if close < 0:
        return None, "missing ']'"
    inner = text[j:close].strip()
    if _INT.fullmatch(inner):
        return close + 1, ""
    if reference:
        return None, f"'[{inner}]' is not allowed in a reference path; use an index or a name"
    if inner == "*" or _SLICE.fullmatch(inner):
        return close + 1, ""
    if all(_INT.fullmatch(p.strip()) for p in inner.split(",")) and inner:
        return close + 1, ""
    return None, f"'[{inner}]' is not a valid index, slice, wildcard or quoted name"


def check_path(text: str, *, reference: bool = False, context: bool = True) -> str | None:
    """None when `text` is a valid path; otherwise what is wrong with it."""
    i, problem = _root(text, reference, context)
    while i is not None and i < len(text):
        ch = text[i]
        if ch == ".":
            i, problem = _member(text, i, reference)
        elif ch == "[":
            i, problem = _bracket(text, i, reference)
        else:
            return f"unexpected {ch!r} at position {i + 1}"
    return None if i is not None else problem


def _root(text: str, reference: bool, context: bool) -> tuple[int | None, str]:
    """Past the path's root: `$`, the context object `$$` or a workflow variable `$name`."""
    if not text.startswith("$"):
        return None, "a path must start with '$'"
    if text.startswith("$$"):
        if not context:
            return None, "the context object ('$$') is not allowed here"
        return 2, ""
    variable = _VARIABLE.match(text, 1)
    if variable is None:
        return 1, ""
    if reference:
        return None, "a variable ('$name') is not allowed in a reference path"
    return variable.end(), ""


def _member(text: str, i: int, reference: bool) -> tuple[int | None, str]:
    """`.name`, `.*`, `..name` or `..*` starting at text[i] == '.'. Returns (end, problem)."""
    deep = text.startswith("..", i)
    if deep and reference:
        return None, "'..' (deep scan) is not allowed in a reference path"
    i += 2 if deep else 1
    if i < len(text) and text[i] == "*":
        if reference:  # a deep scan in a reference path was refused above
            return None, "'*' is not allowed in a reference path"
        return i + 1, ""
    match = _NAME.match(text, i)
    if not match:
        return None, f"expected a field name at position {i + 1}"
    return match.end(), ""
