"""Lambda handler ``stepqueue_runtime.entry.handler`` for SQS event source mappings.

Powertools does the partial batch response and the JSON logs; this module only wires them to
the per-task logic in ``worker``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.decorators import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from stepqueue_aws import change_visibility

from stepqueue_runtime import aws, handlers, payloads, redelivery
from stepqueue_runtime.deadline import Deadline
from stepqueue_runtime.errors import failure
from stepqueue_runtime.heartbeat import Heartbeater
from stepqueue_runtime.message import MalformedBody, TaskMessage, parse_body
from stepqueue_runtime.worker import (
    DEADLINE_EXCEEDED,
    REDELIVER,
    Outcome,
    Result,
    UserHandler,
    fail_task,
    run_task,
)

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-worker"))
# Module-level, as Powertools recommends. An all-failed batch is answered with every item in
# batchItemFailures instead of an exception: same redelivery, and the local runner (and
# Lambda) see a normal response.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

# Outcome → (log method, message), bound once: this runs for every record.
_LOG = {
    outcome: (method, "task " + outcome)
    for outcome, method in (
        (Outcome.SUCCEEDED, logger.info),
        (Outcome.FAILED, logger.info),
        (Outcome.ALREADY_FINISHED, logger.warning),
        (Outcome.RETRY, logger.warning),
        (Outcome.REJECTED, logger.error),
        (Outcome.DEFERRED, logger.warning),
    )
}


class RedeliverRecord(Exception):
    """Raised to Powertools so the record lands in batchItemFailures."""


MAX_RECEIVE_COUNT_ENV = "STEPQUEUE_MAX_RECEIVE_COUNT"

NOT_STARTED_CAUSE = (
    "the task was not started before the Lambda deadline on its queue's last receive "
    "(maxReceiveCount {max}): given back once more, it would have moved to the DLQ without "
    "running. Raise the worker's timeout_seconds, lower its batch_size, or split the work."
)


def max_receive_count() -> int | None:
    """The worker queue's maxReceiveCount ($STEPQUEUE_MAX_RECEIVE_COUNT, set by the worker
    module); None when unset or not a positive number: then no receive is known to be the
    last, and a record not started is always given back."""
    try:
        value = int(os.environ.get(MAX_RECEIVE_COUNT_ENV, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        return 1


def _age_seconds(record: dict[str, Any], now: float) -> float | None:
    """Seconds since the record's message was sent (its heartbeat clock started then)."""
    try:
        return now - int(record.get("attributes", {})["SentTimestamp"]) / 1000
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


