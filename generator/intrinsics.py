"""Intrinsic functions (`States.Format('{}', $.x)` and the rest) and the values of `.$` keys.

A call is parsed into its arguments, then checked against what Step Functions accepts: the
function exists, it gets as many arguments as it takes, and every argument whose type is known
before the execution runs has the type the function takes there. A literal ('text', 42, true,
null) or a nested call (by what it returns) has a known type; a path ($.x, $$.Execution.Id,
$name) has not, and stands for any value. What each function takes is AWS's ("Intrinsic
functions for JSONPath states" in the Step Functions developer guide). The guide says
States.MathAdd and States.MathRandom round a fractional number (LocalStack, which mirrors AWS,
rounds the numbers of States.ArrayRange and States.ArrayPartition too), so a number is taken
there; an array index is a whole number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from generator.jsonpath import check_path
from generator.report import did_you_mean


class Kind(StrEnum):
    """What an argument holds or a function returns, named as messages say it."""

    ANY = "any value"
    STRING = "a string"
    NUMBER = "a number"
    INTEGER = "a whole number"
    BOOLEAN = "a boolean"
    ARRAY = "an array"
    OBJECT = "a JSON object"
    NULL = "null"


@dataclass(frozen=True, slots=True)
class Signature:
    params: tuple[Kind, ...]
    returns: Kind
    usage: str  # an example call, for the fixes
    optional: int = 0  # how many of the last params may be left out
    rest: Kind | None = None  # the kind of every argument after params (no upper bound)


_K = Kind
SIGNATURES: dict[str, Signature] = {
    "Array": Signature((), _K.ARRAY, "States.Array($.a, 'b', 1)", rest=_K.ANY),
    "ArrayPartition": Signature(
        (_K.ARRAY, _K.NUMBER), _K.ARRAY, "States.ArrayPartition($.items, 4)"
    ),
    "ArrayContains": Signature(
        (_K.ARRAY, _K.ANY), _K.BOOLEAN, "States.ArrayContains($.items, $.x)"
    ),
    "ArrayRange": Signature((_K.NUMBER,) * 3, _K.ARRAY, "States.ArrayRange(1, 9, 2)"),
    "ArrayGetItem": Signature((_K.ARRAY, _K.INTEGER), _K.ANY, "States.ArrayGetItem($.items, 0)"),
    "ArrayLength": Signature((_K.ARRAY,), _K.INTEGER, "States.ArrayLength($.items)"),
    "ArrayUnique": Signature((_K.ARRAY,), _K.ARRAY, "States.ArrayUnique($.items)"),
    "Base64Encode": Signature((_K.STRING,), _K.STRING, "States.Base64Encode($.text)"),
    "Base64Decode": Signature((_K.STRING,), _K.STRING, "States.Base64Decode($.encoded)"),
    "Hash": Signature((_K.STRING, _K.STRING), _K.STRING, "States.Hash($.text, 'SHA-256')"),
    "JsonMerge": Signature(
        (_K.OBJECT, _K.OBJECT, _K.BOOLEAN), _K.OBJECT, "States.JsonMerge($.a, $.b, false)"
    ),
    "StringToJson": Signature((_K.STRING,), _K.ANY, "States.StringToJson($.escaped)"),
    "JsonToString": Signature((_K.ANY,), _K.STRING, "States.JsonToString($.object)"),
    "MathRandom": Signature((_K.NUMBER,) * 3, _K.INTEGER, "States.MathRandom(1, 100)", optional=1),
    "MathAdd": Signature((_K.NUMBER, _K.NUMBER), _K.INTEGER, "States.MathAdd($.count, 1)"),
    "StringSplit": Signature((_K.STRING, _K.STRING), _K.ARRAY, "States.StringSplit($.csv, ',')"),
    "UUID": Signature((), _K.STRING, "States.UUID()"),
    "Format": Signature((_K.STRING,), _K.STRING, "States.Format('Hello {}', $.name)", rest=_K.ANY),
}
INTRINSICS = frozenset(SIGNATURES)
HASH_ALGORITHMS = ("MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512")
ARRAY_RANGE_MAX_ITEMS = 1000
# AWS lets a field nest up to 10 intrinsic functions: deeper than that is refused by any
# reading of the limit (and bounds the parser's recursion).
NESTING_MAX = 10

SYNTAX_FIX = "write $.field, $$.Execution.Id or States.Format('{}', $.x)"
_ACCEPTS = {
    Kind.STRING: {Kind.STRING},
    Kind.NUMBER: {Kind.NUMBER, Kind.INTEGER},
    Kind.INTEGER: {Kind.INTEGER},
    Kind.BOOLEAN: {Kind.BOOLEAN},
    Kind.ARRAY: {Kind.ARRAY},
    Kind.OBJECT: {Kind.OBJECT},
}
_KIND_FIX = {
    Kind.STRING: "write text in single quotes ('text'), or a path to a string",
    Kind.NUMBER: "write a number without quotes, or a path to one",
    Kind.INTEGER: "write a whole number without quotes, or a path to one",
    Kind.BOOLEAN: "write true or false without quotes, or a path to a boolean",
    Kind.ARRAY: "pass a path to an array ($.items) or a function that returns one "
    "(States.Array, States.StringSplit, ...)",
    Kind.OBJECT: "pass a path to a JSON object ($.object) or States.StringToJson(...)",
}
_NAME = re.compile(r"States\.([A-Za-z0-9]+)")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z0-9_]+")
_LITERALS = {"true": True, "false": False, "null": None}
_SPACE = " \t\n\r"


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    fix: str = SYNTAX_FIX
    syntax: bool = True  # False: a well-formed call with arguments the function does not take


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Arg, ...]


@dataclass(frozen=True, slots=True)
class Arg:
    text: str  # as written
    kind: Kind  # ANY for a path
    value: object = None  # a literal's value
    call: Call | None = None

    @property
    def literal(self) -> bool:
        return self.call is None and self.kind is not Kind.ANY

    def describe(self) -> str:
        if self.call is not None:
            returns = SIGNATURES[self.call.name].returns
            return f"States.{self.call.name}(...), which returns {returns.value}"
        if self.kind is Kind.STRING:
            return f"the string {self.text}"
        if self.kind in (Kind.NUMBER, Kind.INTEGER):
            return f"the number {self.text}"
        return self.text


class _Syntax(Exception):
    pass


def check_dynamic_value(text: str) -> str | None:
    """The value of a key ending in `.$`: a path, a context path or an intrinsic function."""
    problem = check_dynamic(text)
    return problem.message if problem else None


def check_dynamic(text: str) -> Problem | None:
    if text.startswith("States."):
        return check_intrinsic(text)
    problem = check_path(text)
    return Problem(problem) if problem else None


def check_intrinsic(text: str) -> Problem | None:
    """None when `text` is one call Step Functions accepts; otherwise what is wrong."""
    parser = _Parser(text)
    try:
        call = parser.call(depth=1)
    except _Syntax as e:
        return Problem(str(e))
    if parser.i != len(text):
        if not text[parser.i :].strip(_SPACE):
            return Problem(
                "whitespace after the intrinsic function's closing ')'",
                "remove it (a path may end with whitespace, a call may not)",
            )
        return Problem("unexpected text after the intrinsic function's closing ')'")
    return _check_call(call)


class _Parser:
    """Recursive descent over one call; nesting is bounded by NESTING_MAX."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def _space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _SPACE:
            self.i += 1

    def _peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def call(self, depth: int) -> Call:
        if depth > NESTING_MAX:
            raise _Syntax(f"more than {NESTING_MAX} nested intrinsic functions")
        match = _NAME.match(self.text, self.i)
        if match is None:
            raise _Syntax("an intrinsic function looks like States.Format('{}', $.x)")
        name = match.group(1)
        if name not in SIGNATURES:
            raise _Syntax(f"unknown intrinsic function States.{name}")
        self.i = match.end()
        self._space()
        if self._peek() != "(":
            raise _Syntax(f"expected '(' after States.{name}")
        self.i += 1
        self._space()
        args: list[Arg] = []
        if self._peek() == ")":
            self.i += 1
            return Call(name, ())
        while True:
            args.append(self.arg(depth))
            self._space()
            ch = self._peek()
            self.i += 1
            if ch == ")":
                return Call(name, tuple(args))
            if ch != ",":
                where = f"at position {self.i}" if ch else "at the end"
                raise _Syntax(f"expected ',' or ')' in States.{name}(...) {where}")
            self._space()

    def arg(self, depth: int) -> Arg:
        start, ch = self.i, self._peek()
        if ch in ("'", '"'):
            return self._string(start)
        if self.text.startswith("States.", start):
            call = self.call(depth + 1)
            return Arg(self.text[start : self.i], SIGNATURES[call.name].returns, call=call)
        if ch == "$":
            return self._path(start)
        number = _NUMBER.match(self.text, start)
        word = _WORD.match(self.text, start)
        if number is not None and (word is None or word.end() <= number.end()):
            value = float(number.group())
            if not math.isfinite(value):
                raise _Syntax(f"the number at position {start + 1} is out of range")
            self.i = number.end()
            whole = value.is_integer() and number.group(1) is None and number.group(2) is None
            return Arg(number.group(), Kind.INTEGER if whole else Kind.NUMBER, value)
        if word is not None and word.group() in _LITERALS:
            self.i = word.end()
            literal = _LITERALS[word.group()]
            return Arg(word.group(), Kind.NULL if literal is None else Kind.BOOLEAN, literal)
        raise _Syntax(
            f"expected an argument at position {start + 1}: 'text', a number, true, false, "
            "null, a path or States.Name(...)"
        )

    def _string(self, start: int) -> Arg:
        quote, i = self.text[start], start + 1
        chars: list[str] = []
        while i < len(self.text) and self.text[i] != quote:
            if self.text[i] == "\\" and i + 1 < len(self.text):
                i += 1
            chars.append(self.text[i])
            i += 1
        if i >= len(self.text):
            raise _Syntax(f"unterminated string starting at position {start + 1}")
        self.i = i + 1
        return Arg(self.text[start : self.i], Kind.STRING, "".join(chars))

    def _path(self, start: int) -> Arg:
        """A path runs to the first ',', ')' or space outside brackets, parentheses and
        quotes; its syntax is a path's."""
        i, depth, quote = start, 0, ""
        while i < len(self.text):
            ch = self.text[i]
            if quote:
                quote = "" if ch == quote else quote
                i += 2 if ch == "\\" else 1
                continue
            if depth == 0 and (ch in ",)" or ch in _SPACE):
                break
            if ch in "'\"":
                quote = ch
            depth += 1 if ch in "[(" else -1 if ch in "])" else 0
            i += 1
        text = self.text[start:i]
        if (problem := check_path(text)) is not None:
            raise _Syntax(f"argument {text!r}: {problem}")
        self.i = i
        return Arg(text, Kind.ANY)


