"""Faults around the user's handler: what it returns or raises cannot be reported as is, the
batch cannot be parsed, the Lambda deadline comes, a callback fails for a moment. Each ends in
one callback or one explicit redelivery; the handler never runs twice unannounced and no
heartbeat thread outlives the invocation. Recording clients, no network."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from stepqueue_runtime import aws, entry, handlers

from tests.support import user_handlers
from tests.support.lambda_support import RecordingClient, body, client_error, event, sqs_record

H = "tests.support.user_handlers."
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-enrich"


@pytest.fixture
def client() -> RecordingClient:
    """One recording client for Step Functions and SQS: one timeline of calls."""
    c = RecordingClient()
    aws.set_client(c)
    aws.set_client(c, aws.SQS)
    return c


@pytest.fixture(autouse=True)
def _runs() -> Iterator[None]:
    user_handlers.RUNS.clear()
    yield
    user_handlers.RUNS.clear()


def runtime_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("stepqueue-") and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_thread_outlives_the_invocation() -> Iterator[None]:
    yield
    assert runtime_threads() == []


def run(*records: dict[str, Any], context: Any = None) -> list[str]:
    response = entry.handler(event(*records), context)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def with_receive_count(record: dict[str, Any], count: int) -> dict[str, Any]:
    return dict(record, attributes=dict(record["attributes"], ApproximateReceiveCount=str(count)))


# -- errors after the handler returns: one SendTaskFailure, the handler ran once ---------------


@pytest.mark.parametrize(
    ("handler", "error"),
    [
        ("lone_surrogate", "Stepqueue.OutputNotUnicode"),
        ("too_deep", "Stepqueue.OutputTooDeep"),
        ("unprintable", "Stepqueue.ErrorNotPrintable"),
    ],
)
def test_unreportable_outcome_is_a_task_failure(
    handler: str, error: str, client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + handler)
    assert run(sqs_record(body({"n": 1}, token="bad"), "m1")) == []
    (failed,) = client.ops("send_task_failure")
    assert failed.kwargs["taskToken"] == "bad" and failed.kwargs["error"] == error
    failed.kwargs["cause"].encode("utf-8")  # sendable
    assert client.ops("send_task_success") == []
    assert list(user_handlers.RUNS) == [(handler, {"n": 1})]


def test_unprintable_error_keeps_its_type_in_the_cause(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "unprintable")
    run(sqs_record(body(), "m"))
    cause = json.loads(client.ops("send_task_failure")[0].kwargs["cause"])
    assert cause["errorType"] == "UnprintableError"
    assert "RuntimeError" in cause["errorMessage"]
    assert any("unprintable" in frame for frame in cause["stackTrace"])


def test_error_message_with_a_lone_surrogate_is_sendable(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "surrogate_message")
    assert run(sqs_record(body(), "m")) == []
    (failed,) = client.ops("send_task_failure")
    assert failed.kwargs["error"] == "ValueError"
    cause = failed.kwargs["cause"]
    cause.encode("utf-8")
    assert json.loads(cause)["errorMessage"].startswith("bad file name caf")


@pytest.mark.parametrize("kind", ["SystemExit", "KeyboardInterrupt"])
def test_handler_exiting_fails_its_task_only(
    kind: str, client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "exits")
    records = [
        sqs_record(body({"raise": kind}, token="exits"), "m1"),
        sqs_record(body({"n": 2}, token="next"), "m2"),
    ]
    assert run(*records) == []
    (failed,) = client.ops("send_task_failure")
    assert failed.kwargs["taskToken"] == "exits"
    assert failed.kwargs["error"] == f"Stepqueue.{kind}"
    (succeeded,) = client.ops("send_task_success")
    assert succeeded.kwargs["taskToken"] == "next"
    assert list(user_handlers.RUNS) == [("exits", {"raise": kind}), ("exits", {"n": 2})]


# -- parsing the batch: bounded, and heartbeats stop on every exit path ------------------------


def test_body_nested_too_deep_is_malformed(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 0.5}, token="alive", heartbeat_seconds=1), "m1"),
        sqs_record("[" * 100_000, "deep"),
    ]
    assert run(*records) == ["deep"]
    assert len(client.ops("send_task_success", "alive")) == 1
    beats = len(client.ops("send_task_heartbeat", "alive"))
    time.sleep(0.5)  # a fixed window (1.5 intervals) in which no heartbeat may follow
    assert len(client.ops("send_task_heartbeat", "alive")) == beats


def test_heartbeats_stop_when_parsing_the_batch_fails(
    client: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever escapes while the batch is read, the heartbeater already started for the
    records before it is stopped: the invocation fails, nothing keeps beating."""
    use_handler(H + "ok")
    real = entry.parse_body

    def parse(raw: str | None) -> Any:
        if raw == "explode":
            raise MemoryError("injected")
        return real(raw)

    monkeypatch.setattr(entry, "parse_body", parse)
    records = [
        sqs_record(body(token="alive", heartbeat_seconds=1), "m1"),
        sqs_record("explode", "m2"),
    ]
    with pytest.raises(MemoryError):
        run(*records)
    assert runtime_threads() == []
    beats = len(client.ops("send_task_heartbeat", "alive"))
    time.sleep(0.6)  # a fixed window (nearly 2 intervals) in which no heartbeat may follow
    assert len(client.ops("send_task_heartbeat", "alive")) == beats


