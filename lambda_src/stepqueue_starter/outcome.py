"""What one StartExecution call came to, and what the starter does about it.

- an execution ARN, started now: **started**, done;
- an execution ARN of an execution that started before this message was sent (Step Functions
  returns the RUNNING execution when name and input repeat): **duplicate**, done;
- ExecutionAlreadyExists (same name, other input, or no longer RUNNING): **duplicate**, done;
- throttling, the open-execution quota, 5xx, timeouts, connection errors: **retry**, back after
  a doubling backoff, and to the DLQ on its last attempt;
- any other error Step Functions answers (a bad input or name, no such state machine):
  **dead**, to the DLQ with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from stepqueue_aws import aws_error_code

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
