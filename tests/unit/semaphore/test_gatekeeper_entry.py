"""The gatekeeper's Lambda handler: a group that fails for a transient cause is reported whole
and comes back after a short backoff, not after the queue's visibility timeout (the semaphore
waits behind it); the other groups of the batch are decided. A group AWS refuses for good, and
a body that cannot be read, are dropped instead, never retried, and a waiter whose token can
be read is failed at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_gatekeeper import entry, messages
from stepqueue_gatekeeper.decide import BAD_REQUEST, UNAVAILABLE, Gatekeeper, Outcome
from stepqueue_gatekeeper.messages import MAX_DEPTH, UNREADABLE, MessageError, parse

ARN = "arn:aws:states:us-east-1:123456789012:execution:entry:"


class StubSqs:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}


class AwsError(Exception):
    """Shaped like botocore's ClientError where the gatekeeper looks (``.response``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": f"{code} (test)"}}


class StubKeeper:
    """Fails the semaphore named `broken` (for a transient cause), decides the others."""

    def __init__(self) -> None:
        self.decided: list[str] = []
        self.deferred: dict[str, int] = {}
        self.messages: list[Any] = []

    def process(self, semaphore: str, messages: list[Any]) -> Any:
        if semaphore == "broken":
            raise AwsError("ServiceUnavailable")
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

    def exception(self, message: str, extra: dict[str, Any]) -> None:
        self.errors.append((message, extra))

    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass


def _record(message_id: str, group: str, receives: int) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": json.dumps({"semaphore": group}),
        "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": str(receives)},
    }


class Parsed:
    def __init__(self, message_id: str, semaphore: str) -> None:
        self.message_id, self.semaphore, self.op = message_id, semaphore, "release"


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
        entry, "read", lambda mid, group, body: Parsed(mid, json.loads(body)["semaphore"])
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


def test_a_failed_arrivals_group_comes_back_in_its_own_queue(
    stubs: tuple[StubSqs, StubKeeper],
) -> None:
    """An arrivals queue's batch: its receipt handles belong to that queue, so the visibility
    is changed there, not in the control queue (where SQS would refuse them)."""
    sqs, _ = stubs
    arn = "arn:aws:sqs:us-east-1:1:gk-broken-arrivals.fifo"
    record = {**_record("a1", "broken", 2), "eventSourceARN": arn}
    assert entry.handler({"Records": [record]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "a1"}]
    }
    (call,) = sqs.calls
    assert call["QueueUrl"] == "https://sqs.example/1/gk-broken-arrivals.fifo"
    assert call["Entries"] == [{"Id": "0", "ReceiptHandle": "rh-a1", "VisibilityTimeout": 2}]


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        ("arn:aws:sqs:us-east-1:1:gk-a-arrivals.fifo", "https://sqs.example/1/gk-a-arrivals.fifo"),
        ("arn:aws:sqs:us-east-1:1:q.fifo", "https://sqs.example/1/q.fifo"),
        # Another account's queue is never ours to guess: the control queue's URL.
        ("arn:aws:sqs:us-east-1:2:other.fifo", "https://sqs.example/1/q.fifo"),
        ("", "https://sqs.example/1/q.fifo"),
        ("not:an:arn", "https://sqs.example/1/q.fifo"),
        ("arn:aws:sqs:us-east-1:1:", "https://sqs.example/1/q.fifo"),
    ],
)
def test_the_queue_of_a_record_is_named_by_its_source_arn(
    arn: str, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "https://sqs.example/1/q.fifo")
    assert entry.queue_url_of(arn) == url


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