def test_heartbeats_stop_when_the_batch_fails(
    client: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_handler(H + "ok")

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("injected")

    monkeypatch.setattr(entry, "process_partial_response", broken)
    with pytest.raises(RuntimeError):
        run(sqs_record(body(token="alive", heartbeat_seconds=1), "m1"))
    assert runtime_threads() == []


# -- the Lambda deadline ------------------------------------------------------------------------


class LambdaContext:
    """Counts down from ``ms`` as Lambda's context does."""

    def __init__(self, ms: int) -> None:
        self._deadline = time.monotonic() + ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def test_deadline_fails_the_running_task_and_gives_back_the_rest(
    client: RecordingClient, use_handler: Any
) -> None:
    """2 s left, a 1 s margin: at 1 s the handler still running is reported
    Stepqueue.DeadlineExceeded and the records behind it go back to the queue at once. What the
    handler returns later is discarded: the task was already failed, saying why."""
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 2.0}, token="slow", heartbeat_seconds=30), "m1"),
        sqs_record(body({"seconds": 0}, token="t2", heartbeat_seconds=30), "m2"),
        sqs_record(body({"seconds": 0}, token="t3"), "m3"),
    ]
    started = time.monotonic()
    assert run(*records, context=LambdaContext(2000)) == ["m2", "m3"]
    (failed,) = client.ops("send_task_failure")
    assert failed.kwargs["taskToken"] == "slow"
    assert failed.kwargs["error"] == "Stepqueue.DeadlineExceeded"
    assert 0.7 < failed.at - started < 1.6  # at the margin, not when the handler returned
    assert client.ops("send_task_success") == []  # the late result is not sent
    (given_back,) = client.ops("change_message_visibility_batch")
    assert given_back.kwargs["QueueUrl"] == QUEUE_URL
    assert [e["VisibilityTimeout"] for e in given_back.kwargs["Entries"]] == [0, 0]
    handles = {r["receiptHandle"] for r in records[1:]}
    assert {e["ReceiptHandle"] for e in given_back.kwargs["Entries"]} == handles
    assert given_back.at < failed.at + 0.5
    assert list(user_handlers.RUNS) == [("hang", {"seconds": 2.0})]  # the others never ran
    # No heartbeat for the failed task after its failure was sent.
    assert all(b.at <= failed.at for b in client.ops("send_task_heartbeat", "slow"))


class SettableContext:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def get_remaining_time_in_millis(self) -> int:
        return self.ms


