"""One task: probe the token, run the handler, call Step Functions back. Never raises for AWS
errors: every path ends in an ``Outcome`` the batch layer turns into ack or redelivery.

Once the handler has run, whatever it returned or raised ends in a callback: output that
cannot be sent and exceptions that cannot be described become a ``Stepqueue.*`` task failure,
never a redelivery that would run the handler again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from stepqueue_aws import error_code

from stepqueue_runtime.aws import ErrorKind, classify, heartbeat_proves_closed
from stepqueue_runtime.context import TaskContext
from stepqueue_runtime.errors import Failure, failure, failure_from_exception
from stepqueue_runtime.heartbeat import Heartbeater
from stepqueue_runtime.limits import OUTPUT_MAX_BYTES
from stepqueue_runtime.message import TaskMessage

if TYPE_CHECKING:
    from stepqueue_runtime.deadline import Deadline
    from stepqueue_runtime.payloads import PayloadError, PayloadStore

UserHandler = Callable[[Any, TaskContext], Any]

OUTPUT_TOO_LARGE = "Stepqueue.OutputTooLarge"
OUTPUT_NOT_JSON = "Stepqueue.OutputNotJson"
OUTPUT_NOT_UNICODE = "Stepqueue.OutputNotUnicode"  # a lone surrogate: no UTF-8 for it
OUTPUT_TOO_DEEP = "Stepqueue.OutputTooDeep"  # deeper than the encoder's recursion limit
DEADLINE_EXCEEDED = "Stepqueue.DeadlineExceeded"
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
    DEFERRED: Final = "deferred"  # not started: the Lambda deadline was near; back at once


# Outcomes reported in batchItemFailures.
REDELIVER = frozenset({Outcome.RETRY, Outcome.REJECTED, Outcome.MALFORMED, Outcome.DEFERRED})


@dataclass(slots=True)
class Result:
    outcome: str  # an Outcome constant
    ran: bool = False  # whether the user handler ran
    error: str | None = None  # the task error sent, or the AWS error code met
    output: str | None = None  # the JSON sent with SendTaskSuccess
    # The input's payload could not be read (a transient error): the handler has not run.
    unread: bool = False


def run_task(
    msg: TaskMessage,
    message_id: str,
    user_fn: UserHandler,
    client: Any,
    heartbeats: Heartbeater | None,
    remaining_ms: Callable[[], int] | None,
    deadline: Deadline | None = None,
    payloads: PayloadStore | None = None,
    resolve_input: bool = False,
    attempt: int = 1,
    tenant: str | None = None,
) -> Result:
    """``payloads``: the claim check (payloads.py), or None; ``resolve_input``: the record's
    body mentions a reference, so its input is searched for them before the handler runs."""
    token = msg.task_token
    probe = _probe(client, msg)
    if probe is not None:
        return probe
    if deadline is not None and not deadline.start(message_id):
        return Result(Outcome.DEFERRED)
    beat = _beat(client, msg, heartbeats)
    # Positional: keyword construction costs measurably more on this per-record path.
    ctx = TaskContext(
        msg.workflow,
        msg.worker,
        msg.state,
        msg.execution,
        message_id,
        token,
        beat,
        remaining_ms,
        None,
        attempt,
        tenant,
    )
    try:
        report, unread = _handle(msg.input, ctx, user_fn, payloads, resolve_input, token)
    finally:
        # Finished first: untrack may wait for a heartbeat in flight (seconds, if the SDK
        # retries), and a margin reached meanwhile must not fail a task whose handler returned.
        late = deadline.finish(message_id) if deadline is not None else None
        # Before the callback: no heartbeat may follow it.
        if heartbeats is not None:
            heartbeats.untrack(token)
    if late is not None:  # reported at the margin; this outcome comes too late
        return late
    return _call_back(client, token, report, unread)


def _beat(client: Any, msg: TaskMessage, heartbeats: Heartbeater | None) -> Callable[[], bool]:
    """The context's heartbeat: False once the task is known to be closed."""
    token = msg.task_token

    def beat() -> bool:
        if heartbeats is not None and heartbeats.is_finished(token):
            return False
        try:
            client.send_task_heartbeat(taskToken=token)
        except Exception as exc:
            return not _closed(exc, msg)
        return True

    return beat


def _handle(
    payload: Any,
    ctx: TaskContext,
    user_fn: UserHandler,
    payloads: PayloadStore | None,
    resolve_input: bool,
    token: str,
) -> tuple[str | Failure, PayloadError | None]:
    """What the handler made of the input: its output as JSON, or the task failure to send.
    An input whose payload cannot be read comes back as its error, the handler not run."""
    if resolve_input and payloads is not None:
        payload, unread = _resolve(payloads, payload)
        if unread is not None:
            return "", unread
    try:
        value = user_fn(payload, ctx)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt: fail this task only
        return failure_from_exception(exc), None
    return _output(value, payloads, token), None


def _call_back(
    client: Any, token: str, report: str | Failure, unread: PayloadError | None
) -> Result:
    if unread is not None:  # the handler has not run
        if unread.transient:
            return Result(Outcome.RETRY, error=unread.aws_code or unread.code, unread=True)
        result = _fail(client, token, failure(unread.code, unread.cause))
        result.ran = False
        return result
    if isinstance(report, str):
        return _succeed(client, token, report)
    return _fail(client, token, report)


def _resolve(payloads: PayloadStore, value: Any) -> tuple[Any, PayloadError | None]:
    from stepqueue_runtime.payloads import PayloadError

    try:
        return payloads.resolve(value), None
    except PayloadError as exc:
        return value, exc


def _output(value: Any, payloads: PayloadStore | None = None, token: str = "") -> str | Failure:
    """The JSON to send with SendTaskSuccess, or the task failure saying why there is none.
    With a payload store, output over its threshold is stored and its reference sent."""
    try:
        output = _ENCODE(value)
    except RecursionError:
        return failure(OUTPUT_TOO_DEEP, "handler output is nested too deep to encode as JSON")
    except Exception as exc:  # TypeError, ValueError (NaN), or a subclass's own method raising
        return failure(OUTPUT_NOT_JSON, f"handler output is not JSON: {_describe(exc)}")
    if output.isascii():  # O(1), and then one byte per character
        size = len(output)
    else:
        try:
            size = len(output.encode("utf-8"))
        except UnicodeEncodeError as exc:
            cause = (
                f"handler output holds a lone surrogate (U+{ord(exc.object[exc.start]):04X} at "
                f"character {exc.start} of its JSON): not valid Unicode, so it cannot be sent "
                "as UTF-8. Decode bytes before returning them (e.g. a file name read with "
                "surrogateescape)."
            )
            return failure(OUTPUT_NOT_UNICODE, cause)
    if payloads is not None and size > payloads.threshold_bytes:
        return payloads.offload(output, size, token)
    if size > OUTPUT_MAX_BYTES:
        cause = (
            f"handler output is {size} bytes of JSON; Step Functions accepts at most "
            f"{OUTPUT_MAX_BYTES} (256 KiB). Store large results elsewhere (S3) and return "
            "a reference."
        )
        return failure(OUTPUT_TOO_LARGE, cause)
    return output


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # an exception raised by user code (a default= hook) may not print
        return type(exc).__name__


def _succeed(client: Any, token: str, output: str) -> Result:
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


# SendTaskFailure for a handler still running at the deadline (entry.py).
fail_task = _fail
