"""The SQS message body the generated ASL sends (contracts.md, "SQS message body")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_BODY_KEYS = frozenset({"input", "taskToken", "context"})
_CONTEXT_KEYS = frozenset({"workflow", "worker", "state", "execution"})
_CONTEXT_OPTIONAL = frozenset({"heartbeatSeconds"})
_CONTEXT_ALL = _CONTEXT_KEYS | _CONTEXT_OPTIONAL


class MalformedBody(ValueError):
    """The body is not what the ASL sends: nothing can be called back, so it goes to the DLQ."""


@dataclass(slots=True)  # not frozen: a frozen __init__ is 3x slower
class TaskMessage:
    input: Any
    task_token: str
    workflow: str
    worker: str
    state: str
    execution: str
    heartbeat_seconds: float | None


def parse_body(body: str | None) -> TaskMessage:
    """Validate exactly the contract's shape; written for speed (it runs once per record).

    SQS bounds the size (1 MiB); the depth is bounded here: JSON nested deeper than the
    interpreter's recursion limit (about 1,000 levels) is refused, not a crash of the batch.
    """
    if type(body) is not str:
        raise MalformedBody("empty body" if body is None else "body is not a string")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedBody(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise MalformedBody("body is nested too deep (over about 1,000 levels)") from None
    if type(data) is not dict:
        raise MalformedBody("body is not a JSON object")
    if data.keys() != _BODY_KEYS:
        raise MalformedBody(_key_problem("body", data.keys(), _BODY_KEYS, frozenset()))
    token, ctx = data["taskToken"], data["context"]
    if type(token) is not str or not token:
        raise MalformedBody("taskToken is not a non-empty string")
    if type(ctx) is not dict:
        raise MalformedBody("context is not an object")
    if ctx.keys() != _CONTEXT_KEYS and ctx.keys() != _CONTEXT_ALL:
        raise MalformedBody(_key_problem("context", ctx.keys(), _CONTEXT_KEYS, _CONTEXT_OPTIONAL))
    workflow, worker, state, execution = (
        ctx["workflow"],
        ctx["worker"],
        ctx["state"],
        ctx["execution"],
    )
    if not (
        type(workflow) is str
        and type(worker) is str
        and type(state) is str
        and type(execution) is str
    ):
        raise MalformedBody("context: workflow, worker, state and execution must be strings")
    heartbeat = ctx.get("heartbeatSeconds")
    if heartbeat is not None and (
        isinstance(heartbeat, bool) or not isinstance(heartbeat, int | float) or heartbeat <= 0
    ):
        raise MalformedBody("context.heartbeatSeconds is not a positive number")
    return TaskMessage(data["input"], token, workflow, worker, state, execution, heartbeat)


def _key_problem(where: str, keys: Any, required: frozenset[str], optional: frozenset[str]) -> str:
    missing = sorted(required - set(keys))
    unknown = sorted(set(keys) - required - optional)
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if unknown:
        parts.append(f"unexpected {unknown}")
    return f"{where}: " + ", ".join(parts)
