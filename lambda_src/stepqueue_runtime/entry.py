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

from stepqueue_runtime import aws, handlers, redelivery
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


class _Batch:
    """One invocation: parsed messages, a shared heartbeater, the deadline guard, the
    per-record callback. ``close`` ends every thread it started, on every path."""

    def __init__(self, user_fn: UserHandler, context: Any) -> None:
        self.user_fn = user_fn
        self.client = aws.get_client()
        self.log_payloads = os.environ.get("STEPQUEUE_LOG_PAYLOADS", "").lower() == "true"
        self.messages: dict[str, TaskMessage | MalformedBody] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.heartbeats: Heartbeater | None = None
        self.deadline: Deadline | None = None
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.remaining_ms: Callable[[], int] | None = remaining if callable(remaining) else None

    def parse(self, records: list[dict[str, Any]]) -> None:
        """Inside the caller's try/finally: a heartbeater started for the first records must be
        stopped even if a later record cannot be read."""
        for record in records:
            try:
                msg: TaskMessage | MalformedBody = parse_body(record.get("body"))
            except MalformedBody as exc:
                msg = exc
            message_id = record.get("messageId", "")
            self.messages[message_id] = msg
            self.records[message_id] = record
            if isinstance(msg, TaskMessage) and msg.heartbeat_seconds is not None:
                # Tracked from the start of the batch: a record waiting behind a long one
                # keeps its task alive too.
                if self.heartbeats is None:
                    self.heartbeats = Heartbeater(self.client, logger.warning)
                self.heartbeats.track(msg.task_token, msg.heartbeat_seconds)
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
            # Given back at the margin, before its turn came.
            self._log(msg, message_id, Result(Outcome.DEFERRED), 0.0)
            raise RedeliverRecord(message_id)
        start = time.perf_counter()
        result = run_task(
            msg,
            message_id,
            self.user_fn,
            self.client,
            self.heartbeats,
            self.remaining_ms,
            self.deadline,
        )
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
            self._change_visibility(
                [message_id], lambda count: redelivery.delay(heartbeat_seconds, count)
            )

    def _change_visibility(self, message_ids: list[str], seconds: Callable[[int], int]) -> None:
        """``seconds(receive count)`` for each record, grouped by queue (a batch has one)."""
        by_queue: dict[str, list[tuple[str, int]]] = {}
        for message_id in message_ids:
            record = self.records[message_id]
            url = redelivery.queue_url(str(record.get("eventSourceARN", "")))
            handle = record.get("receiptHandle")
            if url is None or not isinstance(handle, str):
                continue  # not from SQS as we know it: the visibility timeout will do
            try:
                count = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
            except (TypeError, ValueError):
                count = 1
            by_queue.setdefault(url, []).append((handle, seconds(count)))
        for url, entries in by_queue.items():
            redelivery.change_visibility(aws.get_client(aws.SQS), url, entries, logger.warning)

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
            if given_back:
                self._change_visibility(given_back, lambda _: 0)
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
    user_fn = handlers.resolve(os.environ.get("STEPQUEUE_HANDLER"))
    batch = _Batch(user_fn, context)
    try:
        batch.parse(records)
        response = process_partial_response(
            event=event, record_handler=batch.process, processor=processor, context=context
        )
    finally:
        batch.close()
    return dict(response)  # a plain dict, as the Lambda runtime serialises it
