"""Lambda handler ``stepqueue_gatekeeper.entry.handler``, fed by the waiting-room FIFO queue.

A batch may hold several message groups (semaphores), each in its order. Each group is decided
on its own; when one fails for a transient cause (faults.py: throttling, a 5xx, a timeout, a
version conflict), all of its records in the batch are reported failed (SQS then redelivers
them in order, and nothing behind them in that group is delivered meanwhile), while the other
groups' records are done. A failed group's records are made visible again after a short
backoff rather than the queue's visibility timeout: the whole semaphore waits behind them.

Anything else is never retried, because it would fail the same way on every delivery and
block the semaphore until the DLQ took it: a message that cannot be read or applied, or a
group whose decision AWS refuses for good, is dropped with one log line per message ("message
dropped") and counted (MessagesDropped), and an acquire's execution is failed at once
(SendTaskFailure) when its token can be read.
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
from stepqueue_gatekeeper.decide import WAKE_MAX_MS, Gatekeeper, Outcome
from stepqueue_gatekeeper.faults import transient
from stepqueue_gatekeeper.messages import (
    UNREADABLE,
    Message,
    is_arrivals,
    read,
    semaphore_of_group,
)
from stepqueue_gatekeeper.rules import rules_from_env

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-gatekeeper"))

# A few SDK retries: a throttled call retried here is cheaper than redelivering the batch,
# but the group waits behind this invocation, so not many.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=10)
# Backoff of a failed group: doubling by receive, at most this. Every grant, release and
# reclaim of the semaphore waits behind the group, so it never waits the queue's visibility
# timeout (six function timeouts).
MAX_RETRY_DELAY_S = 30
# The longest a group sleeps on a wake-up handed back early (the decision bounds it already).
MAX_SLEEP_S = WAKE_MAX_MS // 1000

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    return cached_client(_clients, service, RETRIES)


def gatekeeper() -> Gatekeeper:
    limits = json.loads(os.environ.get("SEMAPHORE_LIMITS", "{}"))
    return Gatekeeper(
        client("dynamodb"),
        client("stepfunctions"),
        client("sqs"),
        table=os.environ["SEMAPHORE_TABLE"],
        queue_url=os.environ["GATEKEEPER_QUEUE_URL"],
        own_prefixes=tuple(json.loads(os.environ.get("EXECUTION_ARN_PREFIXES", "[]"))),
        # The deployment's semaphores: a group of any other is not this gatekeeper's to decide.
        semaphores=tuple(limits),
        default_limits={k: int(v) for k, v in limits.items()},
        rules=rules_from_env(os.environ.get("SEMAPHORE_RULES", "{}")),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    groups: dict[str, list[Message]] = {}
    for record in records:
        message_id = str(record.get("messageId"))
        group = (record.get("attributes") or {}).get("MessageGroupId")
        message = read(message_id, group, str(record.get("body", "")))
        groups.setdefault(str(group), []).append(message)
    keeper = gatekeeper()
    failures: list[dict[str, str]] = []
    sleeping: dict[str, int] = {}  # message id -> seconds until its wake-up is due
    receipts = {
        str(r.get("messageId")): (
            str(r.get("receiptHandle", "")),
            _receive_count(r),
            str(r.get("eventSourceARN") or ""),
        )
        for r in records
    }
    for group, messages in groups.items():
        outcome = _decide(keeper, group, messages)
        if outcome is None:
            failures += [{"itemIdentifier": m.message_id} for m in messages]
            continue
        # An early wake-up goes back unprocessed and invisible until it is due: the group
        # sleeps on it (a rate limit's next token), nobody polls.
        for message_id, seconds in outcome.deferred.items():
            failures.append({"itemIdentifier": message_id})
            sleeping[message_id] = max(1, min(seconds, MAX_SLEEP_S))
    back: dict[str, list[tuple[str, int, int | None]]] = {}  # by the queue they came from
    for f in failures:
        handle, count, source = receipts[f["itemIdentifier"]]
        back.setdefault(source, []).append((handle, count, sleeping.get(f["itemIdentifier"])))
    for source, entries in sorted(back.items()):
        _come_back_soon(queue_url_of(source), entries)
    return {"batchItemFailures": failures}


def _decide(keeper: Gatekeeper, group: str, messages: list[Message]) -> Outcome | None:
    """The group decided, or given up when AWS refuses its decision for good; None when it
    failed for a transient cause and goes back, in order."""
    semaphore = next((m.semaphore for m in messages if m.op != UNREADABLE), group)
    # The arrivals group is decided as itself (acquires recorded), reported as its semaphore.
    decided = group if is_arrivals(group) else semaphore
    group = semaphore_of_group(group)
    try:
        return _report(group, keeper.process(decided, messages))
    except Exception as exc:
        if transient(exc):
            _retry(group, exc)
            return None
        failure = exc
    logger.error(
        "group given up: its messages are dropped, not retried",
        extra={"semaphore": group, "error": error_code(failure), "why": str(failure)[:1000]},
    )
    try:
        return _report(group, keeper.give_up(semaphore, messages, failure))
    except Exception as exc:  # failing the waiters was throttled: all of it again, later
        _retry(group, exc)
        return None


def _retry(group: str, exc: Exception) -> None:
    logger.exception(
        "group failed; redelivered in order", extra={"semaphore": group, "error": error_code(exc)}
    )
    _emit_metrics(_failed_metrics, group)


def _report(group: str, outcome: Outcome) -> Outcome:
    for dropped in outcome.dropped:
        logger.error("message dropped", extra={"semaphore": group, **dropped})
    if outcome.decided:
        logger.info("decided", extra={"semaphore": group, **outcome.__dict__})
        _emit_metrics(_decided_metrics, group, outcome)
    if outcome.dropped:
        _emit_metrics(_dropped_metrics, group, len(outcome.dropped))
    return outcome


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


def _dropped_metrics(semaphore: str, count: int) -> list[dict[str, Any]]:
    return [metrics.dropped(semaphore, count, _now_ms())]


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


def queue_url_of(source_arn: str) -> str:
    """The URL of the queue a record came from: the control queue's, or an arrivals queue's,
    which the same module made in the same account and region, so only its name differs. An
    ARN of any other account (never one of ours) or none at all falls back to the control
    queue: changing a visibility there fails harmlessly and the record comes back after its
    visibility timeout."""
    control = os.environ.get("GATEKEEPER_QUEUE_URL", "")
    parts = source_arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
        return control
    base, _, _ = control.rpartition("/")
    if not base.endswith(f"/{parts[4]}"):
        return control
    return f"{base}/{parts[5]}"


def _come_back_soon(queue_url: str, entries: list[tuple[str, int, int | None]]) -> None:
    """Failed groups after a short backoff; wake-ups when they are due. `entries`: (receipt
    handle, receive count, seconds until a wake-up is due or None)."""
    visible = [
        (handle, retry_delay(count) if due is None else due)
        for handle, count, due in entries
        if handle
    ]
    change_visibility(client("sqs"), queue_url, visible, logger.warning)