def _check_call(call: Call) -> Problem | None:
    sig = SIGNATURES[call.name]
    if (problem := _arity(call, sig)) is not None:
        return problem
    for i, arg in enumerate(call.args):
        if arg.call is not None and (problem := _check_call(arg.call)) is not None:
            return problem
        expected = sig.params[i] if i < len(sig.params) else sig.rest
        if expected is None or expected is Kind.ANY or arg.kind is Kind.ANY:
            continue
        if arg.kind not in _ACCEPTS[expected]:
            return Problem(
                f"States.{call.name} takes {expected.value} as argument {i + 1}, "
                f"got {arg.describe()}",
                _KIND_FIX[expected],
                syntax=False,
            )
    return _values(call)


def _arity(call: Call, sig: Signature) -> Problem | None:
    n, most = len(call.args), len(sig.params)
    least = most - sig.optional
    if least <= n and (sig.rest is not None or n <= most):
        return None
    if sig.rest is not None:
        wanted = f"at least {_count(least)}"
    elif least == most:
        wanted = "no arguments" if most == 0 else _count(most)
    else:
        wanted = f"{least} or {_count(most)}"
    return Problem(
        f"States.{call.name} takes {wanted}, got {n}", f"write {sig.usage}", syntax=False
    )


def _count(n: int) -> str:
    return f"{n} argument" + ("" if n == 1 else "s")


