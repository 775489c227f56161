"""Runtime branches with a recording (optionally faulty) client: no network."""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from stepqueue_runtime import aws, entry, handlers
from stepqueue_runtime.limits import CAUSE_MAX_CHARS, ERROR_MAX_CHARS, cut, utf16_len

from tests.support import user_handlers
from tests.support.lambda_support import RecordingClient, body, client_error, event, sqs_record

H = "tests.support.user_handlers."


@pytest.fixture
def client() -> RecordingClient:
    c = RecordingClient()
    aws.set_client(c)
    return c


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The runtime's JSON log lines, one per line."""
    buf = io.StringIO()
    handler: Any = entry.logger.registered_handler
    old = handler.setStream(buf)
    try:
        yield buf
    finally:
        handler.setStream(old)


def log_lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def run(*records: dict[str, Any]) -> list[str]:
    response = entry.handler(event(*records), None)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_success_calls_back_with_output(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "ok")
    assert run(sqs_record(body({"n": "ü"}, token="t1"), "m1")) == []
    success = client.ops("send_task_success", "t1")
    assert len(success) == 1
    out = json.loads(success[0].kwargs["output"])
    assert out["got"] == {"n": "ü"} and out["state"] == "Enrich"
    # Stable per token, whatever the delivery.
    assert len(out["key"]) == 64
    # The probe ran first.
    assert client.calls[0].op == "send_task_heartbeat"


def test_idempotency_key_is_stable_per_token(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "ok")
    run(sqs_record(body(token="same"), "a"), sqs_record(body(token="same"), "b"))
    run(sqs_record(body(token="other"), "c"))
    keys = [json.loads(c.kwargs["output"])["key"] for c in client.ops("send_task_success")]
    assert keys[0] == keys[1] != keys[2]


def test_empty_batch(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "ok")
    assert entry.handler({"Records": []}, None) == {"batchItemFailures": []}
    assert entry.handler({}, None) == {"batchItemFailures": []}
    assert client.calls == []


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        json.dumps({"input": 1, "taskToken": "t"}),  # no context
        json.dumps({"input": 1, "taskToken": "t", "context": {}, "extra": 1}),
        json.dumps({"input": 1, "taskToken": "", "context": {}}),
        body().replace('"state": "Enrich"', '"state": 7'),
        body(heartbeat_seconds=-1),
    ],
)
def test_malformed_body_is_a_batch_failure(
    raw: str, client: RecordingClient, use_handler: Any, logs: io.StringIO
) -> None:
    use_handler(H + "ok")
    assert run(sqs_record(raw, "bad"), sqs_record(body(token="good"), "good")) == ["bad"]
    assert len(client.ops("send_task_success", "good")) == 1
    (line,) = [x for x in log_lines(logs) if x.get("outcome") == "malformed"]
    assert line["message_id"] == "bad" and line["level"] == "ERROR"


def test_all_fail_batch_returns_every_item(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "ok")
    client.fault = lambda op, kw: client_error("ThrottlingException", op)
    records = [sqs_record(body(token=f"t{i}"), f"m{i}") for i in range(3)]
    records.append(sqs_record("{", "m3"))
    assert sorted(run(*records)) == ["m0", "m1", "m2", "m3"]


def test_handler_error_with_unicode(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "unicode_error")
    assert run(sqs_record(body(token="t"), "m")) == []
    (call,) = client.ops("send_task_failure")
    assert call.kwargs["error"] == "ValueError"
    cause = json.loads(call.kwargs["cause"])
    assert cause["errorMessage"] == "échec 💥 ñandú 日本語"
    assert cause["errorType"] == "ValueError"
    assert any("unicode_error" in frame for frame in cause["stackTrace"])
    # The runtime's own frame is not in the user's stack trace.
    assert not any("worker.py" in frame for frame in cause["stackTrace"])


def test_unicode_exception_class_name(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "unicode_class")
    run(sqs_record(body(), "m"))
    assert client.ops("send_task_failure")[0].kwargs["error"] == "ÜberError"


def test_chosen_error_and_cause_cut_to_limits(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "chosen")
    error, cause = "E" * 300 + "💥", "日本" * 20_000 + "💥" * 10
    run(sqs_record(body({"error": error, "cause": cause}), "m"))
    (call,) = client.ops("send_task_failure")
    assert utf16_len(call.kwargs["error"]) <= ERROR_MAX_CHARS
    assert utf16_len(call.kwargs["cause"]) <= CAUSE_MAX_CHARS
    assert call.kwargs["cause"].startswith("日本日本") and call.kwargs["cause"].endswith(
        "[truncated]"
    )
    call.kwargs["cause"].encode("utf-8")  # valid Unicode: no split surrogate pair


def test_huge_generic_cause_stays_valid_json(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "huge")
    run(sqs_record(body(), "m"))
    (call,) = client.ops("send_task_failure")
    cause = call.kwargs["cause"]
    assert utf16_len(cause) <= CAUSE_MAX_CHARS
    parsed = json.loads(cause)
    assert parsed["errorType"] == "RuntimeError" and parsed["errorMessage"].startswith("💥💥")
    assert utf16_len(cause) > CAUSE_MAX_CHARS - 100  # cut, not emptied


