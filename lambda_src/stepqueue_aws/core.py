"""Error codes of AWS calls, boto3 clients cached per container with a caller's retries, and
giving SQS records back sooner than their visibility timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

_VISIBILITY_BATCH = 10  # ChangeMessageVisibilityBatch takes at most 10 entries
# Doubling stops here: SQS allows 12 h, and every caller caps the delay far lower.
_MAX_EXPONENT = 10


def aws_error_code(exc: BaseException) -> str | None:
    """The service's error code; None when ``exc`` is not an error answered by a service."""
    # Duck-typed on botocore's ClientError.response so that the error path, which may run
    # before any client exists, never pays for importing botocore.
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    return str(response.get("Error", {}).get("Code") or "ClientError")


def error_code(exc: BaseException) -> str:
    """The service's error code, or the class name for anything else (a log field either way)."""
    return aws_error_code(exc) or type(exc).__name__


class Retries(NamedTuple):
    """SDK retries and timeouts, chosen by each caller: how long it may sit in SDK backoff
    depends on what retries it from outside (SQS redelivery, the next scheduled sweep)."""

    max_attempts: int  # botocore's retries.max_attempts: retries after the first call
    connect_timeout: float | None = None  # None: botocore's default
    read_timeout: float | None = None

    def config(self) -> Any:
        from botocore.config import Config

        timeouts = {
            name: value
            for name, value in (
                ("connect_timeout", self.connect_timeout),
                ("read_timeout", self.read_timeout),
            )
            if value is not None
        }
        return Config(retries={"mode": "standard", "max_attempts": self.max_attempts}, **timeouts)


# One lock for every cache: clients are made once per service per container, so contention
# is nil, and a second thread must wait rather than build a duplicate client.
_lock = threading.Lock()


def cached_client(cache: dict[str, Any], service: str, retries: Retries) -> Any:
    """The client for ``service`` in the caller's ``cache``, made on first use.

    Made on first use rather than at import: importing boto3 costs more than the whole runtime.
    Each caller keeps its own cache because each has its own retries. ``AWS_ENDPOINT_URL``
    (the local emulator) is honoured by boto3 itself.
    """
    client = cache.get(service)
    if client is None:
        with _lock:
            client = cache.get(service)
            if client is None:
                import boto3

                client = boto3.client(service, config=retries.config())
                cache[service] = client
    return client


def inject_client(cache: dict[str, Any], service: str, client: Any) -> None:
    """Tests and benchmarks inject a stubbed client; None makes the next use create one."""
    with _lock:
        if client is None:
            cache.pop(service, None)
        else:
            cache[service] = client


def doubling_backoff(receive_count: int) -> int:
    """1, 2, 4 ... seconds by receive (the first receive waits 1 s), for a record given back."""
    return 1 << min(max(receive_count - 1, 0), _MAX_EXPONENT)


def change_visibility(
    sqs: Any,
    url: str,
    entries: Sequence[tuple[str, int]],
    warn: Callable[..., None],
) -> None:
    """Set the visibility timeout of (receipt handle, seconds) entries, in batches; never
    raises: if it fails, the visibility timeout still brings the records back."""
    try:
        for start in range(0, len(entries), _VISIBILITY_BATCH):
            chunk = entries[start : start + _VISIBILITY_BATCH]
            reply = sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                    for i, (handle, seconds) in enumerate(chunk)
                ],
            )
            failed = (reply or {}).get("Failed") or []
            if failed:
                warn("visibility not changed", extra={"failed": failed})
    except Exception as exc:
        warn("visibility not changed", extra={"error_code": error_code(exc)})
