"""The gatekeeper's Lambda handler: a group that fails is reported whole and comes back after
a short backoff, not after the queue's visibility timeout (the semaphore waits behind it);
the other groups of the batch are decided."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_gatekeeper import entry, messages
from stepqueue_gatekeeper.decide import Outcome
from stepqueue_gatekeeper.messages import MAX_DEPTH, MessageError, parse

ARN = "arn:aws:states:us-east-1:123456789012:execution:entry:"


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
        self.messages: list[Any] = []

    def process(self, semaphore: str, messages: list[Any]) -> Any:
        if semaphore == "broken":
            raise RuntimeError("DynamoDB unavailable")
        self.decided.append(semaphore)
        self.messages += messages
        return Outcome(deferred=self.deferred)


class RecordingLogger:
    def __init__(self) -> None:
        self.errors: list[tuple[str, dict[str, Any]]] = []

    def error(self, message: str, extra: dict[str, Any]) -> None:
        self.errors.append((message, extra))

    def info(self, *args: Any, **kwargs: Any) -> None:
        pass


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
def wired(monkeypatch: pytest.MonkeyPatch) -> tuple[StubSqs, StubKeeper]:
    """The handler with stand-ins for AWS and the gatekeeper, and the real parser."""
    sqs, keeper = StubSqs(), StubKeeper()
    monkeypatch.setattr(entry, "gatekeeper", lambda: keeper)
    monkeypatch.setattr(entry, "client", lambda service: sqs)
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "https://sqs.example/1/q.fifo")
    return sqs, keeper


@pytest.fixture
def stubs(
    wired: tuple[StubSqs, StubKeeper], monkeypatch: pytest.MonkeyPatch
) -> tuple[StubSqs, StubKeeper]:
    # The wire format has its own tests: here only the grouping and the failure path matter.
    monkeypatch.setattr(
        entry, "parse", lambda mid, group, body: Parsed(json.loads(body)["semaphore"])
    )
    return wired


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


# -- bodies nested too deep -------------------------------------------------------------------


def _acquire_body(name: str, key_json: str) -> str:
    """An acquire whose key is raw JSON text: json.dumps itself cannot write a deep one."""
    head = {"op": "acquire", "semaphore": "fine", "execution": ARN + name}
    fields = {**head, "acquire": "ab" * 16, "token": f"tok-{name}"}
    return json.dumps(fields)[:-1] + f', "key": {key_json}}}'


def _nested(levels: int) -> str:
    return "[" * levels + '"x"' + "]" * levels


def test_a_deeply_nested_key_is_dropped_and_the_rest_of_the_batch_decided(
    wired: tuple[StubSqs, StubKeeper], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key from an execution's input nested 5,000 levels (10 KB, well inside the size bound)
    would overflow the parser's stack: it is dropped like any malformed body, not allowed to
    fail the batch and block the semaphore's group."""
    sqs, keeper = wired
    log = RecordingLogger()
    monkeypatch.setattr(entry, "logger", log)
    deep = _acquire_body("deep", _nested(5_000))
    assert len(deep.encode()) < messages.BODY_MAX_BYTES
    release = json.dumps({"op": "release", "semaphore": "fine", "execution": ARN + "other"})
    records = [
        {**_record("m1", "fine", 1), "body": _acquire_body("before", '"acme"')},
        {**_record("m2", "fine", 1), "body": deep},
        {**_record("m3", "fine", 1), "body": release},
    ]
    assert entry.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert [m.message_id for m in keeper.messages] == ["m1", "m3"]
    assert sqs.calls == []
    ((message, extra),) = log.errors
    assert message == "malformed message dropped" and extra["message_id"] == "m2"
    assert extra["why"] == f"body nests deeper than {MAX_DEPTH} levels"


def test_nesting_is_bounded_by_brackets_outside_strings() -> None:
    # The body object is one level: a key nested MAX_DEPTH - 1 levels is the deepest accepted.
    accepted = parse("m", "fine", _acquire_body("a", _nested(MAX_DEPTH - 1)))
    assert accepted.key is not None and accepted.key.startswith("[" * (MAX_DEPTH - 1))
    with pytest.raises(MessageError, match="nests deeper"):
        parse("m", "fine", _acquire_body("a", _nested(MAX_DEPTH)))
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    text = json.dumps('\\" [{' * 1_000)
    assert parse("m", "fine", _acquire_body("a", text)).key == text


def test_a_recursion_error_is_a_malformed_body_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop, should the bound ever be raised past what the parser's stack takes."""
    monkeypatch.setattr(messages, "MAX_DEPTH", 10**6)
    with pytest.raises(MessageError, match="too deep to parse"):
        parse("m", "fine", _acquire_body("a", _nested(100_000)))