def test_cut_never_splits_a_surrogate_pair() -> None:
    for limit in range(1, 40):
        for text in ["💥" * 30, "a💥" * 30, "\ud800lone" * 10]:
            got = cut(text, limit, mark="…")
            assert utf16_len(got) <= limit
            got.encode("utf-8")
    assert cut("short", 256) == "short"


def test_output_too_large_is_a_task_failure(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "big_output")
    assert run(sqs_record(body(), "m")) == []
    (call,) = client.ops("send_task_failure")
    assert call.kwargs["error"] == "Stepqueue.OutputTooLarge"
    assert "262144" in call.kwargs["cause"]
    assert client.ops("send_task_success") == []


def test_output_not_json_is_a_task_failure(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "not_json")
    run(sqs_record(body(), "m"))
    assert client.ops("send_task_failure")[0].kwargs["error"] == "Stepqueue.OutputNotJson"


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist"])
def test_probe_finds_finished_task(code: str, client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "by_input")
    user_handlers.RUNS.clear()
    client.fault = lambda op, kw: client_error(code, op) if op == "send_task_heartbeat" else None
    assert run(sqs_record(body({"x": 1}), "m")) == []
    assert user_handlers.RUNS == []
    assert client.ops("send_task_success") == []


def test_invalid_token_probe_depends_on_heartbeat_seconds(
    client: RecordingClient, use_handler: Any
) -> None:
    """With HeartbeatSeconds, InvalidToken proves the task closed; without, moto answers it for
    running tasks too, so the handler runs and the callback decides."""
    use_handler(H + "by_input")
    user_handlers.RUNS.clear()
    client.fault = lambda op, kw: client_error("InvalidToken", op)
    assert run(sqs_record(body({"hb": True}, heartbeat_seconds=30), "m1")) == []
    assert user_handlers.RUNS == []
    assert run(sqs_record(body({"hb": False}), "m2")) == []
    assert user_handlers.RUNS == [("by_input", {"hb": False})]


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_token_finished_at_callback_is_acknowledged(
    code: str, client: RecordingClient, use_handler: Any, logs: io.StringIO
) -> None:
    use_handler(H + "by_input")
    client.fault = lambda op, kw: client_error(code, op) if op != "send_task_heartbeat" else None
    assert run(sqs_record(body({}), "m1"), sqs_record(body({"fail": "x"}), "m2")) == []
    outcomes = {x["message_id"]: x["outcome"] for x in log_lines(logs)}
    assert outcomes == {"m1": "already_finished", "m2": "already_finished"}


