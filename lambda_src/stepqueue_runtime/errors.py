"""Errors a user handler raises, and how any exception becomes ``SendTaskFailure`` arguments."""

from __future__ import annotations

import json
import traceback
from typing import NamedTuple

from stepqueue_runtime.limits import (
    CAUSE_MAX_CHARS,
    ERROR_MAX_CHARS,
    cut,
    utf16_len,
    valid_unicode,
)

# The handler raised an exception whose str() raised in turn: its message cannot be read.
ERROR_NOT_PRINTABLE = "Stepqueue.ErrorNotPrintable"
# Describing the handler's exception failed some other way: a runtime bug, reported rather than
# redelivered, since the handler has run.
INTERNAL_ERROR = "Stepqueue.InternalError"


class TaskFailed(Exception):
    """Raise from a handler to fail the task with an error name the ASL can match.

    ``raise TaskFailed(error="Orders.OutOfStock", cause="sku 42 is gone")``
    """

    def __init__(self, error: str, cause: str = "") -> None:
        # str() here, in the handler's frame: a value that cannot be turned into a string
        # fails the handler with that error, not the report of it later.
        error, cause = str(error), str(cause)
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class Failure(NamedTuple):
    """Arguments of one ``SendTaskFailure`` call, already within the API limits."""

    error: str
    cause: str


def failure(error: str, cause: str) -> Failure:
    return Failure(cut(error, ERROR_MAX_CHARS), cut(cause, CAUSE_MAX_CHARS))


def failure_from_exception(exc: BaseException) -> Failure:
    """The error name is the chosen one (TaskFailed), the exception's class name for any other
    ``Exception``, and ``Stepqueue.<class name>`` for the rest (``SystemExit``,
    ``KeyboardInterrupt``: the handler tried to end the process, not to fail one task).

    The cause of any but TaskFailed is the JSON Lambda itself reports for a failed invoke
    (errorMessage, errorType, stackTrace), so ASL that parses causes with
    ``States.StringToJson`` works the same for queued workers as for Lambda tasks.

    Never raises: whatever the handler raised, its task gets a failure to report.
    """
    try:
        if isinstance(exc, TaskFailed):
            return failure(exc.error, exc.cause)
        error_type = type(exc).__name__
        error = error_type if isinstance(exc, Exception) else "Stepqueue." + error_type
        try:
            message = str(exc)
        except BaseException as str_exc:  # user code: its __str__ may do anything
            note = f"str() of the {error_type} raised {type(str_exc).__name__}"
            return failure(ERROR_NOT_PRINTABLE, _lambda_style_cause(exc, error_type, note))
        return failure(error, _lambda_style_cause(exc, error_type, message))
    except Exception as bug:
        return failure(
            INTERNAL_ERROR,
            f"the runtime could not describe the {type(exc).__name__} the handler raised: "
            f"{type(bug).__name__}",
        )


def _dump(message: str, error_type: str, stack: list[str] | None) -> str:
    body: dict[str, object] = {"errorMessage": message, "errorType": error_type}
    if stack is not None:
        body["stackTrace"] = stack
    return json.dumps(body, ensure_ascii=False)


def _lambda_style_cause(exc: BaseException, error_type: str, message: str) -> str:
    """A cause that stays valid JSON when cut: drop the stack first, then shorten the message.

    The result is valid Unicode (``failure`` cuts nothing that fits, but replaces a lone
    surrogate, which the SDK could not send)."""
    message = valid_unicode(message)
    # The first frame is the runtime calling the handler: not the user's business.
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None
    stack = traceback.format_tb(tb) if tb else []
    cause = _dump(message, error_type, stack)
    if utf16_len(cause) <= CAUSE_MAX_CHARS:
        return cause
    cause = _dump(message, error_type, None)
    # Escaping can grow the text, so shrink the message by the excess until it fits.
    keep = utf16_len(message)  # in the units cut() and the limit use
    while utf16_len(cause) > CAUSE_MAX_CHARS and keep > 0:
        keep = max(0, keep - (utf16_len(cause) - CAUSE_MAX_CHARS))
        cause = _dump(cut(message, keep), error_type[:ERROR_MAX_CHARS], None)
    return cause
