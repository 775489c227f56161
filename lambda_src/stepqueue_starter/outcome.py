"""What one StartExecution call came to, and what the starter does about it.

- an execution ARN, started now: **started**, done;
- an execution ARN of an execution that started before this message was sent, or that this
  batch already started (Step Functions returns the RUNNING execution when name and input
  repeat): **duplicate**, done;
- ExecutionAlreadyExists: the name is taken, by an execution that has ended or that has another
  input. The starter then reads that execution (DescribeExecution) and compares its input with
  this message's as JSON values: the same input is **duplicate** (this submission already ran,
  e.g. a message redelivered after the execution ended), done; another input is **dead**,
  ``Stepqueue.NameTaken`` (the name was reused for another submission, which would otherwise
  vanish unstarted). An execution DescribeExecution no longer knows (its history expired) is a
  duplicate; any other DescribeExecution failure is classified like StartExecution's, below;
- throttling, the open-execution quota, 5xx, timeouts, connection errors: **retry**, back after
  a doubling backoff, and to the DLQ on its last attempt;
- any other error Step Functions answers (a bad input or name, no such state machine):
  **dead**, to the DLQ with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from stepqueue_aws import aws_error_code

from stepqueue_starter.messages import canonical_json

Kind = Literal["started", "duplicate", "retry", "dead"]

# Worth retrying: the rate quota (ThrottlingException), the open-execution quota
# (ExecutionLimitExceeded: 1,000,000 open executions per account and region), a customer key's
# rate, and the service's own failures.
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ExecutionLimitExceeded",
        "KmsThrottlingException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
DUPLICATE_CODE = "ExecutionAlreadyExists"
EXPIRED_CODE = "ExecutionDoesNotExist"
NAME_TAKEN = "Stepqueue.NameTaken"
CAUSE_MAX = 1000  # characters of an error message carried to the log and the DLQ


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Kind
    code: str = ""
    message: str = ""
    execution_arn: str = ""


def started(reply: dict[str, Any], sent_ms: int | None) -> Outcome:
    """An answer with an ARN. Step Functions returns the running execution itself when name
    and input repeat: if it started before this message was even sent, another message (or
    caller) started it, and this one is a duplicate."""
    arn = str(reply.get("executionArn", ""))
    start = reply.get("startDate")
    if sent_ms is not None and isinstance(start, datetime) and start.timestamp() * 1000 < sent_ms:
        return Outcome("duplicate", DUPLICATE_CODE, "already running", arn)
    return Outcome("started", execution_arn=arn)


def once_per_batch(outcome: Outcome, started_here: set[str]) -> Outcome:
    """A repeat of a record this batch already started, answered with that RUNNING execution,
    is a duplicate: the execution started after both records were sent, so `started` alone
    cannot tell (it would count one execution as two starts)."""
    if outcome.kind != "started" or not outcome.execution_arn:
        return outcome
    if outcome.execution_arn in started_here:
        return Outcome(
            "duplicate", DUPLICATE_CODE, "started earlier in this batch", outcome.execution_arn
        )
    started_here.add(outcome.execution_arn)
    return outcome


def classify(exc: BaseException) -> Outcome:
    """A failed call: a duplicate, worth retrying, or never going to start."""
    code = aws_error_code(exc)
    message = _message(exc)
    if code is None:
        # No service answered (a timeout, a dropped connection, a DNS failure): try again.
        return Outcome("retry", type(exc).__name__, message)
    if code == DUPLICATE_CODE:
        return Outcome("duplicate", code, message)
    status = _status(exc)
    if code in TRANSIENT_CODES or (status is not None and status >= 500):
        return Outcome("retry", code, message)
    return Outcome("dead", code, message)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of `name`'s execution of the state machine: ``arn:…:stateMachine:SM[:qualifier]``
    gives ``arn:…:execution:SM:name`` (a version or alias qualifier is not part of it)."""
    head, _, tail = state_machine_arn.partition(":stateMachine:")
    return f"{head}:execution:{tail.split(':', 1)[0]}:{name}"


def name_holder(described: dict[str, Any], submitted: str, arn: str) -> Outcome:
    """ExecutionAlreadyExists, judged by DescribeExecution of the execution holding the name:
    the same input (compared as JSON values, so spacing and key order do not matter) is this
    very submission again; another input means the name was reused for a different one."""
    existing = described.get("input")
    if not isinstance(existing, str) or _same_json(existing, submitted):
        # No input to compare (not included in the answer): as before, taken for a duplicate.
        return Outcome("duplicate", DUPLICATE_CODE, "already started with this input", arn)
    why = (
        f"not started: the name of execution {arn} was already used for another input; "
        "submit this input with a different --name (or --key)"
    )
    return Outcome("dead", NAME_TAKEN, why[:CAUSE_MAX], arn)


def name_holder_unread(exc: BaseException, arn: str) -> Outcome:
    """ExecutionAlreadyExists, and DescribeExecution of the execution holding the name failed."""
    if aws_error_code(exc) == EXPIRED_CODE:
        # Its history expired between the two calls: nothing left to compare with.
        return Outcome("duplicate", DUPLICATE_CODE, "already started, history expired", arn)
    failed = classify(exc)
    why = f"execution {arn} exists, its input could not be read: {failed.message}"
    return Outcome(failed.kind, failed.code, why[:CAUSE_MAX], arn)


def _same_json(text: str, canonical: str) -> bool:
    # Compared as canonical text, not as Python values: 1 == 1.0 == true in Python, not in JSON.
    try:
        return canonical_json(json.loads(text)) == canonical
    except ValueError:
        return False


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        text = str((response.get("Error") or {}).get("Message") or "")
    else:
        text = str(exc)
    return text[:CAUSE_MAX]