class _Batch:
    """One invocation: parsed messages, a shared heartbeater, the deadline guard, the
    per-record callback. ``close`` ends every thread it started, on every path."""

    def __init__(self, user_fn: UserHandler, context: Any) -> None:
        self.user_fn = user_fn
        self.client = aws.get_client()
        self.log_payloads = os.environ.get("STEPQUEUE_LOG_PAYLOADS", "").lower() == "true"
        # The claim check (payloads.py), or None when no payload bucket is configured.
        self.payloads = payloads.from_env()
        # Records whose body mentions a reference: only their inputs are searched.
        self.referencing: set[str] = set()
        self.messages: dict[str, TaskMessage | MalformedBody] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.heartbeats: Heartbeater | None = None
        self.deadline: Deadline | None = None
        # Records not started at the margin on their last receive: how failing them ended.
        self.not_started: dict[str, Result] = {}
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.remaining_ms: Callable[[], int] | None = remaining if callable(remaining) else None

    def parse(self, records: list[dict[str, Any]]) -> None:
        """Inside the caller's try/finally: a heartbeater started for the first records must be
        stopped even if a later record cannot be read."""
        now = time.time()
        for record in records:
            try:
                msg: TaskMessage | MalformedBody = parse_body(record.get("body"))
            except MalformedBody as exc:
                msg = exc
            message_id = record.get("messageId", "")
            self.messages[message_id] = msg
            self.records[message_id] = record
            if (
                self.payloads is not None
                and isinstance(msg, TaskMessage)
                and payloads.MARKER_JSON in record["body"]
            ):
                self.referencing.add(message_id)
            if isinstance(msg, TaskMessage) and msg.heartbeat_seconds is not None:
                # Tracked from the start of the batch: a record waiting behind a long one
                # keeps its task alive too. Its first heartbeat is due by the age of its
                # message: the clock started when it was queued (heartbeat.py).
                if self.heartbeats is None:
                    self.heartbeats = Heartbeater(self.client, logger.warning)
                age = _age_seconds(record, now)
                self.heartbeats.track(msg.task_token, msg.heartbeat_seconds, age)
        if self.remaining_ms is not None:
            self.deadline = Deadline(self.remaining_ms, list(self.messages), self._at_margin)
            self.remaining_ms = self.deadline.remaining_ms

    def close(self) -> None:
        # The deadline first: at the margin it untracks heartbeats.
        if self.deadline is not None:
            self.deadline.close()
        if self.heartbeats is not None:
            self.heartbeats.stop()

    def process(self, record: SQSRecord) -> str:
        message_id = record.message_id
        msg = self.messages.get(message_id)
        if not isinstance(msg, TaskMessage):
            logger.error(
                "malformed message",
                extra={"message_id": message_id, "outcome": Outcome.MALFORMED, "reason": str(msg)},
            )
            raise RedeliverRecord(message_id)
        if self.deadline is not None and not self.deadline.claim(message_id):
            # Reached the margin before its turn came: given back, or, on its last receive,
            # its task failed (claim returns once the margin's report is done).
            result = self.not_started.get(message_id, Result(Outcome.DEFERRED))
            self._log(msg, message_id, result, 0.0)
            if result.outcome in REDELIVER:
                raise RedeliverRecord(message_id)
            return result.outcome
        start = time.perf_counter()
        result = run_task(
            msg,
            message_id,
            self.user_fn,
            self.client,
            self.heartbeats,
            self.remaining_ms,
            self.deadline,
            self.payloads,
            message_id in self.referencing,
        )
        if result.outcome == Outcome.DEFERRED and self._last_receive(message_id):
            # The margin came during its probe, on its last receive.
            result = self._fail_not_started(msg)
        elif result.unread and self._last_receive(message_id):
            # Its input's payload could not be read, on its last receive: fail the task (its
            # handler has not run) rather than send the record to the DLQ.
            result = self._fail_unread(msg, result)
        self._log(msg, message_id, result, (time.perf_counter() - start) * 1000)
        if result.outcome in REDELIVER:
            self._redeliver(msg, message_id, result.outcome)
            raise RedeliverRecord(message_id)
        return result.outcome

    def _redeliver(self, msg: TaskMessage, message_id: str, outcome: str) -> None:
        """Shorten the wait for the next delivery where the visibility timeout is too long."""
        if outcome == Outcome.DEFERRED:  # the margin came during its probe
            self._change_visibility([message_id], lambda _: 0)
        elif msg.heartbeat_seconds is not None:
            heartbeat_seconds = msg.heartbeat_seconds
            if self._beat(msg.task_token):  # the clock restarts now: a backoff fits
                self._change_visibility(
                    [message_id], lambda count: redelivery.delay(heartbeat_seconds, count)
                )
            else:  # its last heartbeat may be a third of HeartbeatSeconds ago: back at once
                self._change_visibility([message_id], lambda _: 0)

    def _beat(self, token: str) -> bool:
        """One heartbeat before a backoff (redelivery.py); False if it failed, whatever the
        reason (a closed task is then found closed by the next delivery's probe)."""
        try:
            self.client.send_task_heartbeat(taskToken=token)
        except Exception as exc:
            logger.warning("heartbeat failed", extra={"error_code": aws.error_code(exc)})
            return False
        return True

    def _last_receive(self, message_id: str) -> bool:
        """Whether giving the record back would move it to the DLQ: its receive count has
        reached the queue's maxReceiveCount (unknown: never)."""
        most = max_receive_count()
        return most is not None and _receive_count(self.records[message_id]) >= most

    def _fail_not_started(self, msg: TaskMessage) -> Result:
        """Fail the task of a record never started, instead of giving it back to the DLQ."""
        if self.heartbeats is not None:  # no heartbeat may follow the failure
            self.heartbeats.untrack(msg.task_token)
        cause = NOT_STARTED_CAUSE.format(max=max_receive_count())
        result = fail_task(self.client, msg.task_token, failure(DEADLINE_EXCEEDED, cause))
        result.ran = False
        return result

    def _fail_unread(self, msg: TaskMessage, unread: Result) -> Result:
        """Fail the task of a record whose input's payload stayed unreadable to the last
        receive."""
        cause = (
            f"the input's payload could not be read ({unread.error}) on the record's last "
            f"receive (maxReceiveCount {max_receive_count()}); the handler did not run"
        )
        result = fail_task(
            self.client, msg.task_token, failure(payloads.PAYLOAD_UNAVAILABLE, cause)
        )
        result.ran = False
        return result

    def _change_visibility(self, message_ids: list[str], seconds: Callable[[int], int]) -> None:
        """``seconds(receive count)`` for each record, grouped by queue (a batch has one)."""
        by_queue: dict[str, list[tuple[str, int]]] = {}
        for message_id in message_ids:
            record = self.records[message_id]
            url = redelivery.queue_url(str(record.get("eventSourceARN", "")))
            handle = record.get("receiptHandle")
            if url is None or not isinstance(handle, str):
                continue  # not from SQS as we know it: the visibility timeout will do
            by_queue.setdefault(url, []).append((handle, seconds(_receive_count(record))))
        for url, entries in by_queue.items():
            change_visibility(aws.get_client(aws.SQS), url, entries, logger.warning)

    def _at_margin(self, given_back: list[str], running: str | None) -> Result | None:
        """The Lambda deadline is near (deadline.py): records not started go back to the queue
        at once, a handler still running has its task failed. Never raises."""
        late: Result | None = None
        try:
            logger.warning(
                "deadline near: giving back records not started",
                extra={"given_back": given_back, "running": running},
            )
            for message_id in [*given_back, *([running] if running else [])]:
                msg = self.messages.get(message_id)
                if self.heartbeats is not None and isinstance(msg, TaskMessage):
                    self.heartbeats.untrack(msg.task_token)
            back = []
            for message_id in given_back:
                msg = self.messages.get(message_id)
                if isinstance(msg, TaskMessage) and self._last_receive(message_id):
                    result = self._fail_not_started(msg)
                    self.not_started[message_id] = result
                    if result.outcome not in REDELIVER:
                        continue  # failed (or found closed): acknowledged, not given back
                back.append(message_id)
            if back:
                self._change_visibility(back, lambda _: 0)
            msg = self.messages.get(running) if running else None
            if isinstance(msg, TaskMessage):
                margin = self.deadline.margin_ms if self.deadline else 0
                cause = (
                    f"the handler was still running {margin} ms before the Lambda timeout. "
                    "The task is failed now rather than killed with the invocation; whatever the "
                    "handler does after this is not reported. Raise the worker's "
                    "timeout_seconds, or split the work."
                )
                late = fail_task(self.client, msg.task_token, failure(DEADLINE_EXCEEDED, cause))
        except Exception as exc:  # a timer thread must not die silently
            logger.exception("deadline handling failed", extra={"error_code": type(exc).__name__})
            late = Result(Outcome.REJECTED, ran=True, error=type(exc).__name__)
        return late

    def _log(self, msg: TaskMessage, message_id: str, result: Result, duration_ms: float) -> None:
        fields: dict[str, Any] = {
            "workflow": msg.workflow,
            "worker": msg.worker,
            "execution": msg.execution,
            "state": msg.state,
            "message_id": message_id,
            "outcome": result.outcome,
            "duration_ms": round(duration_ms, 3),
        }
        if result.outcome == Outcome.ALREADY_FINISHED:
            fields["handler_ran"] = result.ran  # found closed before running, or after
        if result.error is not None:
            fields["error"] = result.error
        if self.log_payloads:
            fields["input"] = msg.input
            if result.output is not None:
                fields["output"] = result.output
        method, message = _LOG[result.outcome]
        method(message, extra=fields)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    if not records:  # Powertools rejects an empty batch; there is nothing to fail
        return {"batchItemFailures": []}
    return run_batch(handlers.resolve(os.environ.get("STEPQUEUE_HANDLER")), event, context)


def run_batch(user_fn: UserHandler, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """One invocation with ``user_fn`` as the handler (``handler`` resolves it from the
    environment; ``stepqueue_runtime.testing`` passes a team's function directly)."""
    records = event.get("Records") or []
    if not records:
        return {"batchItemFailures": []}
    batch = _Batch(user_fn, context)
    try:
        batch.parse(records)
        response = process_partial_response(
            event=event, record_handler=batch.process, processor=processor, context=context
        )
    finally:
        batch.close()
    return dict(response)  # a plain dict, as the Lambda runtime serialises it