def _throttle_token(token: str, op_name: str = "send_task_success") -> Any:
    def fault(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == op_name and kw["taskToken"] == token:
            return client_error("ThrottlingException", op, message="Rate exceeded")
        return None

    return fault


def test_throttled_success_redelivers_only_that_record(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")
    client.fault = _throttle_token("t2")
    records = [sqs_record(body(token=f"t{i}"), f"m{i}") for i in range(1, 4)]
    assert run(*records) == ["m2"]
    assert len(client.ops("send_task_success")) == 3  # 1 and 3 succeeded, 2 was attempted


@pytest.mark.parametrize(
    "exc",
    [
        client_error("InternalFailure", "SendTaskFailure", status=500),
        client_error("SomethingNew", "SendTaskFailure", status=503),
        EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com"),
    ],
)
def test_transient_errors_redeliver(
    exc: Exception, client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "by_input")
    client.fault = lambda op, kw: exc if op == "send_task_failure" else None
    assert run(sqs_record(body({"fail": "x"}), "m1"), sqs_record(body({}), "m2")) == ["m1"]


def test_throttled_probe_redelivers_without_running(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "by_input")
    user_handlers.RUNS.clear()
    client.fault = _throttle_token("t1", "send_task_heartbeat")
    assert run(sqs_record(body({}, token="t1"), "m1")) == ["m1"]
    assert user_handlers.RUNS == []


def test_rejected_success_fails_the_task_instead(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "ok")
    client.fault = lambda op, kw: (
        client_error("ValidationException", op) if op == "send_task_success" else None
    )
    assert run(sqs_record(body(), "m")) == []
    assert client.ops("send_task_failure")[0].kwargs["error"] == "Stepqueue.CallbackRejected"


def test_rejected_everything_goes_to_the_dlq_path(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")
    client.fault = lambda op, kw: (
        client_error("AccessDeniedException", op) if op != "send_task_heartbeat" else None
    )
    assert run(sqs_record(body(), "m")) == ["m"]


def test_heartbeats_while_handler_hangs_then_stop(
    client: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "hang")
    # HeartbeatSeconds=1 → every 1/3 s; the handler hangs 1.2 s, past several intervals.
    assert run(sqs_record(body({"seconds": 1.2}, token="t", heartbeat_seconds=1), "m")) == []
    beats = client.ops("send_task_heartbeat", "t")
    (success,) = client.ops("send_task_success", "t")
    assert len(beats) >= 1 + 2  # the probe plus background heartbeats (~3; slack for load)
    assert all(b.at <= success.at for b in beats)
    gaps = [b.at - a.at for a, b in itertools.pairwise(beats[1:])]  # after the probe
    assert all(0.2 < g < 1.0 for g in gaps), gaps  # every ~1/3 s
    time.sleep(0.5)  # a fixed window (1.5 intervals) in which no heartbeat may follow
    assert len(client.ops("send_task_heartbeat", "t")) == len(beats)  # stopped
    assert not [t for t in threading.enumerate() if t.name == "stepqueue-heartbeat"]


def test_waiting_records_heartbeat_too(client: RecordingClient, use_handler: Any) -> None:
    """A record queued behind a long one in the same batch keeps its task alive."""
    use_handler(H + "hang")
    records = [
        sqs_record(body({"seconds": 1.2}, token="first", heartbeat_seconds=1), "m1"),
        sqs_record(body({"seconds": 0}, token="second", heartbeat_seconds=1), "m2"),
    ]
    assert run(*records) == []
    (first_done,) = client.ops("send_task_success", "first")
    early = [b for b in client.ops("send_task_heartbeat", "second") if b.at < first_done.at]
    assert len(early) >= 2


def test_heartbeat_learns_task_closed(client: RecordingClient, use_handler: Any) -> None:
    use_handler(H + "hang")
    count = {"n": 0}

    def fault(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "send_task_heartbeat":
            count["n"] += 1
            if count["n"] > 1:  # the probe passes, background heartbeats find it timed out
                return client_error("TaskTimedOut", op)
        if op == "send_task_success":
            return client_error("TaskTimedOut", op)
        return None

    client.fault = fault
    assert run(sqs_record(body({"seconds": 1.0}, token="t", heartbeat_seconds=1), "m")) == []
    assert count["n"] == 2  # no more heartbeats once it is known closed


def test_structured_log_fields_without_payloads(
    client: RecordingClient, use_handler: Any, logs: io.StringIO
) -> None:
    use_handler(H + "ok")
    run(sqs_record(body({"secret": "s3cr3t"}), "m1"))
    (line,) = log_lines(logs)
    for key in ("execution", "state", "message_id", "outcome", "duration_ms", "workflow"):
        assert key in line
    assert line["outcome"] == "succeeded" and line["message_id"] == "m1"
    assert "s3cr3t" not in logs.getvalue()


def test_payload_logging_is_opt_in(
    client: RecordingClient, use_handler: Any, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_handler(H + "ok")
    monkeypatch.setenv("STEPQUEUE_LOG_PAYLOADS", "true")
    run(sqs_record(body({"secret": "s3cr3t"}), "m1"))
    (line,) = log_lines(logs)
    assert line["input"] == {"secret": "s3cr3t"} and "s3cr3t" in line["output"]


def test_context_remaining_ms_uses_lambda_context(client: RecordingClient) -> None:
    seen: dict[str, Any] = {}

    def fn(payload: Any, ctx: Any) -> Any:
        seen["remaining"] = ctx.remaining_ms()
        seen["alive"] = ctx.heartbeat()
        return None

    class LambdaContext:
        def get_remaining_time_in_millis(self) -> int:
            return 1234

    handlers._cache["t.fn"] = fn
    try:
        import os

        os.environ["STEPQUEUE_HANDLER"] = "t.fn"
        entry.handler(event(sqs_record(body(), "m")), LambdaContext())
    finally:
        handlers._cache.pop("t.fn")
        os.environ.pop("STEPQUEUE_HANDLER")
    # Less the deadline margin (half of so short a time): the time the handler really has.
    assert seen == {"remaining": 1234 - 617, "alive": True}


@pytest.mark.parametrize("spec", [None, "nodots", "examples.nope.fn", "examples.common.nope"])
def test_bad_handler_setting_fails_loudly(spec: str | None, client: RecordingClient) -> None:
    with pytest.raises(handlers.HandlerNotFound):
        handlers.resolve(spec)


def test_handler_is_resolved_once(use_handler: Any, client: RecordingClient) -> None:
    from examples import common

    assert handlers.resolve("examples.common.echo") is common.echo
    assert handlers._cache["examples.common.echo"] is common.echo


def test_sample_event_gives_sample_response(client: RecordingClient, use_handler: Any) -> None:
    """lambda_src/examples/events: a real-shaped batch, the response and the task output."""
    from pathlib import Path

    events = Path(__file__).resolve().parents[3] / "lambda_src" / "examples" / "events"
    use_handler("examples.orders.enrich")
    sample = json.loads((events / "orders_enrich_sqs_event.json").read_text())
    expected = json.loads((events / "orders_enrich_response.json").read_text())
    assert entry.handler(sample, None) == expected
    (success,) = client.ops("send_task_success")
    output = json.loads((events / "orders_enrich_task_output.json").read_text())
    assert json.loads(success.kwargs["output"]) == output
