"""The waiting room's message bodies (docs/contracts.md, "Semaphore: the waiting room"),
parsed and bounded before anything acts on them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

OPS = frozenset({"acquire", "release", "reclaim", "redriven", "limit", "sweep", "tick"})
# A record the gatekeeper cannot read: never applied, dropped; its waiter, if its top-level
# `token` is readable, is answered at once (read()).
UNREADABLE = "unreadable"
# SQS's own maximum: an acquire's key is a value from the execution's input, of any size; it
# is hashed before it becomes part of an item's key.
BODY_MAX_BYTES = 256 * 1024
TOKEN_MAX = 1024  # Step Functions task tokens are 1..1024 characters
EXECUTION_ARN_MAX = 2048
CURSOR_MAX = 4096
LIMIT_MAX = 100_000  # the same bound as the generator's, kept so a typo cannot admit millions
# json's parser and encoder recurse once per level: a key nested a few thousand levels deep
# fits in a few KB yet would overflow the stack and fail the whole batch. The starter's bound.
MAX_DEPTH = 200
SEMAPHORE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
# The message group a semaphore's acquires are sent in, beside the group named after the
# semaphore (releases, reclaims, limit changes, ticks, sweeps): arrivals are recorded in their
# own serial order, and nothing that frees a slot ever waits behind them. A colon is never
# part of a semaphore's name.
ARRIVALS_SUFFIX = ":arrivals"


def semaphore_of_group(group: str) -> str:
    """The semaphore a message group belongs to."""
    return group.removesuffix(ARRIVALS_SUFFIX)


def is_arrivals(group: str) -> bool:
    return group.endswith(ARRIVALS_SUFFIX)


_EXECUTION = re.compile(r"^arn:aws[a-z-]*:states:[^:]+:[0-9]{12}:execution:[^:]+:[^:]+$")
# A JSON string (skipped whole, so brackets inside it do not count) or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# The same, and the comma that ends a member: how a value is skipped without parsing it.
_VALUE_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')
_SPACE = re.compile(r"[ \t\n\r]*")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


class MessageError(ValueError):
    """A body that is not one of ours: logged and dropped, never retried."""


@dataclass(frozen=True, slots=True)
class Message:
    op: str
    semaphore: str
    message_id: str
    execution: str | None = None
    acquire: str | None = None  # the acquire's identity: one per entry of the Acquire state
    token: str | None = None
    limit: int | None = None
    cursor: str | None = None  # where a sweep continues
    key: str | None = None  # an acquire's key value, as canonical JSON (per-key limits)
    priority: Any = None  # an acquire's priority as sent; decide.py checks it (0..9)
    at_ms: int | None = None  # a tick's due time: the rate's next token
    problem: str | None = None  # why an UNREADABLE record could not be read


def read(message_id: str, group: str | None, body: str) -> Message:
    """The record as a message; one that cannot be parsed is an UNREADABLE message carrying
    why, and the `execution` and `token` of an acquire when they can be read at its top level
    (so its execution can be failed at once instead of waiting out `max_wait_seconds`)."""
    try:
        return parse(message_id, group, body)
    except MessageError as exc:
        found = salvage(body)
        token = found.get("token") if found.get("op") == "acquire" else None
        execution = found.get("execution")
        return Message(
            UNREADABLE,
            semaphore_of_group(group) if group is not None else str(found.get("semaphore", "")),
            message_id,
            execution=execution if execution and len(execution) <= EXECUTION_ARN_MAX else None,
            token=token if token and len(token) <= TOKEN_MAX else None,
            problem=str(exc),
        )


def parse(message_id: str, group: str | None, body: str) -> Message:
    try:
        return _parse(message_id, group, body)
    except RecursionError:
        # A backstop: the depth bound should make this unreachable, but an escaped
        # RecursionError would fail the batch and block the semaphore's group.
        raise MessageError("body nests too deep to parse") from None


def _parse(message_id: str, group: str | None, body: str) -> Message:
    data = _decode(body)
    op, semaphore = _addressee(data, group)
    fields: dict[str, Any] = {"op": op, "semaphore": semaphore, "message_id": message_id}
    fields.update(_op_fields(op, data))
    return Message(**fields)


def _decode(body: str) -> dict[str, Any]:
    """The body as a JSON object, refused before parsing when it is too big or too deep."""
    if len(body.encode(errors="surrogatepass")) > BODY_MAX_BYTES:
        raise MessageError(f"body over {BODY_MAX_BYTES} bytes")
    if _nests_deeper(body, MAX_DEPTH):
        raise MessageError(f"body nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MessageError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError("body is not a JSON object")
    return data


def _addressee(data: dict[str, Any], group: str | None) -> tuple[str, str]:
    """The op and the semaphore it is for."""
    op, semaphore = data.get("op"), data.get("semaphore")
    if op not in OPS:
        raise MessageError(f"unknown op {op!r}")
    if not isinstance(semaphore, str) or not SEMAPHORE.match(semaphore):
        raise MessageError(f"bad semaphore {semaphore!r}")
    if group is not None and semaphore_of_group(group) != semaphore:
        # The group is what serialises a semaphore: a body naming another one would be decided
        # outside that semaphore's order.
        raise MessageError(f"semaphore {semaphore!r} sent in message group {group!r}")
    if group is not None and is_arrivals(group) and op != "acquire":
        # Only acquires are recorded there; anything else must be decided in the group that
        # owns the counter.
        raise MessageError(f"op {op!r} sent in the arrivals group {group!r}")
    return op, semaphore


def _op_fields(op: str, data: dict[str, Any]) -> dict[str, Any]:
    """The fields this op carries beyond the semaphore, each checked."""
    fields: dict[str, Any] = {}
    if op in ("acquire", "release", "reclaim", "redriven"):
        fields["execution"] = _string(data, "execution", EXECUTION_ARN_MAX, _EXECUTION)
    if op == "acquire":
        fields.update(_acquire_fields(data))
    if op == "tick" and data.get("at_ms") is not None:
        fields["at_ms"] = _at_ms(data["at_ms"])
    if op == "limit":
        fields["limit"] = _limit(data.get("limit"))
    if op == "sweep" and data.get("cursor") is not None:
        fields["cursor"] = _cursor(_string(data, "cursor", CURSOR_MAX), data["semaphore"])
    return fields


def _acquire_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "acquire": _string(data, "acquire", 128, re.compile(r"^[0-9a-f]{16,128}$")),
        "token": _string(data, "token", TOKEN_MAX),
    }
    if "key" in data:
        fields["key"] = _canonical_key(data["key"])
    if "priority" in data:
        fields["priority"] = data["priority"]
    return fields


def _at_ms(at_ms: Any) -> int:
    if not isinstance(at_ms, int) or isinstance(at_ms, bool) or at_ms < 0:
        raise MessageError("at_ms must be a whole number of milliseconds")
    return at_ms


def _cursor(cursor: str, semaphore: str) -> str:
    """A sweep's cursor is the `holders` index's LastEvaluatedKey as the store wrote it (store.py:
    ``{"holder_of": {"S": NAME}, "id": {"S": "NAME#h#<execution>"}}``); anything else would fail
    the sweep on every delivery, so it is refused here."""
    try:
        data = json.loads(cursor)
    except ValueError:
        raise MessageError("cursor is not JSON") from None
    if not isinstance(data, dict) or sorted(data) != ["holder_of", "id"]:
        raise MessageError("cursor is not a key of the holders index")
    holder_of, item_id = (_string_attribute(data[k]) for k in ("holder_of", "id"))
    prefix = f"{semaphore}#h#"
    if holder_of != semaphore or item_id is None or not item_id.startswith(prefix):
        raise MessageError(f"cursor is not a key of semaphore {semaphore}'s holders")
    if not _EXECUTION.match(item_id[len(prefix) :]):
        raise MessageError("cursor does not name a holder's execution")
    return cursor


def _string_attribute(value: Any) -> str | None:
    """The text of a DynamoDB ``{"S": text}``; None for anything else."""
    if isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str):
        return value["S"]
    return None


def _limit(limit: Any) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIMIT_MAX:
        raise MessageError(f"limit must be a whole number from 1 to {LIMIT_MAX}")
    return limit


def _canonical_key(value: Any) -> str:
    """Any JSON value from the input as canonical text, so two key orders of one object are
    one key. A lone surrogate (a valid JSON escape, not valid Unicode) could be neither hashed
    nor stored, failing the group on every delivery: such a key keeps its escapes instead."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, sort_keys=True)
    return text


