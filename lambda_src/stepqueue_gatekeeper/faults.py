"""Which failures are worth a retry (docs/design.md §4a, "Retried or dropped").

One FIFO group carries everything a semaphore does, so a batch that fails blocks every acquire,
release and reclaim behind it until SQS redelivers it. A batch therefore fails only for a cause
that passes by itself: throttling, a 5xx, a timeout or a lost connection, and a version
conflict of the gatekeeper's own optimistic writes. Anything else (a body it cannot parse or
apply, a call AWS refuses for good, a target outside this deployment) would fail the same way
on every delivery until the DLQ took the message: it is dropped instead, logged and counted.
"""

from __future__ import annotations

from stepqueue_aws import aws_error_code

# botocore's standard retry mode retries these too (botocore/retries/standard.py).
THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KMS.ThrottlingException",
    }
)
UNAVAILABLE = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionConflictException",
    }
)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# A TransactWriteItems refused whole says why per item. The only condition the gatekeeper
# writes is the counter's version, so a failed condition is a version conflict.
TRANSIENT_REASONS = frozenset(
    {
        "None",
        "ConditionalCheckFailed",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    }
)
# botocore's errors for a request that never got an answer (class names: the error path does
# not import botocore): connection refused or closed, connect or read timeouts.
NETWORK = frozenset(
    {
        "HTTPClientError",
        "ConnectionError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ProxyConnectionError",
        "TimeoutError",
    }
)


class Transient(Exception):
    """A failure of the gatekeeper's own making that passes by itself (a version conflict)."""


def transient(exc: BaseException) -> bool:
    """True when retrying the batch can succeed without anyone changing anything."""
    if isinstance(exc, Transient):
        return True
    code = aws_error_code(exc)
    if code is None:
        return isinstance(exc, OSError) or bool(
            {cls.__name__ for cls in type(exc).__mro__} & NETWORK
        )
    if code in THROTTLED or code in UNAVAILABLE:
        return True
    if code == "TransactionCanceledException":
        return _reasons(exc) <= TRANSIENT_REASONS
    return _status(exc) in TRANSIENT_STATUS


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _reasons(exc: BaseException) -> set[str]:
    """The per-item codes of a cancelled transaction ("None" for an item that was fine)."""
    response = getattr(exc, "response", None) or {}
    reasons = response.get("CancellationReasons") or []
    return {str((r or {}).get("Code") or "None") for r in reasons}
