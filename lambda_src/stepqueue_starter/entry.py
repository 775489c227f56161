"""Lambda handler ``stepqueue_starter.entry.handler``, fed by the start queue (standard SQS).

Per record: parse and bound the body, wait for the pace (a token bucket of
``STARTS_PER_SECOND``), StartExecution with the message's name, then:

- started, or a duplicate (ExecutionAlreadyExists from an execution with the same input, or
  the running execution returned for a repeated name and input): done, the mapping deletes the
  record;
- a transient failure (throttling, the open-execution quota, 5xx, timeouts): reported in
  ``batchItemFailures`` and made visible again after 1, 2, 4 ... s (at most
  ``MAX_RETRY_DELAY_SECONDS``), so a burst waits in the queue instead of being refused; on its
  last attempt (``MAX_RECEIVE_COUNT`` - 1 receives, one kept in reserve for an invocation that
  dies) it goes to the DLQ with the reason instead;
- a permanent failure (a malformed body, an unknown workflow, a name or input Step Functions
  refuses, a missing state machine, a name already used for another input): to the DLQ with
  the reason, at once.

A record the pace leaves no time for before the function's deadline is not started: it goes
back like a transient failure (``Stepqueue.Deferred``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from stepqueue_aws import Retries, cached_client, change_visibility, doubling_backoff, emf

from stepqueue_starter import dead_letter
from stepqueue_starter.messages import BodyError, StartRequest, parse
from stepqueue_starter.outcome import (
    DUPLICATE_CODE,
    Outcome,
    classify,
    execution_arn,
    name_holder,
    name_holder_unread,
    once_per_batch,
    started,
)
from stepqueue_starter.pacing import TokenBucket

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-starter"))

# One SDK retry, short timeouts: SQS redelivery with its backoff is the outer retry, and time
# spent in SDK backoff is taken from the other records of the batch.
RETRIES = Retries(max_attempts=1, connect_timeout=2, read_timeout=5)
DEFAULT_MAX_RETRY_DELAY_S = 300
# No call starts later than this before the deadline: one call with its retry fits in it.
DEADLINE_MARGIN_MS = 15_000
# The workflows of one deployment, with room to spare (the watchdog's bound).
MAX_WORKFLOWS = 200
DEFAULT_FUNCTION = "stepqueue-starter"
UNKNOWN_WORKFLOW = "Stepqueue.UnknownWorkflow"
DEFERRED = "Stepqueue.Deferred"
NOT_MOVED = "Stepqueue.NotMovedToDlq"

_clients: dict[str, Any] = {}
_pace: dict[float, TokenBucket] = {}  # per container: the pace carries over warm invocations


def client(service: str) -> Any:
    return cached_client(_clients, service, RETRIES)


class SettingsError(ValueError):
    """The function's environment is wrong: a deployment error, raised (the batch is retried)."""


@dataclass(frozen=True)
class Settings:
    state_machines: dict[str, str]  # workflow -> state machine ARN (this deployment's only)
    queue_url: str
    dlq_url: str
    starts_per_second: float
    max_receive_count: int  # the start queue's; 0: unknown, SQS's redrive is the only DLQ path
    max_retry_delay_s: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        try:
            machines = json.loads(env.get("STATE_MACHINE_ARNS") or "{}")
            rate = float(env.get("STARTS_PER_SECOND") or "0")
            receives = int(env.get("MAX_RECEIVE_COUNT") or "0")
            delay = int(env.get("MAX_RETRY_DELAY_SECONDS") or DEFAULT_MAX_RETRY_DELAY_S)
        except ValueError as exc:
            raise SettingsError(f"starter environment: {exc}") from None
        if not isinstance(machines, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and ":stateMachine:" in v
            for k, v in machines.items()
        ):
            raise SettingsError("STATE_MACHINE_ARNS must map workflow names to state machine ARNs")
        if len(machines) > MAX_WORKFLOWS:
            raise SettingsError(f"STATE_MACHINE_ARNS holds more than {MAX_WORKFLOWS} workflows")
        if not rate > 0:
            raise SettingsError("STARTS_PER_SECOND must be a number above 0")
        if not 0 <= delay <= 43_200:
            raise SettingsError("MAX_RETRY_DELAY_SECONDS must be from 0 to 43200 (SQS's 12 h)")
        queue_url, dlq_url = env.get("START_QUEUE_URL", ""), env.get("START_DLQ_URL", "")
        if not queue_url or not dlq_url:
            raise SettingsError("START_QUEUE_URL and START_DLQ_URL must be set")
        return cls(machines, queue_url, dlq_url, rate, max(0, receives), delay)

    @property
    def attempts(self) -> int | None:
        """Receives the starter tries a message before moving it to the DLQ itself."""
        return max(1, self.max_receive_count - 1) if self.max_receive_count else None


