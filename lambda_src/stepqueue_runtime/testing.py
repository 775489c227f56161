"""Unit-testing a handler without AWS: a fake task, and the runtime's own path around it.

``run_handler(fn, payload)`` runs ``fn`` exactly as the worker runtime runs a task (the same
code: the body parsed as the queue delivers it, the probe heartbeat, the handler, the output's
checks, the error mapping, the claim check) against a Step Functions stand-in that records
what the runtime would have sent, and returns that as a ``HandlerOutcome``::

    from stepqueue_runtime.testing import FakeTask, run_handler

    outcome = run_handler(enrich, {"items": [{"price": 2.5, "qty": 2}]})
    assert outcome.succeeded and outcome.output["total"] == 5.0

    outcome = run_handler(charge, {"decline": True})
    assert outcome.error == "Orders.PaymentDeclined"

``run_sqs_event(fn, event)`` runs a whole SQS batch (a sample event file) through the Lambda
entry point's batch code, with ``fn`` in place of ``$STEPQUEUE_HANDLER``. ``FakeTask`` says
what the task looks like (names, token, time left, when it closes) and counts heartbeats;
``FakeTask().context()`` is a real ``TaskContext`` for calling a handler directly.
``MemoryPayloads`` is the payload bucket (the claim check) in memory.

Nothing here calls AWS or needs credentials. ``run_sqs_event`` and ``MemoryPayloads`` swap the
runtime's module-level clients for the duration of the call (and put back what was there),
so one test at a time per process uses them: pytest's default, and pytest-xdist's workers are
processes.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from stepqueue_runtime import payloads as _payloads
from stepqueue_runtime.context import TaskContext
from stepqueue_runtime.message import parse_body
from stepqueue_runtime.worker import Outcome, UserHandler, run_task

__all__ = [
    "FakeTask",
    "HandlerOutcome",
    "MemoryPayloads",
    "run_handler",
    "run_sqs_event",
]

# What a Lambda function may run for at most: the context's time left when none is given.
FIFTEEN_MINUTES_MS: Final = 15 * 60 * 1000
# The statuses of a HandlerOutcome: the runtime's own, and one for a record given back.
SUCCEEDED: Final = Outcome.SUCCEEDED
FAILED: Final = Outcome.FAILED
ALREADY_FINISHED: Final = Outcome.ALREADY_FINISHED
REDELIVERED: Final = "redelivered"

# The runtime's clients are module-level: swapping them is serialised within a process.
_SWAP = threading.RLock()  # re-entrant: a handler under test may use its MemoryPayloads


@dataclass
class FakeTask:
    """One task as the generated ASL queues it: what ``ctx`` shows the handler.

    ``remaining_ms``: what ``ctx.remaining_ms()`` answers (a number, or a function called each
    time); the real runtime already subtracts its deadline margin. ``closes_after``: the task
    closes (times out, as when its execution ended) after that many heartbeats: those answer
    True, every later ``ctx.heartbeat()`` False, and the callback finds it closed; 0: closed
    before the handler runs (a duplicate delivery), so it does not run; None: it stays open.
    ``heartbeats`` counts the heartbeats the handler sent (the runtime's own probe before it
    runs is not one of them).
    """

    workflow: str = "test"
    worker: str = "test"
    state: str = "Test"
    execution: str = "arn:aws:states:us-east-1:123456789012:execution:test:test-execution"
    message_id: str = "test-message-1"
    task_token: str = "test-task-token-1"
    heartbeat_seconds: float | None = None
    remaining_ms: int | Callable[[], int] = FIFTEEN_MINUTES_MS
    closes_after: int | None = None
    heartbeats: int = field(default=0, init=False)

    def context(self) -> TaskContext:
        """A real ``TaskContext`` for this task, to call a handler directly (no runtime
        around it: its output and exceptions are the test's to check)."""

        def beat() -> bool:
            is_open = self.is_open()
            self.heartbeats += 1
            return is_open

        return TaskContext(
            self.workflow,
            self.worker,
            self.state,
            self.execution,
            self.message_id,
            self.task_token,
            beat,
            self._remaining,
        )

    def is_open(self) -> bool:
        return self.closes_after is None or self.heartbeats < self.closes_after

    def body(self, payload: Any) -> str:
        """The SQS message body the generated ASL sends for ``payload`` (contracts.md)."""
        context: dict[str, Any] = {
            "workflow": self.workflow,
            "worker": self.worker,
            "state": self.state,
            "execution": self.execution,
        }
        if self.heartbeat_seconds is not None:
            context["heartbeatSeconds"] = self.heartbeat_seconds
        message = {"input": payload, "taskToken": self.task_token, "context": context}
        try:
            # As Step Functions writes it: JSON, no NaN (a payload it could not send is the
            # test's mistake, said here rather than as the handler's failure).
            return json.dumps(message, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            problem = f"the test's payload is not JSON Step Functions could send: {exc}"
            raise ValueError(problem) from None

    def _remaining(self) -> int:
        remaining = self.remaining_ms
        return remaining() if callable(remaining) else remaining


@dataclass(frozen=True)
class HandlerOutcome:
    """What the runtime reported for one task.

    ``status``: ``"succeeded"`` (``SendTaskSuccess``, ``output`` the JSON it carried, parsed),
    ``"failed"`` (``SendTaskFailure`` with ``error`` and ``cause``: the handler's
    ``TaskFailed``, its exception's class name with a Lambda-style JSON cause, or one of the
    runtime's ``Stepqueue.*`` errors), ``"already_finished"`` (the task was closed: nothing
    reported) or, for ``run_sqs_event``, ``"redelivered"`` (the record is in the batch's
    ``batchItemFailures``). ``ran``: whether the handler ran (None where the batch path does
    not say). ``output_json``: the exact text sent.
    """

    status: str
    output: Any = None
    output_json: str | None = None
    error: str | None = None
    cause: str | None = None
    heartbeats: int = 0
    ran: bool | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    def cause_json(self) -> Any:
        """The cause parsed (the Lambda-style ``{errorMessage, errorType, stackTrace}`` of an
        exception that is not a ``TaskFailed``)."""
        return json.loads(self.cause or "null")


@dataclass(frozen=True)
class EventOutcome:
    """``response``: what the Lambda function returns (``batchItemFailures``); ``tasks``: the
    outcome of each record that is a task message, by message id."""

    response: dict[str, Any]
    tasks: dict[str, HandlerOutcome]


def run_handler(
    handler: UserHandler,
    payload: Any,
    task: FakeTask | None = None,
    *,
    payloads: MemoryPayloads | None = None,
) -> HandlerOutcome:
    """Run ``handler`` on ``payload`` as the worker runtime runs one task; what it reported.

    ``payloads``: the claim check, as when the deployment has a payload bucket: references in
    ``payload`` are resolved before the handler runs, output over the threshold is stored and
    its reference is the output (``payloads.resolve(outcome.output)`` reads it back).
    """
    task = task or FakeTask()
    body = task.body(payload)
    message = parse_body(body)
    stand_in = _StepFunctions({task.task_token: task}, probe_apart=True)
    store = payloads.store if payloads is not None else None
    resolve = store is not None and _payloads.MARKER_JSON in body
    with payloads.installed() if payloads is not None else _nothing():
        result = run_task(
            message,
            task.message_id,
            handler,
            stand_in,
            None,  # no background heartbeats: ctx.heartbeat() is the handler's own
            task._remaining,
            None,  # no deadline guard: the test's handler is not racing a Lambda timeout
            store,
            resolve,
        )
    return _outcome(result.outcome, stand_in.sent.get(task.task_token), task, result.ran)


def run_sqs_event(
    handler: UserHandler,
    event: Mapping[str, Any],
    *,
    payloads: MemoryPayloads | None = None,
    remaining_ms: int | None = None,
    closes_after: Mapping[str, int] | None = None,
) -> EventOutcome:
    """Run an SQS event (``{"Records": [...]}``, e.g. a sample file) through the Lambda entry
    point's batch code with ``handler`` as the worker's handler.

    ``remaining_ms``: the Lambda context's time left at the start, counting down (None: no
    context, so no deadline margin). ``closes_after``: task token → heartbeats after which
    that task closes. Here a task's ``heartbeats`` counts every ``SendTaskHeartbeat`` for its
    token: the probe before the handler runs, the runtime's own every ``heartbeatSeconds / 3``
    and the handler's.
    """
    from stepqueue_runtime import aws, entry  # Powertools: loaded only for a whole batch

    tasks: dict[str, FakeTask] = {}
    by_message: dict[str, str] = {}
    for record in event.get("Records") or []:
        try:
            message = parse_body(record.get("body"))
        except ValueError:
            continue  # malformed: given back, with no task to report on
        token = message.task_token
        by_message[str(record.get("messageId", ""))] = token
        tasks[token] = FakeTask(task_token=token, closes_after=(closes_after or {}).get(token))
    stand_in = _StepFunctions(tasks, probe_apart=False)
    context = _LambdaContext(remaining_ms) if remaining_ms is not None else None
    with (
        _SWAP,
        _swapped(aws._clients, aws.SERVICE, stand_in),
        _swapped(aws._clients, aws.SQS, stand_in),
        payloads.installed(locked=False) if payloads is not None else _nothing(),
        _swapped_env(_payloads_env(payloads)),
    ):
        response = entry.run_batch(handler, dict(event), context)
    given_back = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
    outcomes = {}
    for message_id, token in by_message.items():
        status = (
            REDELIVERED
            if message_id in given_back
            else stand_in.status.get(token, ALREADY_FINISHED)
        )
        outcomes[message_id] = _outcome(status, stand_in.sent.get(token), tasks[token], None)
    return EventOutcome(response, outcomes)


class MemoryPayloads:
    """The payload bucket of the claim check (``stepqueue_runtime.payloads``) in memory: the
    runtime's own ``PayloadStore`` over a dictionary instead of S3.

    ``threshold_bytes``: output over it is stored and sent as a reference (1,024 to 262,144;
    the deployment's default 204,800). ``objects``: key → stored bytes.
    """

    BUCKET: Final = "stepqueue-test-payloads"

    def __init__(
        self,
        workflow: str = "test",
        worker: str = "test",
        *,
        threshold_bytes: int = _payloads.DEFAULT_THRESHOLD_BYTES,
        max_bytes: int = _payloads.DEFAULT_MAX_BYTES,
    ) -> None:
        self.workflow = workflow
        self.store = _payloads.PayloadStore(
            self.BUCKET, f"{workflow}/", f"{workflow}/{worker}/", threshold_bytes, max_bytes
        )
        self._s3 = _MemoryS3()

    def for_worker(self, worker: str) -> MemoryPayloads:
        """The same bucket as another worker of the workflow sees it (its own write prefix)."""
        other = MemoryPayloads(
            self.workflow,
            worker,
            threshold_bytes=self.store.threshold_bytes,
            max_bytes=self.store.max_bytes,
        )
        other._s3 = self._s3
        return other

    @property
    def objects(self) -> dict[str, bytes]:
        return dict(self._s3.objects)

    def reference(self, value: Any, *, worker: str = "upstream", task_token: str = "t") -> Any:
        """Store ``value`` as worker ``worker`` of this workflow would have (the runtime's own
        code) and return its reference, to put in a handler's input."""
        upstream = _payloads.PayloadStore(
            self.BUCKET,
            self.store.read_prefix,
            f"{self.store.read_prefix}{worker}/",
            self.store.threshold_bytes,
            self.store.max_bytes,
        )
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        with self.installed():
            stored = upstream.offload(text, len(text.encode("utf-8")), task_token)
        if not isinstance(stored, str):
            raise ValueError(f"the value could not be stored: {stored.error}: {stored.cause}")
        return json.loads(stored)

    def resolve(self, value: Any) -> Any:
        """``value`` with each reference replaced by its payload, as the next worker reads it
        (a copy: ``value`` is left as it is)."""
        copy = json.loads(json.dumps(value))
        with self.installed():
            return self.store.resolve(copy)

    def forget(self, key: str) -> None:
        """Drop a stored object, as the bucket's lifecycle rule expires it."""
        self._s3.objects.pop(key, None)

    @contextmanager
    def installed(self, *, locked: bool = True) -> Iterator[None]:
        """The runtime's S3 client is this bucket while inside."""
        with (
            _SWAP if locked else _nothing(),
            _swapped(_payloads._clients, _payloads.SERVICE, self._s3),
        ):
            yield


# -- the stand-ins ---------------------------------------------------------------------------


def _client_error(code: str, operation: str, status: int) -> Exception:
    """The exception botocore raises for an AWS error answer (the runtime classifies it)."""
    from botocore.exceptions import ClientError

    answer: Any = {
        "Error": {"Code": code, "Message": "stepqueue_runtime.testing"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    error: Exception = ClientError(answer, operation)
    return error


class _StepFunctions:
    """Answers the runtime's Step Functions (and SQS) calls as AWS would for open and closed
    tasks, recording the callback each task got. ``probe_apart``: the first heartbeat of a
    task is the runtime's probe, not counted as the handler's."""

    def __init__(self, tasks: dict[str, FakeTask], *, probe_apart: bool) -> None:
        self.tasks = tasks
        self.probe_apart = probe_apart
        self.probed: set[str] = set()
        self.sent: dict[str, dict[str, str]] = {}
        self.status: dict[str, str] = {}
        self._lock = threading.Lock()  # the heartbeat thread calls too

    def _task(self, token: str, operation: str) -> FakeTask:
        task = self.tasks.get(token)
        if task is None:
            raise _client_error("InvalidToken", operation, 400)
        return task

    def send_task_heartbeat(self, *, taskToken: str) -> dict[str, Any]:
        with self._lock:
            task = self._task(taskToken, "SendTaskHeartbeat")
            is_open = task.is_open() and taskToken not in self.status
            if self.probe_apart and taskToken not in self.probed:
                self.probed.add(taskToken)
            else:
                task.heartbeats += 1
        if not is_open:
            raise _client_error("TaskTimedOut", "SendTaskHeartbeat", 400)
        return {}

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        return self._close(taskToken, SUCCEEDED, "SendTaskSuccess", {"output": output})

    def send_task_failure(
        self,
        *,
        taskToken: str,
        error: str = "",
        cause: str = "",
    ) -> dict[str, Any]:
        sent = {"error": error, "cause": cause}
        return self._close(taskToken, FAILED, "SendTaskFailure", sent)

    def _close(
        self, token: str, status: str, operation: str, sent: dict[str, str]
    ) -> dict[str, Any]:
        with self._lock:
            task = self._task(token, operation)
            if not task.is_open() or token in self.status:
                raise _client_error("TaskTimedOut", operation, 400)
            self.status[token] = status  # closed: later calls are refused
            self.sent[token] = sent
        return {}

    def change_message_visibility_batch(self, **_: Any) -> dict[str, Any]:
        return {"Successful": [], "Failed": []}


class _MemoryS3:
    """The two S3 calls of the claim check, over a dictionary of one bucket."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self.objects[Key] = bytes(Body)
        return {}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        if Bucket != MemoryPayloads.BUCKET or Key not in self.objects:
            raise _client_error("NoSuchKey", "GetObject", 404)
        return {"Body": io.BytesIO(self.objects[Key])}


class _LambdaContext:
    """Counts down from ``ms`` as Lambda's context does."""

    def __init__(self, ms: int) -> None:
        import time

        self._clock = time.monotonic
        self._deadline = time.monotonic() + ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


def _outcome(
    status: str, sent: dict[str, str] | None, task: FakeTask, ran: bool | None
) -> HandlerOutcome:
    sent = sent or {}
    text = sent.get("output")
    return HandlerOutcome(
        status=status,
        output=json.loads(text) if text is not None else None,
        output_json=text,
        error=sent.get("error"),
        cause=sent.get("cause"),
        heartbeats=task.heartbeats,
        ran=ran,
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _swapped(cache: dict[str, Any], service: str, client: Any) -> Iterator[None]:
    """``client`` in the runtime's client ``cache`` while inside; what was there after."""
    before = cache.get(service)
    cache[service] = client
    try:
        yield
    finally:
        if before is None:
            cache.pop(service, None)
        else:
            cache[service] = before


def _payloads_env(payloads: MemoryPayloads | None) -> dict[str, str | None]:
    """The worker's claim-check settings as the worker module sets them (None: unset)."""
    names = (
        _payloads.ENV_BUCKET,
        _payloads.ENV_READ_PREFIX,
        _payloads.ENV_WRITE_PREFIX,
        _payloads.ENV_THRESHOLD,
        _payloads.ENV_MAX,
    )
    if payloads is None:
        return dict.fromkeys(names)
    store = payloads.store
    values = (
        store.bucket,
        store.read_prefix,
        store.write_prefix,
        str(store.threshold_bytes),
        str(store.max_bytes),
    )
    return dict(zip(names, values, strict=True))


@contextmanager
def _swapped_env(values: dict[str, str | None]) -> Iterator[None]:
    import os

    before = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            _set_env(os, name, value)
        yield
    finally:
        for name, value in before.items():
            _set_env(os, name, value)


def _set_env(os: Any, name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
