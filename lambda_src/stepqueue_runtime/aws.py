"""The Step Functions client (one per container) and how its errors are classified."""

from __future__ import annotations

import enum
from typing import Any

from stepqueue_aws import Retries, cached_client, inject_client
from stepqueue_aws import error_code as error_code  # the tests use aws.error_code

# The token's task is closed: succeeded, failed, timed out, or its execution ended.
FINISHED_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "KMSThrottlingException",
    }
)


class ErrorKind(enum.Enum):
    FINISHED = "finished"  # acknowledge: redelivery can never succeed
    TRANSIENT = "transient"  # redeliver through SQS
    REJECTED = "rejected"  # the request itself is wrong (or forbidden): redelivery won't help


def classify(exc: Exception) -> ErrorKind | None:
    """None for exceptions that are not AWS call failures at all."""
    # Imported on the error path only: botocore is not loaded until the client is made.
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in FINISHED_CODES:
            return ErrorKind.FINISHED
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in TRANSIENT_CODES or status >= 500:
            return ErrorKind.TRANSIENT
        return ErrorKind.REJECTED
    if isinstance(exc, ConnectionError | HTTPClientError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, BotoCoreError):
        return ErrorKind.REJECTED
    return None


def heartbeat_proves_closed(exc: Exception, *, heartbeat_declared: bool) -> bool:
    """Whether a failed SendTaskHeartbeat proves the task closed.

    ``TaskTimedOut`` / ``TaskDoesNotExist`` always do. ``InvalidToken`` does only for a state
    with ``HeartbeatSeconds``: moto answers InvalidToken to a heartbeat for a *running* task
    without one (measured, moto 5.2.5), whereas AWS accepts it; for a real token AWS reports
    a closed task as TaskTimedOut.
    """
    if classify(exc) is not ErrorKind.FINISHED:
        return False
    return heartbeat_declared or error_code(exc) != "InvalidToken"


# Few attempts: SQS redelivery is the outer retry, and a Lambda stuck in SDK backoff holds
# the whole batch.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=15)
SERVICE = "stepfunctions"
# Sending records back to their queue sooner than the visibility timeout (redelivery.py).
SQS = "sqs"

_clients: dict[str, Any] = {}


def get_client(service: str = SERVICE) -> Any:
    """The container's client for ``service`` (Step Functions unless told), made on first use:
    Step Functions on the first invocation, SQS only when a record is sent back early."""
    return cached_client(_clients, service, RETRIES)


def set_client(client: Any, service: str = SERVICE) -> None:
    """Tests and benchmarks inject a stubbed client; None makes the next call create one."""
    inject_client(_clients, service, client)