def _values(call: Call) -> Problem | None:
    """The rules on the values of literal arguments, beyond their type."""
    args = call.args
    if call.name == "Hash" and args[1].literal and args[1].value not in HASH_ALGORITHMS:
        choices = ", ".join(f"'{a}'" for a in HASH_ALGORITHMS)
        hint = did_you_mean(str(args[1].value), HASH_ALGORITHMS)
        return Problem(
            f"States.Hash has no algorithm {args[1].text}",
            f"use one of {choices}" + (f" ({hint})" if hint else ""),
            syntax=False,
        )
    if call.name == "JsonMerge" and args[2].value is True:
        return Problem(
            "States.JsonMerge merges shallowly only: its third argument must be false",
            "write false (Step Functions has no deep merge)",
            syntax=False,
        )
    if call.name == "ArrayPartition" and args[1].literal and _rounded(args[1]) <= 0:
        return Problem(
            f"States.ArrayPartition needs a chunk size above 0, got {args[1].text}",
            "write a positive whole number",
            syntax=False,
        )
    if call.name == "ArrayRange":
        return _array_range(args)
    return None


def _array_range(args: tuple[Arg, ...]) -> Problem | None:
    if args[2].literal and _rounded(args[2]) == 0:
        return Problem(
            "States.ArrayRange's step (argument 3) is 0",
            "write a step other than 0, such as 1",
            syntax=False,
        )
    if not all(a.literal for a in args):
        return None
    first, last, step = (_rounded(a) for a in args)
    items = max(0, (last - first) // step + 1)
    if items > ARRAY_RANGE_MAX_ITEMS:
        return Problem(
            f"States.ArrayRange({', '.join(a.text for a in args)}) would make {items} items, "
            f"and Step Functions allows at most {ARRAY_RANGE_MAX_ITEMS}",
            "narrow the range or raise the step",
            syntax=False,
        )
    return None


def _rounded(arg: Arg) -> int:
    """A number argument as Step Functions reads it: rounded half up (Java's Math.round)."""
    assert isinstance(arg.value, float)
    return math.floor(arg.value + 0.5)
