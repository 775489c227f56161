"""The gatekeeper's call ledger: every AWS call one invocation makes, by operation, and how
many round trips it waits for one after another.

DynamoDB calls are counted by a botocore event hook (``before-call``) on the client the
gatekeeper is given; the Step Functions and SQS clients are wrapped, since the tests stand
them in (handler_harness.py). A call made on the invoking thread is a round trip of its own;
calls made on other threads (the grants' SendTaskSuccess, sent concurrently) between two
calls of the invoking thread are one round trip together, a wave; a wave of another operation
right behind it (the DescribeExecution wave after a resend's answers) is a round trip of its own.

tests/emulator/semaphore/test_call_ledger.py measures the ledger of each operation and
asserts it equals ``gatekeeper_ledger.json``; bench/scale.py prices those counts with a
latency table. A new round trip on the hot path fails the test until the JSON (and so the
model) says so: ``STEPQUEUE_REWRITE_LEDGER=1`` rewrites it, and its diff is the review.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEDGER_JSON = Path(__file__).with_name("gatekeeper_ledger.json")


@dataclass
class Ledger:
    """Calls in the order they were made: (operation, made on the invoking thread)."""

    calls: list[tuple[str, bool]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _main: int = field(default_factory=threading.get_ident)

    def note(self, operation: str) -> None:
        with self._lock:
            self.calls.append((operation, threading.get_ident() == self._main))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(op for op, _ in self.calls).items()))

    def serial(self) -> int:
        """Round trips one after another: each call of the invoking thread, and each wave of
        concurrent calls between two of them."""
        return sum(self.serial_by_operation().values())

    def serial_by_operation(self) -> dict[str, int]:
        """The serial round trips, by operation (a wave counted once, by its operation)."""
        found: Counter[str] = Counter()
        wave: str | None = None  # the operation of the wave under way
        for op, on_main in self.calls:
            if on_main:
                found[op] += 1
                wave = None
            elif op != wave:
                found[op] += 1
                wave = op
        return dict(sorted(found.items()))

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.counts(),
            "serial": self.serial_by_operation(),
            "round_trips": self.serial(),
        }


class Counted:
    """A client (or a stand-in) whose calls are noted in a ledger, by AWS's operation name."""

    def __init__(self, inner: Any, ledger: Ledger) -> None:
        self._inner, self._ledger = inner, ledger

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_"):
            return attr
        operation = "".join(part.title() for part in name.split("_"))

        def call(*args: Any, **kwargs: Any) -> Any:
            self._ledger.note(operation)
            return attr(*args, **kwargs)

        return call


@contextmanager
def hooked(boto_client: Any, ledger: Ledger) -> Iterator[None]:
    """Every call of a botocore client noted while inside (its ``before-call`` event)."""

    def before_call(model: Any, **_: Any) -> None:
        ledger.note(model.name)

    events = boto_client.meta.events
    events.register("before-call.*.*", before_call, unique_id=f"ledger-{id(ledger)}")
    try:
        yield
    finally:
        events.unregister("before-call.*.*", unique_id=f"ledger-{id(ledger)}")


def recorded() -> dict[str, Any]:
    """The ledger as the test last confirmed it, per design and operation."""
    data: dict[str, Any] = json.loads(LEDGER_JSON.read_text())
    return data
