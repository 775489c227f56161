"""Lambda handler ``stepqueue_runtime.entry.handler`` for SQS event source mappings.

Powertools does the partial batch response and the JSON logs; this module only wires them to
the per-task logic in ``worker``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.decorators import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from stepqueue_runtime import aws, handlers
from stepqueue_runtime.heartbeat import Heartbeater
from stepqueue_runtime.message import MalformedBody, TaskMessage, parse_body
from stepqueue_runtime.worker import REDELIVER, Outcome, Result, UserHandler, run_task

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
    )
}


class RedeliverRecord(Exception):
    """Raised to Powertools so the record lands in batchItemFailures."""


class _Batch:
    """One invocation: parsed messages, a shared heartbeater, the per-record callback."""

    def __init__(self, records: list[dict[str, Any]], user_fn: UserHandler, context: Any) -> None:
        self.user_fn = user_fn
        self.client = aws.get_client()
        self.context = context
        self.log_payloads = os.environ.get("STEPQUEUE_LOG_PAYLOADS", "").lower() == "true"
        self.messages: dict[str, TaskMessage | MalformedBody] = {}
        self.heartbeats: Heartbeater | None = None
        for record in records:
            try:
                msg: TaskMessage | MalformedBody = parse_body(record.get("body"))
            except MalformedBody as exc:
                msg = exc
            self.messages[record.get("messageId", "")] = msg
            if isinstance(msg, TaskMessage) and msg.heartbeat_seconds is not None:
                # Tracked from the start of the batch: a record waiting behind a long one
                # keeps its task alive too.
                if self.heartbeats is None:
                    self.heartbeats = Heartbeater(self.client, logger.warning)
                self.heartbeats.track(msg.task_token, msg.heartbeat_seconds)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self.remaining_ms = remaining if callable(remaining) else None

    def close(self) -> None:
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
        start = time.perf_counter()
        result = run_task(
            msg, message_id, self.user_fn, self.client, self.heartbeats, self.remaining_ms
        )
        self._log(msg, message_id, result, (time.perf_counter() - start) * 1000)
        if result.outcome in REDELIVER:
            raise RedeliverRecord(message_id)
        return result.outcome

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
    batch = _Batch(records, user_fn, context)
    try:
        response = process_partial_response(
            event=event, record_handler=batch.process, processor=processor, context=context
        )
    finally:
        batch.close()
    return dict(response)  # a plain dict, as the Lambda runtime serialises it
