"""Lambda's FIFO rules in the local runner (stepqueue/local/fifo.py): a group's records after a
failed one fail too, one batch in flight per group; unit checks, then the runner on a FIFO
queue of the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from stepqueue.local.fifo import GroupGate, GroupInFlight, failed_in_order, is_fifo


def _message(message_id: str, group: str) -> dict[str, Any]:
    return {"MessageId": message_id, "Attributes": {"MessageGroupId": group}}


def test_records_after_a_failure_in_its_group_fail_too() -> None:
    batch = [_message(i, g) for i, g in [("a1", "a"), ("b1", "b"), ("a2", "a"), ("a3", "a")]]
    assert failed_in_order(batch, {"a2"}) == {"a2", "a3"}
    assert failed_in_order(batch, {"a1"}) == {"a1", "a2", "a3"}
    assert failed_in_order(batch, {"b1"}) == {"b1"}
    assert failed_in_order(batch, set()) == set()


def test_a_group_in_flight_cannot_enter_twice() -> None:
    gate = GroupGate()
    first = [_message("a1", "a"), _message("b1", "b")]
    gate.enter(first)
    with pytest.raises(GroupInFlight, match="'a'"):
        gate.enter([_message("a2", "a")])
    gate.enter([_message("c1", "c")])
    gate.leave(first)
    gate.enter([_message("a2", "a")])
    assert gate.in_flight() == {"a", "c"}


def test_is_fifo() -> None:
    assert is_fifo("arn:aws:sqs:us-east-1:123456789012:gk.fifo")
    assert not is_fifo("arn:aws:sqs:us-east-1:123456789012:orders-enrich")
