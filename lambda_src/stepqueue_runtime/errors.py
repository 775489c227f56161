"""Errors a user handler raises, and how any exception becomes ``SendTaskFailure`` arguments."""

from __future__ import annotations

import json
import traceback
from typing import NamedTuple

from stepqueue_runtime.limits import CAUSE_MAX_CHARS, ERROR_MAX_CHARS, cut, utf16_len


class TaskFailed(Exception):
    """Raise from a handler to fail the task with an error name the ASL can match.

    ``raise TaskFailed(error="Orders.OutOfStock", cause="sku 42 is gone")``
    """

    def __init__(self, error: str, cause: str = "") -> None:
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
    """The error name is the chosen one (TaskFailed) or the exception's class name.

    Any other exception's cause is the JSON Lambda itself reports for a failed invoke
    (errorMessage, errorType, stackTrace), so ASL that parses causes with
    ``States.StringToJson`` works the same for queued workers as for Lambda tasks.
    """
    if isinstance(exc, TaskFailed):
        return failure(exc.error, exc.cause)
    error_type = type(exc).__name__
    return Failure(cut(error_type, ERROR_MAX_CHARS), _lambda_style_cause(exc, error_type))


def _dump(message: str, error_type: str, stack: list[str] | None) -> str:
    body: dict[str, object] = {"errorMessage": message, "errorType": error_type}
    if stack is not None:
        body["stackTrace"] = stack
    return json.dumps(body, ensure_ascii=False)


def _lambda_style_cause(exc: BaseException, error_type: str) -> str:
    """A cause that stays valid JSON when cut: drop the stack first, then shorten the message."""
    message = str(exc)
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
