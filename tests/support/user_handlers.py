"""Handlers the tests point STEPQUEUE_HANDLER at (``tests.support.user_handlers.<name>``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed

RUNS: list[tuple[str, Any]] = []
_lock = threading.Lock()


def _ran(name: str, payload: Any) -> None:
    with _lock:
        RUNS.append((name, payload))


def ok(payload: Any, ctx: TaskContext) -> Any:
    _ran("ok", payload)
    return {"got": payload, "key": ctx.idempotency_key, "state": ctx.state}


def unicode_error(payload: Any, ctx: TaskContext) -> Any:
    _ran("unicode_error", payload)
    raise ValueError("échec 💥 ñandú 日本語")


class ÜberError(Exception):
    pass


def unicode_class(payload: Any, ctx: TaskContext) -> Any:
    raise ÜberError("kaputt")


def chosen(payload: Any, ctx: TaskContext) -> Any:
    raise TaskFailed(error=payload["error"], cause=payload["cause"])


def huge(payload: Any, ctx: TaskContext) -> Any:
    raise RuntimeError("💥" * 40_000)


def big_output(payload: Any, ctx: TaskContext) -> Any:
    return {"blob": "é" * 140_000}  # 140k chars, 280k bytes


def not_json(payload: Any, ctx: TaskContext) -> Any:
    return {"when": object()}


def hang(payload: Any, ctx: TaskContext) -> Any:
    _ran("hang", payload)
    time.sleep(float(payload["seconds"]))  # the work it simulates: a fixed time on purpose
    return {"slept": payload["seconds"]}


def by_input(payload: Any, ctx: TaskContext) -> Any:
    """Succeeds, or raises when the input says so."""
    _ran("by_input", payload)
    if payload.get("fail"):
        raise KeyError(payload["fail"])
    return payload


# -- failures after the handler returns (or while it unwinds) ---------------------------------


def lone_surrogate(payload: Any, ctx: TaskContext) -> Any:
    _ran("lone_surrogate", payload)
    return {"name": "caf\udce9"}  # a surrogateescape'd byte: not valid Unicode


def too_deep(payload: Any, ctx: TaskContext) -> Any:
    _ran("too_deep", payload)
    value: Any = []
    for _ in range(5000):
        value = [value]
    return value


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken")


def unprintable(payload: Any, ctx: TaskContext) -> Any:
    _ran("unprintable", payload)
    raise UnprintableError()


def surrogate_message(payload: Any, ctx: TaskContext) -> Any:
    _ran("surrogate_message", payload)
    raise ValueError("bad file name caf\udce9")


def exits(payload: Any, ctx: TaskContext) -> Any:
    """Raises SystemExit or KeyboardInterrupt (payload["raise"]); else succeeds."""
    _ran("exits", payload)
    kind = payload.get("raise")
    if kind == "SystemExit":
        raise SystemExit(3)
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt
    return payload


def remaining(payload: Any, ctx: TaskContext) -> Any:
    _ran("remaining", payload)
    return {"remaining_ms": ctx.remaining_ms()}