def test_a_deeply_nested_key_is_read_as_unreadable_with_its_token_and_the_batch_decided(
    wired: tuple[StubSqs, StubKeeper],
) -> None:
    """A key from an execution's input nested 5,000 levels (10 KB, well inside the size bound)
    would overflow the parser's stack: it is never parsed, and never allowed to fail the batch
    and block the semaphore's group; what the gatekeeper gets is an unreadable message that
    still carries the acquire's token (read at the top level), so its execution can be failed
    at once (the test below) instead of waiting out max_wait_seconds."""
    sqs, keeper = wired
    deep = _acquire_body("deep", _nested(5_000))
    assert len(deep.encode()) < messages.BODY_MAX_BYTES
    release = json.dumps({"op": "release", "semaphore": "fine", "execution": ARN + "other"})
    records = [
        {**_record("m1", "fine", 1), "body": _acquire_body("before", '"acme"')},
        {**_record("m2", "fine", 1), "body": deep},
        {**_record("m3", "fine", 1), "body": release},
    ]
    assert entry.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert [(m.message_id, m.op) for m in keeper.messages] == [
        ("m1", "acquire"),
        ("m2", UNREADABLE),
        ("m3", "release"),
    ]
    unreadable = keeper.messages[1]
    assert unreadable.token == "tok-deep" and unreadable.execution == ARN + "deep"
    assert unreadable.problem == f"body nests deeper than {MAX_DEPTH} levels"
    assert sqs.calls == []


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


# -- dropped, never retried --------------------------------------------------------------------


class StubSfn:
    """Step Functions as the handler's gatekeeper sees it: answers recorded."""

    def __init__(self, refuse: str | None = None) -> None:
        self.failed: dict[str, tuple[str, str]] = {}
        self.refuse = refuse

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        if self.refuse is not None:
            raise AwsError(self.refuse)
        self.failed[taskToken] = (error, cause)
        return {}


