"""Lambda handler ``stepqueue_gatekeeper.entry.handler``, fed by the waiting-room FIFO queue.

A batch may hold several message groups (semaphores), each in its order. Each group is decided
on its own; when one fails, all of its records in the batch are reported failed (SQS then
redelivers them in order, and nothing behind them in that group is delivered meanwhile), while
the other groups' records are done. A failed group's records are made visible again after a
short backoff rather than the queue's visibility timeout: the whole semaphore waits behind
them. A malformed body is logged and dropped: it can never become valid, and keeping it would
block its group forever.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from stepqueue_aws import Retries, cached_client, change_visibility, doubling_backoff, error_code

from stepqueue_gatekeeper import metrics
from stepqueue_gatekeeper.decide import Gatekeeper, Outcome
from stepqueue_gatekeeper.messages import Message, MessageError, parse
from stepqueue_gatekeeper.rules import rules_from_env

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-gatekeeper"))

# A few SDK retries: a throttled call retried here is cheaper than redelivering the batch,
# but the group waits behind this invocation, so not many.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=10)
# Backoff of a failed group: doubling by receive, at most this. Every grant, release and
# reclaim of the semaphore waits behind the group, so it never waits the queue's visibility
# timeout (six function timeouts).
MAX_RETRY_DELAY_S = 30

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    return cached_client(_clients, service, RETRIES)


def gatekeeper() -> Gatekeeper:
    return Gatekeeper(
        client("dynamodb"),
        client("stepfunctions"),
        client("sqs"),
        table=os.environ["SEMAPHORE_TABLE"],
        queue_url=os.environ["GATEKEEPER_QUEUE_URL"],
        own_prefixes=tuple(json.loads(os.environ.get("EXECUTION_ARN_PREFIXES", "[]"))),
        default_limits={
            k: int(v) for k, v in json.loads(os.environ.get("SEMAPHORE_LIMITS", "{}")).items()
        },
        rules=rules_from_env(os.environ.get("SEMAPHORE_RULES", "{}")),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    groups: dict[str, list[tuple[str, Message | None]]] = {}
    for record in records:
        message_id = str(record.get("messageId"))
        group = (record.get("attributes") or {}).get("MessageGroupId")
        try:
            message: Message | None = parse(message_id, group, str(record.get("body", "")))
        except MessageError as exc:
            logger.error(
                "malformed message dropped", extra={"message_id": message_id, "why": str(exc)}
            )
            message = None
        groups.setdefault(str(group), []).append((message_id, message))
    keeper = gatekeeper()
    failures: list[dict[str, str]] = []
    sleeping: dict[str, int] = {}  # message id -> seconds until its wake-up is due
    receipts = {
        str(r.get("messageId")): (
            str(r.get("receiptHandle", "")),
            _receive_count(r),
        )
        for r in records
    }
    for group, items in groups.items():
        messages = [m for _, m in items if m is not None]
        if not messages:
            continue
        try:
            outcome = keeper.process(messages[0].semaphore, messages)
        except Exception as exc:
            logger.exception(
                "group failed; redelivered in order",
                extra={"semaphore": group, "error": error_code(exc)},
            )
            failures += [{"itemIdentifier": message_id} for message_id, _ in items]
            _emit_metrics(_failed_metrics, group)
            continue
        logger.info("decided", extra={"semaphore": group, **outcome.__dict__})
        _emit_metrics(_decided_metrics, group, outcome)
        # An early wake-up goes back unprocessed and invisible until it is due: the group
        # sleeps on it (a rate limit's next token), nobody polls.
        for message_id, seconds in outcome.deferred.items():
            failures.append({"itemIdentifier": message_id})
            sleeping[message_id] = seconds
    if failures:
        _come_back_soon(
            [
                (receipts[f["itemIdentifier"]][0], sleeping.get(f["itemIdentifier"]))
                for f in failures
            ],
            [receipts[f["itemIdentifier"]][1] for f in failures],
        )
    return {"batchItemFailures": failures}


def _now_ms() -> int:
    return int(time.time() * 1000)


def _decided_metrics(semaphore: str, outcome: Outcome) -> list[dict[str, Any]]:
    now_ms = _now_ms()
    oldest_wait_s: float | None = 0.0
    if outcome.waiting:
        since_ms = outcome.oldest_since_ms
        oldest_wait_s = None if since_ms is None else max(0.0, (now_ms - since_ms) / 1000)
    snapshot = metrics.Snapshot(outcome.limit, outcome.held, outcome.waiting, oldest_wait_s)
    return metrics.decided(semaphore, outcome, snapshot, now_ms)


def _failed_metrics(semaphore: str) -> list[dict[str, Any]]:
    return [metrics.failed(semaphore, _now_ms())]


def _emit_metrics(build: Callable[..., list[dict[str, Any]]], *args: Any) -> None:
    """Metrics never fail a batch: its decisions are committed already, and a redelivery
    would only be recognised and skipped."""
    try:
        metrics.emit(build(*args))
    except Exception as exc:
        logger.warning("metrics not emitted", extra={"error": error_code(exc)})


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def retry_delay(receive_count: int) -> int:
    return min(MAX_RETRY_DELAY_S, doubling_backoff(receive_count))


def _come_back_soon(handles: list[tuple[str, int | None]], receive_counts: list[int]) -> None:
    """Failed groups after a short backoff; wake-ups when they are due."""
    entries = [
        (handle, retry_delay(count) if due is None else due)
        for (handle, due), count in zip(handles, receive_counts, strict=True)
        if handle
    ]
    queue_url = os.environ.get("GATEKEEPER_QUEUE_URL", "")
    change_visibility(client("sqs"), queue_url, entries, logger.warning)
