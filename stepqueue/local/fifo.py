"""What Lambda's poller adds on top of SQS for a FIFO queue, for the local runner.

SQS FIFO itself keeps a message group locked while any of its messages is in flight (moto 5.2.5
does too: a receive skips such a group). Lambda adds two rules the runner must copy:

- one batch in flight per message group: the runner checks that no received message belongs to
  a group it is still invoking, and raises rather than run a group twice at once (it would mean
  the emulator stopped locking groups, and every gatekeeper decision relies on that lock);
- partial batch responses keep the order: once a record of a group is reported failed, every
  later record of that group in the batch is treated as failed too, even if the function did not
  list it, so the group is redelivered from its first failure onwards, in order.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

FIFO_SUFFIX = ".fifo"


def is_fifo(queue_arn_or_url: str) -> bool:
    return queue_arn_or_url.endswith(FIFO_SUFFIX)


def group_of(message: Mapping[str, Any]) -> str:
    """The message group of a received message (ReceiveMessage with all system attributes)."""
    group = message.get("Attributes", {}).get("MessageGroupId")
    if not isinstance(group, str) or not group:
        raise ValueError(f"message {message.get('MessageId')} has no MessageGroupId")
    return group


def failed_in_order(messages: Iterable[Mapping[str, Any]], failed: set[str]) -> set[str]:
    """`failed` plus every message that follows a failed one in its group (batch order)."""
    out = set(failed)
    broken: set[str] = set()
    for message in messages:
        group = group_of(message)
        if message["MessageId"] in failed:
            broken.add(group)
        elif group in broken:
            out.add(message["MessageId"])
    return out


class GroupInFlight(RuntimeError):
    """A group was received while a batch of it was still being invoked."""


class GroupGate:
    """The message groups with a batch in flight, across one mapping's invocations."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    def enter(self, messages: Iterable[Mapping[str, Any]]) -> None:
        groups = {group_of(m) for m in messages}
        with self._lock:
            busy = sorted(g for g in groups if self._in_flight.get(g))
            if busy:
                raise GroupInFlight(f"message groups {busy} received while a batch is in flight")
            for group in groups:
                self._in_flight[group] = 1

    def leave(self, messages: Iterable[Mapping[str, Any]]) -> None:
        """After the invocation's outcome is applied (deletes done, failures left in flight):
        SQS keeps failed records' groups locked until they are visible again."""
        with self._lock:
            for group in {group_of(m) for m in messages}:
                self._in_flight.pop(group, None)

    def in_flight(self) -> set[str]:
        with self._lock:
            return set(self._in_flight)