def test_records_left_past_the_margin_are_not_started(
    client: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The margin reached between two records: the next is not started, nothing is failed."""
    context = SettableContext(10_000)
    ran: list[Any] = []

    def uses_up_the_time(payload: Any, ctx: Any) -> Any:
        ran.append(payload)
        context.ms = 500  # below the 1 s margin from now on
        return payload

    monkeypatch.setitem(handlers._cache, "t.late", uses_up_the_time)
    monkeypatch.setenv("STEPQUEUE_HANDLER", "t.late")
    records = [sqs_record(body({"n": 1}, token="t1"), "m1"), sqs_record(body(token="t2"), "m2")]
    assert run(*records, context=context) == ["m2"]
    assert [c.kwargs["taskToken"] for c in client.ops("send_task_success")] == ["t1"]
    assert client.ops("send_task_failure") == []
    (given_back,) = client.ops("change_message_visibility_batch")
    assert given_back.kwargs["Entries"] == [
        {"Id": "0", "ReceiptHandle": records[1]["receiptHandle"], "VisibilityTimeout": 0}
    ]
    assert ran == [{"n": 1}]


def test_remaining_ms_is_the_time_before_the_margin(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "remaining")
    run(sqs_record(body(), "m"), context=LambdaContext(20_000))
    remaining = json.loads(client.ops("send_task_success")[0].kwargs["output"])["remaining_ms"]
    assert 15_000 < remaining <= 18_000  # 20 s less a 2 s margin


def test_no_context_no_deadline(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "hang")
    assert run(sqs_record(body({"seconds": 0.1}), "m")) == []
    assert client.ops("change_message_visibility_batch") == []


# -- a transient error is redelivered before HeartbeatSeconds runs out ---------------------------


def _throttled_success(op: str, kw: dict[str, Any]) -> Exception | None:
    if op == "send_task_success":
        return client_error("ThrottlingException", op)
    return None


@pytest.mark.parametrize(
    ("heartbeat_seconds", "receive_count", "delay"),
    [(300, 1, 1), (300, 3, 4), (300, 9, 100), (6, 5, 2), (2, 1, 0)],
)
def test_retried_record_comes_back_before_its_heartbeat_timeout(
    heartbeat_seconds: int,
    receive_count: int,
    delay: int,
    client: RecordingClient,
    use_handler: Any,
) -> None:
    """Backoff doubling with the receive count, but always under a third of HeartbeatSeconds,
    instead of the queue's visibility timeout (which may be longer than HeartbeatSeconds)."""
    use_handler(H + "ok")
    client.fault = _throttled_success
    record = with_receive_count(
        sqs_record(body(token="t", heartbeat_seconds=heartbeat_seconds), "m"), receive_count
    )
    assert run(record) == ["m"]
    (changed,) = client.ops("change_message_visibility_batch")
    assert changed.kwargs == {
        "QueueUrl": QUEUE_URL,
        "Entries": [
            {"Id": "0", "ReceiptHandle": record["receiptHandle"], "VisibilityTimeout": delay}
        ],
    }


def test_without_heartbeat_seconds_the_visibility_timeout_applies(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")
    client.fault = _throttled_success
    assert run(sqs_record(body(token="t"), "m")) == ["m"]
    assert client.ops("change_message_visibility_batch") == []


def test_failing_to_change_visibility_still_redelivers(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")

    def fault(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "change_message_visibility_batch":
            return client_error("AccessDenied", op, status=403)
        return _throttled_success(op, kw)

    client.fault = fault
    assert run(sqs_record(body(token="t", heartbeat_seconds=300), "m")) == ["m"]


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        (
            "arn:aws:sqs:eu-west-1:111122223333:q-1",
            "https://sqs.eu-west-1.amazonaws.com/111122223333/q-1",
        ),
        (
            "arn:aws-cn:sqs:cn-north-1:111122223333:q",
            "https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q",
        ),
        ("not-an-arn", None),
        ("arn:aws:sns:us-east-1:111122223333:topic", None),
    ],
)
def test_queue_url_from_arn(arn: str, url: str | None) -> None:
    from stepqueue_runtime import redelivery

    assert redelivery.queue_url(arn) == url


# -- the first heartbeat counts from when the message was queued --------------------------------


def test_first_heartbeat_is_due_by_the_age_of_the_message(
    client: RecordingClient, use_handler: Any
) -> None:
    """HeartbeatSeconds 3 (a beat every 1 s). A record whose message was sent 2 s ago is past
    its first third already: it beats at once, not 1 s after the batch starts, while the record
    ahead of it runs. A record just sent is not beaten early (its first beat is 1 s after it
    was sent; the probe covers its start)."""
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 0.8}, token="first", heartbeat_seconds=3), "m1"),
        sqs_record(body({"seconds": 0}, token="old", heartbeat_seconds=3), "m2", 2.0),
        sqs_record(body({"seconds": 0}, token="fresh", heartbeat_seconds=3), "m3"),
    ]
    started = time.monotonic()
    assert run(*records) == []
    (first_done,) = client.ops("send_task_success", "first")
    old = client.ops("send_task_heartbeat", "old")
    assert old and old[0].at - started < 0.4, [b.at - started for b in old]
    assert [b for b in client.ops("send_task_heartbeat", "fresh") if b.at < first_done.at] == []


