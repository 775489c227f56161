"""stepqueue_runtime.testing reports what the Lambda entry point reports: the same handler,
run through the helper and through `entry.handler` (the deployed path, its Step Functions
client recorded), ends in the same callback for any output or exception."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stepqueue_runtime import TaskContext, TaskFailed, aws, entry, handlers
from stepqueue_runtime.testing import (
    FakeTask,
    HandlerOutcome,
    MemoryPayloads,
    run_handler,
    run_sqs_event,
)

from stepqueue.paths import LAMBDA_SRC
from tests.support.hypothesis_profiles import examples
from tests.support.lambda_support import RecordingClient, body, event, sqs_record

SPEC = "tests_unit_lambda.helper.fn"  # a name only the handler cache knows


def through_entry(fn: Callable[[Any, TaskContext], Any], payload: Any) -> HandlerOutcome:
    """One record through the Lambda entry point, as deployed; what it sent back."""
    client = RecordingClient()
    aws.set_client(client)
    handlers._cache[SPEC] = fn
    try:
        response = entry.handler(event(sqs_record(body(payload, token="t-1"), "m-1")), None)
    finally:
        handlers._cache.pop(SPEC, None)
        aws.set_client(None)
    assert response == {"batchItemFailures": []}
    [success] = client.ops("send_task_success") or [None]
    [fail] = client.ops("send_task_failure") or [None]
    if success is not None:
        text = success.kwargs["output"]
        return HandlerOutcome("succeeded", json.loads(text), text, ran=True)
    assert fail is not None
    return HandlerOutcome(
        "failed", error=fail.kwargs["error"], cause=fail.kwargs["cause"], ran=True
    )


def same(helper: HandlerOutcome, real: HandlerOutcome) -> None:
    assert (helper.status, helper.output_json, helper.error, helper.cause, helper.ran) == (
        real.status,
        real.output_json,
        real.error,
        real.cause,
        real.ran,
    )


@pytest.fixture
def handler_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPQUEUE_HANDLER", SPEC)


# What a handler may return: JSON, and what is not (NaN, sets, bytes, lone surrogates), deep
# or large enough to cross the runtime's limits.
_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1),
    st.binary(max_size=4),
    st.frozensets(st.integers(), max_size=2),
)
_outputs = st.one_of(
    st.recursive(
        _leaf,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    st.integers(200_000, 300_000).map(lambda n: {"blob": "x" * n}),  # around 256 KiB
    st.integers(1, 3).map(lambda k: _nested(1000 * k)),  # past the encoder's recursion limit
)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


_texts = st.text(max_size=40) | st.integers(40_000, 70_000).map(lambda n: "é" * n)
# Factories: each run raises a fresh exception, as a handler does.
_raises = st.one_of(
    st.builds(lambda e, c: lambda: TaskFailed(e, c), st.text(max_size=300), _texts),
    st.builds(lambda m: lambda: ValueError(m), _texts),
    st.builds(lambda m: lambda: KeyError(m), st.text(max_size=20)),
    st.just(lambda: _Unprintable()),
    st.just(lambda: SystemExit(3)),
    st.just(lambda: KeyboardInterrupt()),
)


@settings(max_examples=examples(1))
@given(output=_outputs)
def test_any_output_ends_as_the_runtime_ends_it(handler_env: None, output: Any) -> None:
    def fn(payload: Any, ctx: TaskContext) -> Any:
        return output

    same(run_handler(fn, {"n": 1}), through_entry(fn, {"n": 1}))


@settings(max_examples=examples(1))
@given(make=_raises, payload=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))
def test_any_exception_ends_as_the_runtime_ends_it(
    handler_env: None, make: Callable[[], BaseException], payload: dict[str, Any]
) -> None:
    def fn(payload: Any, ctx: TaskContext) -> Any:
        raise make()

    helper, real = run_handler(fn, payload), through_entry(fn, payload)
    same(helper, real)
    assert helper.failed


def test_the_handler_sees_the_payload_as_the_queue_delivers_it(handler_env: None) -> None:
    seen: list[Any] = []

    def fn(payload: Any, ctx: TaskContext) -> Any:
        seen.append(payload)
        return None

    run_handler(fn, {"t": (1, 2), "f": 1.0})
    through_entry(fn, {"t": (1, 2), "f": 1.0})
    assert seen[0] == seen[1] == {"t": [1, 2], "f": 1.0}  # JSON: a tuple arrives as a list
    with pytest.raises(ValueError, match="not JSON"):
        run_handler(fn, {"x": float("nan")})


def test_the_fake_context_is_a_real_one() -> None:
    ticks = iter([5_000, 4_000])
    task = FakeTask(task_token="tok", remaining_ms=lambda: next(ticks), closes_after=2)
    ctx = task.context()
    assert isinstance(ctx, TaskContext)
    assert ctx.idempotency_key == hashlib.sha256(b"tok").hexdigest()
    assert [ctx.remaining_ms(), ctx.remaining_ms()] == [5_000, 4_000]
    assert [ctx.heartbeat(), ctx.heartbeat(), ctx.heartbeat()] == [True, True, False]
    assert task.heartbeats == 3


def test_a_closed_task_is_answered_as_aws_answers() -> None:
    ran: list[int] = []

    def fn(payload: Any, ctx: TaskContext) -> Any:
        ran.append(1)
        return [ctx.heartbeat() for _ in range(3)]

    # Open: every heartbeat answered, the output sent.
    assert run_handler(fn, None).output == [True, True, True]
    # Closed after 2: the third heartbeat is refused and so is the success.
    late = run_handler(fn, None, FakeTask(closes_after=2))
    assert (late.status, late.heartbeats, late.ran) == ("already_finished", 3, True)
    # Closed already: the probe finds it so and the handler does not run.
    ran.clear()
    assert run_handler(fn, None, FakeTask(closes_after=0)).ran is False and ran == []


def test_the_claim_check_stores_and_resolves_with_the_runtimes_code() -> None:
    bucket = MemoryPayloads("wf", "big", threshold_bytes=1024)
    big = {"data": "y" * 5000}
    stored = run_handler(lambda p, c: big, None, payloads=bucket)
    assert stored.succeeded and bucket.resolve(stored.output) == big
    [key] = bucket.objects
    assert key.startswith("wf/big/") and json.loads(bucket.objects[key]) == big

    reader = bucket.for_worker("small")
    sizes = run_handler(lambda p, c: len(p["in"]["data"]), {"in": stored.output}, payloads=reader)
    assert sizes.output == 5000
    # Expired by the bucket's lifecycle: the task fails, its handler not run.
    bucket.forget(key)
    gone = run_handler(lambda p, c: 1, {"in": stored.output}, payloads=reader)
    assert (gone.error, gone.ran) == ("Stepqueue.PayloadUnavailable", False)
    assert "NoSuchKey" in (gone.cause or "")


def test_a_sample_event_ends_as_through_the_entry_point(handler_env: None) -> None:
    from examples import orders

    sample = json.loads(
        (Path(LAMBDA_SRC) / "examples" / "events" / "orders_charge_sqs_event.json").read_text()
    )
    before = aws._clients.get(aws.SERVICE)
    helped = run_sqs_event(orders.charge, sample)
    # The helper put back the runtime's client it borrowed.
    assert aws._clients.get(aws.SERVICE) is before
    client = RecordingClient()
    aws.set_client(client)
    handlers._cache[SPEC] = orders.charge
    try:
        assert entry.handler(sample, None) == helped.response
    finally:
        handlers._cache.pop(SPEC, None)
        aws.set_client(None)
    sent = {c.kwargs["taskToken"]: c.kwargs for c in client.calls if c.op != "send_task_heartbeat"}
    for record in sample["Records"]:
        outcome = helped.tasks[record["messageId"]]
        kwargs = sent[json.loads(record["body"])["taskToken"]]
        assert outcome.output_json == kwargs.get("output")
        assert (outcome.error, outcome.cause) == (kwargs.get("error"), kwargs.get("cause"))
