"""One task: probe the token, run the handler, call Step Functions back. Never raises for AWS
errors: every path ends in an ``Outcome`` the batch layer turns into ack or redelivery."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from stepqueue_aws import error_code

from stepqueue_runtime.aws import ErrorKind, classify, heartbeat_proves_closed
from stepqueue_runtime.context import TaskContext
from stepqueue_runtime.errors import Failure, failure, failure_from_exception
from stepqueue_runtime.heartbeat import Heartbeater
from stepqueue_runtime.limits import OUTPUT_MAX_BYTES
from stepqueue_runtime.message import TaskMessage

UserHandler = Callable[[Any, TaskContext], Any]

OUTPUT_TOO_LARGE = "Stepqueue.OutputTooLarge"
OUTPUT_NOT_JSON = "Stepqueue.OutputNotJson"
CALLBACK_REJECTED = "Stepqueue.CallbackRejected"

# One encoder: json.dumps with non-default options builds a new encoder on every call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class Outcome:
    """How a record ended. Plain strings, not an Enum: read several times per record."""

    SUCCEEDED: Final = "succeeded"  # SendTaskSuccess accepted
    FAILED: Final = "failed"  # SendTaskFailure accepted (handler raised, or unusable output)
    ALREADY_FINISHED: Final = "already_finished"  # token closed: acknowledged, not redelivered
    RETRY: Final = "retry"  # transient AWS error: SQS redelivers
    REJECTED: Final = "rejected"  # AWS refused the callback for good: redelivered, then DLQ
    MALFORMED: Final = "malformed"  # body unusable: redelivered, then the DLQ


# Outcomes reported in batchItemFailures.
REDELIVER = frozenset({Outcome.RETRY, Outcome.REJECTED, Outcome.MALFORMED})


@dataclass(slots=True)
class Result:
    outcome: str  # an Outcome constant
    ran: bool = False  # whether the user handler ran
    error: str | None = None  # the task error sent, or the AWS error code met
    output: str | None = None  # the JSON sent with SendTaskSuccess


def run_task(
    msg: TaskMessage,
    message_id: str,
    user_fn: UserHandler,
    client: Any,
    heartbeats: Heartbeater | None,
    remaining_ms: Callable[[], int] | None,
) -> Result:
    token = msg.task_token
    probe = _probe(client, msg)
    if probe is not None:
        return probe

    def beat() -> bool:
        if heartbeats is not None and heartbeats.is_finished(token):
            return False
        try:
            client.send_task_heartbeat(taskToken=token)
        except Exception as exc:
            return not _closed(exc, msg)
        return True

    # Positional: keyword construction costs measurably more on this per-record path.
    ctx = TaskContext(
        msg.workflow, msg.worker, msg.state, msg.execution, message_id, token, beat, remaining_ms
    )
    try:
        value = user_fn(msg.input, ctx)
    except Exception as exc:
        return _fail(client, token, failure_from_exception(exc))
    finally:
        if heartbeats is not None:
            heartbeats.untrack(token)

    try:
        output = _ENCODE(value)
    except (TypeError, ValueError) as exc:
        return _fail(client, token, failure(OUTPUT_NOT_JSON, f"handler output is not JSON: {exc}"))
    # Fast path: at most 4 UTF-8 bytes per character, so short strings need no encoding.
    if len(output) * 4 > OUTPUT_MAX_BYTES:
        size = len(output.encode("utf-8"))
        if size > OUTPUT_MAX_BYTES:
            cause = (
                f"handler output is {size} bytes of JSON; Step Functions accepts at most "
                f"{OUTPUT_MAX_BYTES} (256 KiB). Store large results elsewhere (S3) and return "
                "a reference."
            )
            return _fail(client, token, failure(OUTPUT_TOO_LARGE, cause))

    try:
        client.send_task_success(taskToken=token, output=output)
    except Exception as exc:
        kind = _kind(exc)
        if kind is not ErrorKind.REJECTED:
            return Result(_OUTCOME_OF[kind], ran=True, error=error_code(exc))
        # Refused for good (e.g. output the service will not take): fail the task now rather
        # than let the execution wait for its TimeoutSeconds.
        cause = f"SendTaskSuccess was rejected: {exc}"
        return _fail(client, token, failure(CALLBACK_REJECTED, cause))
    return Result(Outcome.SUCCEEDED, True, None, output)


_OUTCOME_OF = {
    ErrorKind.FINISHED: Outcome.ALREADY_FINISHED,
    ErrorKind.TRANSIENT: Outcome.RETRY,
    ErrorKind.REJECTED: Outcome.REJECTED,
}


def _kind(exc: Exception) -> ErrorKind:
    kind = classify(exc)
    if kind is None:  # not an AWS failure: a bug, let it surface
        raise exc
    return kind


def _closed(exc: Exception, msg: TaskMessage) -> bool:
    """Whether a failed heartbeat proves the task closed (an exception that is not an AWS
    failure surfaces)."""
    _kind(exc)
    return heartbeat_proves_closed(exc, heartbeat_declared=msg.heartbeat_seconds is not None)


def _probe(client: Any, msg: TaskMessage) -> Result | None:
    """A heartbeat before running: a closed task (a duplicate delivery of a finished one, or
    a batch redelivered after a crash) is acknowledged without running the handler again."""
    try:
        client.send_task_heartbeat(taskToken=msg.task_token)
    except Exception as exc:
        kind = _kind(exc)
        declared = msg.heartbeat_seconds is not None
        if heartbeat_proves_closed(exc, heartbeat_declared=declared):
            return Result(Outcome.ALREADY_FINISHED, error=error_code(exc))
        if kind is ErrorKind.TRANSIENT:
            return Result(Outcome.RETRY, error=error_code(exc))
        # Rejected (or an ambiguous InvalidToken): the probe is advisory, run the task.
    return None


def _fail(client: Any, token: str, fail: Failure) -> Result:
    try:
        client.send_task_failure(taskToken=token, error=fail.error, cause=fail.cause)
    except Exception as exc:
        return Result(_OUTCOME_OF[_kind(exc)], ran=True, error=error_code(exc))
    return Result(Outcome.FAILED, ran=True, error=fail.error)
