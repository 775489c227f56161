"""The gatekeeper's Lambda handler: a group that fails is reported whole and comes back after
a short backoff, not after the queue's visibility timeout (the semaphore waits behind it);
the other groups of the batch are decided."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_gatekeeper import entry
from stepqueue_gatekeeper.decide import Outcome


class StubSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}


class StubKeeper:
    """Fails the semaphore named `broken`, decides the others."""

    def __init__(self) -> None:
        self.decided: list[str] = []
        self.deferred: dict[str, int] = {}

    def process(self, semaphore: str, messages: list[Any]) -> Any:
        if semaphore == "broken":
            raise RuntimeError("DynamoDB unavailable")
        self.decided.append(semaphore)
        return Outcome(deferred=self.deferred)


def _record(message_id: str, group: str, receives: int) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps({"semaphore": group}),
        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": str(receives)},
    }


class Parsed:
    def __init__(self, semaphore: str) -> None:
        self.semaphore = semaphore


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> tuple[StubSqs, StubKeeper]:
    sqs, keeper = StubSqs(), StubKeeper()
    monkeypatch.setattr(entry, "gatekeeper", lambda: keeper)
    monkeypatch.setattr(entry, "client", lambda service: sqs)
    # The wire format has its own tests: here only the grouping and the failure path matter.
    monkeypatch.setattr(
        entry, "parse", lambda mid, group, body: Parsed(json.loads(body)["semaphore"])
    )
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "https://sqs.example/1/q.fifo")
    return sqs, keeper


def test_a_failed_group_comes_back_soon_and_alone(stubs: tuple[StubSqs, StubKeeper]) -> None:
    sqs, keeper = stubs
    event = {
        "Records": [
            _record("a1", "broken", 1),
            _record("b1", "fine", 1),
            _record("a2", "broken", 3),
        ]
    }
    reply = entry.handler(event, None)
    assert reply == {"batchItemFailures": [{"itemIdentifier": "a1"}, {"itemIdentifier": "a2"}]}
    assert keeper.decided == ["fine"]
    (call,) = sqs.calls
    assert call["QueueUrl"] == "https://sqs.example/1/q.fifo"
    assert call["Entries"] == [
        {"Id": "0", "ReceiptHandle": "rh-a1", "VisibilityTimeout": 1},
        {"Id": "1", "ReceiptHandle": "rh-a2", "VisibilityTimeout": 4},
    ]


def test_nothing_to_hasten_when_every_group_is_decided(stubs: tuple[StubSqs, StubKeeper]) -> None:
    sqs, keeper = stubs
    assert entry.handler({"Records": [_record("b1", "fine", 1)]}, None) == {"batchItemFailures": []}
    assert sqs.calls == [] and keeper.decided == ["fine"]


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [entry.retry_delay(n) for n in (0, 1, 2, 3, 6, 100)] == [1, 1, 2, 4, 30, 30]


def test_an_early_wake_up_sleeps_until_due_while_the_rest_is_done(
    stubs: tuple[StubSqs, StubKeeper],
) -> None:
    """A rate-limited semaphore's wake-up that came early goes back, invisible for exactly
    the seconds until its token: the group sleeps on it; nobody polls."""
    sqs, keeper = stubs
    keeper.deferred = {"b2": 7}
    event = {"Records": [_record("b1", "fine", 1), _record("b2", "fine", 1)]}
    assert entry.handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "b2"}]}
    (call,) = sqs.calls
    assert call["Entries"] == [{"Id": "0", "ReceiptHandle": "rh-b2", "VisibilityTimeout": 7}]
