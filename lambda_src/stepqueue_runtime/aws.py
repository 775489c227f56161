"""The Step Functions client (one per container) and how its errors are classified."""

from __future__ import annotations

import enum
import threading
from typing import Any

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


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        return str(response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


_lock = threading.Lock()
_client: Any = None


def get_client() -> Any:
    """Created on first use, not at import: importing boto3 costs more than the whole runtime.

    Few attempts: SQS redelivery is the outer retry, and a Lambda stuck in SDK backoff holds
    the whole batch. ``AWS_ENDPOINT_URL`` (the local emulator) is honoured by boto3 itself.
    """
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                import boto3
                from botocore.config import Config

                _client = boto3.client(
                    "stepfunctions",
                    config=Config(
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=5,
                        read_timeout=15,
                    ),
                )
    return _client


def set_client(client: Any) -> None:
    """Tests and benchmarks inject a stubbed client; None makes the next call create one."""
    global _client
    with _lock:
        _client = client