def test_the_reviewers_case_beats_before_heartbeat_seconds_since_queueing(
    client: RecordingClient, use_handler: Any
) -> None:
    """Batching window 45 s, HeartbeatSeconds 60: the second record of the batch was queued
    45 s ago. Its first heartbeat must come now (45 s after queueing), not a third of
    HeartbeatSeconds after the batch starts (65 s after queueing: the task timed out)."""
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 0.5}, token="t1", heartbeat_seconds=60), "m1", 45.0),
        sqs_record(body({"seconds": 0}, token="t2", heartbeat_seconds=60), "m2", 45.0),
    ]
    assert run(*records) == []
    (first_done,) = client.ops("send_task_success", "t1")
    assert [b for b in client.ops("send_task_heartbeat", "t2") if b.at < first_done.at]


def test_without_sent_timestamp_the_first_heartbeat_is_due_at_once(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "hang")
    waiting = sqs_record(body({"seconds": 0}, token="t2", heartbeat_seconds=60), "m2")
    del waiting["attributes"]["SentTimestamp"]
    records = [sqs_record(body({"seconds": 0.5}, token="t1", heartbeat_seconds=60), "m1"), waiting]
    assert run(*records) == []
    (first_done,) = client.ops("send_task_success", "t1")
    assert [b for b in client.ops("send_task_heartbeat", "t2") if b.at < first_done.at]


@pytest.mark.parametrize(
    ("age", "delay"), [(None, 0.0), (0.0, 1.0), (0.25, 0.75), (1.0, 0.0), (45.0, 0.0), (-5, 1.0)]
)
def test_first_delay(age: float | None, delay: float) -> None:
    from stepqueue_runtime.heartbeat import first_delay

    assert first_delay(1.0, age) == pytest.approx(delay)


def test_backoff_follows_a_heartbeat(client: RecordingClient, use_handler: Any) -> None:
    """The backoff (up to a third of HeartbeatSeconds) counts from a heartbeat sent just
    before the record is given back, not from the last background one (up to a third ago):
    with the next delivery's batching window that could add up past HeartbeatSeconds."""
    use_handler(H + "ok")
    client.fault = _throttled_success
    record = with_receive_count(sqs_record(body(token="t", heartbeat_seconds=300), "m"), 3)
    assert run(record) == ["m"]
    ops = [c.op for c in client.calls]
    failed_at = ops.index("send_task_success")
    assert ops[failed_at + 1 :] == ["send_task_heartbeat", "change_message_visibility_batch"]
    (changed,) = client.ops("change_message_visibility_batch")
    assert changed.kwargs["Entries"][0]["VisibilityTimeout"] == 4


def test_backoff_without_a_fresh_heartbeat_gives_back_at_once(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")
    seen: list[str] = []

    def fault(op: str, kw: dict[str, Any]) -> Exception | None:
        seen.append(op)
        throttled = op == "send_task_success" or (
            op == "send_task_heartbeat" and "send_task_success" in seen
        )
        return client_error("ThrottlingException", op) if throttled else None

    client.fault = fault
    record = with_receive_count(sqs_record(body(token="t", heartbeat_seconds=300), "m"), 3)
    assert run(record) == ["m"]
    (changed,) = client.ops("change_message_visibility_batch")
    assert changed.kwargs["Entries"][0]["VisibilityTimeout"] == 0


# -- a record not started on its last receive is failed, not sent to the DLQ --------------------


def test_record_not_started_on_its_last_receive_is_failed_not_given_back(
    client: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """maxReceiveCount 3. At the margin, m2 (its 3rd receive) would go to the DLQ unrun if
    given back: its task is failed with Stepqueue.DeadlineExceeded and it is acknowledged.
    m3 (2nd receive) goes back to the queue as before."""
    monkeypatch.setenv("STEPQUEUE_MAX_RECEIVE_COUNT", "3")
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 2.0}, token="slow"), "m1"),
        with_receive_count(sqs_record(body({"n": 2}, token="last", heartbeat_seconds=30), "m2"), 3),
        with_receive_count(sqs_record(body({"n": 3}, token="again"), "m3"), 2),
    ]
    assert run(*records, context=LambdaContext(2000)) == ["m3"]
    failed = {c.kwargs["taskToken"]: c.kwargs for c in client.ops("send_task_failure")}
    assert set(failed) == {"slow", "last"}
    assert failed["last"]["error"] == "Stepqueue.DeadlineExceeded"
    assert "not started before the Lambda deadline" in failed["last"]["cause"]
    assert "maxReceiveCount 3" in failed["last"]["cause"]
    assert "still running" in failed["slow"]["cause"]
    (given_back,) = client.ops("change_message_visibility_batch")
    assert [e["ReceiptHandle"] for e in given_back.kwargs["Entries"]] == [
        records[2]["receiptHandle"]
    ]
    assert list(user_handlers.RUNS) == [("hang", {"seconds": 2.0})]
    (last,) = client.ops("send_task_failure", "last")  # no heartbeat after its failure
    assert all(b.at <= last.at for b in client.ops("send_task_heartbeat", "last"))


