"""The one way a test waits: for a condition, with a deadline, failing with what did not happen.
A fixed sleep is either too short on a loaded machine or too long on a quiet one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def until(what: str, check: Callable[[], bool], timeout: float = 30, every: float = 0.1) -> None:
    """Waits until check() holds; fails naming what did not happen in time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(every)


def until_value(
    what: str, read: Callable[[], T], done: Callable[[T], bool], timeout: float = 30
) -> T:
    """Reads until done(value) holds and returns that value; fails naming what did not happen."""
    box: list[T] = []

    def check() -> bool:
        box[:] = [read()]
        return done(box[0])

    until(what, check, timeout)
    return box[0]


def wait_until_ended(sfn: Any, arn: str, timeout: float = 60.0) -> dict[str, Any]:
    """The execution's description once it is no longer RUNNING."""
    described: dict[str, Any] = until_value(
        f"{arn} ended",
        lambda: dict(sfn.describe_execution(executionArn=arn)),
        lambda d: d["status"] != "RUNNING",
        timeout,
    )
    return described


def wait_all_ended(sfn: Any, arns: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """{arn: description} once every execution in `arns` is no longer RUNNING."""
    ended: dict[str, dict[str, Any]] = {}

    def all_ended() -> bool:
        for arn in arns:
            if arn not in ended:
                described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
                if described["status"] != "RUNNING":
                    ended[arn] = described
        return len(ended) == len(arns)

    until(f"{len(arns)} executions ended (a task lost or looping?)", all_ended, timeout, every=0.5)
    return ended