def pacer(rate: float) -> TokenBucket:
    bucket = _pace.get(rate)
    if bucket is None:
        bucket = _pace[rate] = TokenBucket(rate)
    return bucket


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = Settings.from_env(os.environ)
    bucket = pacer(settings.starts_per_second)
    seconds_left = _seconds_left(context)
    counts: Counter[str] = Counter()
    failures: list[dict[str, str]] = []
    come_back: list[tuple[str, int]] = []
    started_here: set[str] = set()  # execution ARNs this batch started
    for record in event.get("Records") or []:
        receives = _receive_count(record)
        outcome, workflow = _start(record, settings, bucket, seconds_left)
        last = settings.attempts is not None and receives >= settings.attempts
        if outcome.kind == "dead" or (outcome.kind == "retry" and last):
            if _move_to_dlq(record, outcome, receives, workflow, settings):
                counts["DeadLettered"] += 1
                continue
            outcome = Outcome("retry", NOT_MOVED, outcome.message)
        if outcome.kind == "retry":
            counts["StartRetries"] += 1
            failures.append({"itemIdentifier": str(record.get("messageId"))})
            delay = min(settings.max_retry_delay_s, doubling_backoff(receives))
            come_back.append((str(record.get("receiptHandle", "")), delay))
            logger.warning(
                "start retried",
                extra={
                    "message_id": record.get("messageId"),
                    "workflow": workflow,
                    "error_code": outcome.code,
                    "why": outcome.message,
                    "receives": receives,
                    "back_in_s": delay,
                },
            )
            continue
        outcome = once_per_batch(outcome, started_here)
        counts["Started" if outcome.kind == "started" else "DuplicateSubmissions"] += 1
    if come_back:
        change_visibility(client("sqs"), settings.queue_url, come_back, logger.warning)
    _emit(counts)
    logger.info("batch done", extra=dict(counts))
    return {"batchItemFailures": failures}


def _start(
    record: dict[str, Any],
    settings: Settings,
    bucket: TokenBucket,
    seconds_left: Callable[[], float],
) -> tuple[Outcome, str | None]:
    try:
        request: StartRequest = parse(str(record.get("body", "")))
    except BodyError as exc:
        return Outcome("dead", BodyError.code, str(exc)), None
    arn = settings.state_machines.get(request.workflow)
    if arn is None:
        known = ", ".join(sorted(settings.state_machines)) or "none"
        why = f"no workflow {request.workflow!r} in this deployment (deployed: {known})"
        return Outcome("dead", UNKNOWN_WORKFLOW, why[:1000]), request.workflow
    if not bucket.take(max_wait_s=seconds_left() - DEADLINE_MARGIN_MS / 1000):
        return Outcome("retry", DEFERRED, "not started before the function's deadline"), (
            request.workflow
        )
    try:
        reply = client("stepfunctions").start_execution(
            stateMachineArn=arn, name=request.name, input=request.input
        )
    except Exception as exc:
        outcome = classify(exc)
        if outcome.code == DUPLICATE_CODE:
            outcome = _judge_name_holder(arn, request)
        return outcome, request.workflow
    return started(reply, _sent_ms(record)), request.workflow


def _judge_name_holder(state_machine_arn: str, request: StartRequest) -> Outcome:
    """ExecutionAlreadyExists does not say whether the name's execution had this input (a
    duplicate) or another one (a reused name: this submission would silently never start)."""
    arn = execution_arn(state_machine_arn, request.name)
    try:
        described = client("stepfunctions").describe_execution(executionArn=arn)
    except Exception as exc:
        return name_holder_unread(exc, arn)
    return name_holder(described, request.input, arn)


def _move_to_dlq(
    record: dict[str, Any], outcome: Outcome, receives: int, workflow: str | None, s: Settings
) -> bool:
    body_bytes = len(str(record.get("body", "")).encode("utf-8", errors="replace"))
    attributes = dead_letter.attributes(
        outcome.code,
        outcome.message,
        receives,
        str(record.get("messageId", "")),
        workflow,
        body_bytes,
    )
    moved = dead_letter.dead_letter(
        client("sqs"),
        dlq_url=s.dlq_url,
        queue_url=s.queue_url,
        record=record,
        message_attributes=attributes,
        warn=logger.warning,
    )
    if moved:
        logger.error(
            "moved to the DLQ",
            extra={
                "message_id": record.get("messageId"),
                "workflow": workflow,
                "error_code": outcome.code,
                "why": outcome.message,
                "receives": receives,
            },
        )
    return moved


def _seconds_left(context: Any) -> Callable[[], float]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:  # no Lambda context (tests): no deadline
        return lambda: float("inf")
    return lambda: int(remaining()) / 1000


def _receive_count(record: dict[str, Any]) -> int:
    try:
        return max(1, int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1)))
    except (TypeError, ValueError):
        return 1


def _sent_ms(record: dict[str, Any]) -> int | None:
    try:
        return int((record.get("attributes") or {})["SentTimestamp"])
    except (KeyError, TypeError, ValueError):
        return None


def _emit(counts: Counter[str]) -> None:
    """One metric line per invocation; a metric never fails a batch whose starts are made."""
    names = ("Started", "DuplicateSubmissions", "StartRetries", "DeadLettered")
    try:
        emf.emit(
            [
                emf.emf_line(
                    {emf.FUNCTION_DIMENSION: emf.function_name(DEFAULT_FUNCTION)},
                    {name: (counts.get(name, 0), emf.COUNT) for name in names},
                    int(time.time() * 1000),
                )
            ]
        )
    except Exception as exc:
        logger.warning("metrics not emitted", extra={"error": repr(exc)})