def _string(
    data: dict[str, Any], key: str, max_len: int, pattern: re.Pattern[str] | None = None
) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= max_len:
        raise MessageError(f"{key} must be a string of 1..{max_len} characters")
    if pattern is not None and not pattern.match(value):
        raise MessageError(f"{key} {value[:80]!r} is not valid")
    return value


def _nests_deeper(text: str, bound: int) -> bool:
    """Whether brackets outside strings nest deeper than `bound`: a cheap check before the
    recursive parser. It stops at the first level too deep, so a hostile body costs little."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > bound:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def salvage(body: str) -> dict[str, str]:
    """The string members at the top level of a JSON object, read without parsing any nested
    value (the body may be unreadable because of one), the last of a name winning as in
    json.loads. Reading stops at the first thing it cannot read; what it read is returned."""
    found: dict[str, str] = {}
    if len(body) > 4 * BODY_MAX_BYTES:
        return found
    i = _space(body, 0)
    if not body.startswith("{", i):
        return found
    i += 1
    try:
        while (member := _member(body, i)) is not None:
            name, value, i = member
            if value is not None:
                found[name] = value
            if not body.startswith(",", i):
                break
            i += 1
    except ValueError:  # a string that is not valid JSON
        pass
    return found


def _member(text: str, start: int) -> tuple[str, str | None, int] | None:
    """One `"name": value` from `start`: the name, the value if it is a string, and where the
    member ends; None when there is none."""
    name, i = _string_at(text, _space(text, start))
    i = _space(text, i)
    if name is None or not text.startswith(":", i):
        return None
    i = _space(text, i + 1)
    value, end = _string_at(text, i)
    return name, value, _space(text, _value_end(text, i) if value is None else end)


def _string_at(text: str, i: int) -> tuple[str | None, int]:
    """The JSON string at `i` and where it ends; (None, i) when there is none."""
    match = _STRING.match(text, i)
    if match is None:
        return None, i
    value = json.loads(match.group())  # a string literal: no recursion, escapes checked
    return (value, match.end()) if isinstance(value, str) else (None, i)


def _space(text: str, i: int) -> int:
    match = _SPACE.match(text, i)
    return i if match is None else match.end()


def _value_end(text: str, start: int) -> int:
    """Where a value starting at `start` ends: the comma or closing brace after it, outside
    strings and at its own nesting level (counted, never recursed)."""
    depth = 0
    for match in _VALUE_TOKEN.finditer(text, start):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
        elif token in ("]", "}"):
            if depth == 0:
                return match.start()
            depth -= 1
        elif token == "," and depth == 0:
            return match.start()
    return len(text)