@pytest.mark.parametrize("setting", [None, "", "five", "0", "-1"])
def test_unknown_max_receive_count_always_gives_back(
    setting: str | None,
    client: RecordingClient,
    use_handler: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if setting is None:
        monkeypatch.delenv("STEPQUEUE_MAX_RECEIVE_COUNT", raising=False)
    else:
        monkeypatch.setenv("STEPQUEUE_MAX_RECEIVE_COUNT", setting)
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 1.5}, token="slow"), "m1"),
        with_receive_count(sqs_record(body(token="t2"), "m2"), 1000),
    ]
    assert run(*records, context=LambdaContext(2000)) == ["m2"]
    assert [c.kwargs["taskToken"] for c in client.ops("send_task_failure")] == ["slow"]


def test_margin_during_the_probe_on_the_last_receive_fails_the_task(
    client: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The margin comes while the record's probe is in flight: not started, and on its last
    receive, so its task is failed and the record acknowledged rather than deferred."""
    monkeypatch.setenv("STEPQUEUE_MAX_RECEIVE_COUNT", "2")
    use_handler(H + "ok")

    def slow_probe(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "send_task_heartbeat":
            time.sleep(1.3)  # slow on purpose: past the 1 s margin of a 2 s invocation
        return None

    client.fault = slow_probe
    record = with_receive_count(sqs_record(body({"n": 1}, token="t"), "m"), 2)
    assert run(record, context=LambdaContext(2000)) == []
    (failed,) = client.ops("send_task_failure")
    assert failed.kwargs["error"] == "Stepqueue.DeadlineExceeded"
    assert "not started" in failed.kwargs["cause"]
    assert client.ops("change_message_visibility_batch") == []
    assert client.ops("send_task_success") == [] and list(user_handlers.RUNS) == []


# -- a handler that returned is not failed for the deadline ------------------------------------


def test_handler_that_returned_is_not_failed_while_a_heartbeat_is_in_flight(
    client: RecordingClient, use_handler: Any
) -> None:
    """The handler returns at 0.5 s while a background heartbeat (sent at ~0.33 s) takes
    1.2 s; untracking waits for it, past the margin at 1 s. The record was finished when the
    handler returned: its success is sent, no Stepqueue.DeadlineExceeded."""
    use_handler(H + "hang")

    def slow_background_beat(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "send_task_heartbeat" and threading.current_thread().name == "stepqueue-heartbeat":
            time.sleep(1.2)  # a slow call on purpose: in flight past the margin at 1 s
        return None

    client.fault = slow_background_beat
    record = sqs_record(body({"seconds": 0.5}, token="t", heartbeat_seconds=1), "m")
    started = time.monotonic()
    assert run(record, context=LambdaContext(2000)) == []
    assert client.ops("send_task_failure") == []
    (success,) = client.ops("send_task_success")
    assert success.at - started > 1.0  # the callback did come after the margin


def test_record_claimed_while_the_margin_fails_it_is_acknowledged(
    client: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The margin (1 s) comes between two records: m1 done at 0.8 s, its callback until
    ~1.3 s; the timer fails m2's task (its last receive), slowly (until ~1.6 s). The main
    thread reaching m2 meanwhile waits for that report: m2 is acknowledged, not deferred."""
    monkeypatch.setenv("STEPQUEUE_MAX_RECEIVE_COUNT", "4")
    use_handler(H + "hang")

    def slow(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "send_task_success":
            time.sleep(0.5)  # slow on purpose: m1's callback lasts until ~1.3 s
        elif op == "send_task_failure":
            time.sleep(0.6)  # slow on purpose: the timer's report lasts until ~1.6 s
        return None

    client.fault = slow
    records = [
        sqs_record(body({"seconds": 0.8}, token="t1"), "m1"),
        with_receive_count(sqs_record(body({"seconds": 0}, token="last"), "m2"), 4),
    ]
    assert run(*records, context=LambdaContext(2000)) == []
    assert [c.kwargs["taskToken"] for c in client.ops("send_task_failure")] == ["last"]
    assert client.ops("change_message_visibility_batch") == []
    assert list(user_handlers.RUNS) == [("hang", {"seconds": 0.8})]