class RefusingDynamo:
    """DynamoDB that answers every call with `code`; with None, that no item exists."""

    def __init__(self, code: str | None) -> None:
        self.code = code
        self.calls = 0

    def get_item(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.code is None:
            return {}
        raise AwsError(self.code)

    def batch_get_item(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.code is None:
            return {"Responses": {}, "UnprocessedKeys": {}}
        raise AwsError(self.code)


@pytest.fixture
def real(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger]:
    """The handler with the real gatekeeper, its AWS clients stubbed."""
    sqs, sfn, ddb, log = (
        StubSqs(),
        StubSfn(),
        RefusingDynamo("AccessDeniedException"),
        RecordingLogger(),
    )
    keeper = Gatekeeper(
        ddb, sfn, sqs, table="t", queue_url="q", own_prefixes=(ARN,), semaphores=("fine",)
    )
    monkeypatch.setattr(entry, "gatekeeper", lambda: keeper)
    monkeypatch.setattr(entry, "client", lambda service: sqs)
    monkeypatch.setattr(entry, "logger", log)
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "https://sqs.example/1/q.fifo")
    return sqs, sfn, ddb, log


def _metric_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_an_unreadable_acquire_fails_its_execution_at_once(
    real: tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Dropped with one log line and a metric, its execution failed with Semaphore.BadRequest
    at once. A group of nothing readable decides nothing: the counter is read only for grants
    a crash may have left unsent (none here), and nothing is written."""
    sqs, sfn, ddb, log = real
    ddb.code = None
    record = {**_record("m1", "fine", 1), "body": _acquire_body("deep", _nested(5_000))}
    assert entry.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    error, cause = sfn.failed["tok-deep"]
    assert error == BAD_REQUEST and f"nests deeper than {MAX_DEPTH} levels" in cause
    assert ddb.calls == 1 and sqs.calls == []
    ((message, extra),) = log.errors
    assert message == "message dropped"
    assert extra["message_id"] == "m1" and extra["op"] == UNREADABLE
    assert extra["execution"] == ARN + "deep" and extra["answer"] == BAD_REQUEST
    (line,) = _metric_lines(capsys)
    assert line["MessagesDropped"] == 1 and line["Semaphore"] == "fine"
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["Function", "Semaphore"],
        ["Function"],
    ]


def test_a_group_aws_refuses_for_good_is_dropped_not_retried(
    real: tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """AccessDenied on the table (a role that lost a permission) fails the same way on every
    delivery: the group's messages are dropped, each acquire's execution failed at once with
    Semaphore.Unavailable; nothing blocks the group until the DLQ takes it."""
    sqs, sfn, ddb, log = real
    acquire = {**_record("m1", "fine", 1), "body": _acquire_body("a", '"acme"')}
    release = {
        **_record("m2", "fine", 1),
        "body": json.dumps({"op": "release", "semaphore": "fine", "execution": ARN + "b"}),
    }
    assert entry.handler({"Records": [acquire, release]}, None) == {"batchItemFailures": []}
    assert ddb.calls == 1 and sqs.calls == []
    error, cause = sfn.failed["tok-a"]
    assert error == UNAVAILABLE and "AccessDeniedException" in cause
    dropped = [extra for message, extra in log.errors if message == "message dropped"]
    assert [(d["message_id"], d["error"]) for d in dropped] == [
        ("m1", "AccessDeniedException"),
        ("m2", "AccessDeniedException"),
    ]
    (line,) = _metric_lines(capsys)
    assert line["MessagesDropped"] == 2


def test_a_transient_failure_is_retried_in_order(
    real: tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger],
) -> None:
    sqs, sfn, ddb, _ = real
    ddb.code = "ProvisionedThroughputExceededException"
    record = {**_record("m1", "fine", 2), "body": _acquire_body("a", '"acme"')}
    assert entry.handler({"Records": [record]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}]
    }
    assert sfn.failed == {}
    (call,) = sqs.calls
    assert call["Entries"][0]["VisibilityTimeout"] == 2


def test_a_throttled_answer_retries_the_group(
    real: tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger],
) -> None:
    """Failing the waiter is itself a call: throttled, the group comes back and it is tried
    again; refused for good, the drop's log line says so and nothing is retried."""
    _, sfn, _, log = real
    record = {**_record("m1", "fine", 1), "body": _acquire_body("deep", _nested(300))}
    sfn.refuse = "ThrottlingException"
    assert entry.handler({"Records": [record]}, None)["batchItemFailures"] == [
        {"itemIdentifier": "m1"}
    ]
    sfn.refuse = "AccessDeniedException"
    assert entry.handler({"Records": [record]}, None)["batchItemFailures"] == []
    assert log.errors[-1][1]["answer"] == "refused: AccessDeniedException"


def test_a_semaphore_of_another_deployment_and_a_foreign_execution_are_dropped(
    real: tuple[StubSqs, StubSfn, RefusingDynamo, RecordingLogger],
) -> None:
    """Outside this deployment: never read, granted, described or stopped; an acquire's
    execution is told why at once."""
    _, sfn, ddb, log = real
    ddb.code = None
    elsewhere = "arn:aws:states:us-east-1:123456789012:execution:other:x"
    stranger = json.loads(_acquire_body("x", '"acme"'))
    redriven = {"op": "redriven", "semaphore": "fine", "execution": elsewhere}
    records = [
        {**_record("m1", "fine", 1), "body": json.dumps({**stranger, "execution": elsewhere})},
        {**_record("m2", "fine", 1), "body": json.dumps(redriven)},
        {
            **_record("m3", "nothere", 1),
            "body": json.dumps({**stranger, "semaphore": "nothere", "token": "tok-y"}),
        },
    ]
    assert entry.handler({"Records": records}, None) == {"batchItemFailures": []}
    assert ddb.calls == 1  # semaphore `fine`'s counter (for pending grants); `nothere` never
    assert (
        sfn.failed["tok-x"][0] == BAD_REQUEST and "not of this deployment" in sfn.failed["tok-x"][1]
    )
    assert sfn.failed["tok-y"][0] == BAD_REQUEST
    assert [e["message_id"] for m, e in log.errors if m == "message dropped"] == ["m1", "m2", "m3"]


def test_an_early_wake_up_never_sleeps_longer_than_the_bound(
    stubs: tuple[StubSqs, StubKeeper],
) -> None:
    sqs, keeper = stubs
    keeper.deferred = {"b1": 3_600}
    assert entry.handler({"Records": [_record("b1", "fine", 1)]}, None) == {
        "batchItemFailures": [{"itemIdentifier": "b1"}]
    }
    (call,) = sqs.calls
    assert call["Entries"][0]["VisibilityTimeout"] == entry.MAX_SLEEP_S == 10
