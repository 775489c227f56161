"""One look at a state machine's RUNNING executions, as a pure function over an injected
Step Functions client.

ListExecutions returns the newest execution first, so the oldest is on the last page: a look
cut short by the page bound or the deadline saw only the newer ones. Its figures are then a
lower bound, and it says so (``complete`` False), rather than report a younger "oldest".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from stepqueue_aws import error_code

# ListExecutions' own maximum: fewer calls per look.
PAGE_SIZE = 1000
# 10 pages are 10,000 executions RUNNING at once: past that the watchdog is the wrong tool,
# and a longer walk would eat the next state machines' share of the invocation.
MAX_PAGES = 10


class Watched(TypedDict):
    state_machine_arn: str
    running: int
    oldest_start_s: float | None  # epoch seconds of the oldest seen; None: none running
    complete: bool  # False: cut short (page bound or deadline), the figures are lower bounds
    error: str | None  # the error code when a call failed


def _epoch_s(value: Any) -> float:
    # boto3 parses startDate into an aware datetime; a stand-in may hand epoch seconds.
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def watch(
    sfn: Any,
    state_machine_arn: str,
    time_left: Callable[[], bool],
    max_pages: int = MAX_PAGES,
) -> Watched:
    """The RUNNING executions of one state machine: how many, and when the oldest started.

    ``time_left()`` is asked before every page; never raises (a failed call is ``error``).
    """
    running, oldest, complete = 0, None, True
    kwargs: dict[str, Any] = {
        "stateMachineArn": state_machine_arn,
        "statusFilter": "RUNNING",
        "maxResults": PAGE_SIZE,
    }
    try:
        for _ in range(max_pages):
            if not time_left():
                complete = False
                break
            page = sfn.list_executions(**kwargs)
            for execution in page.get("executions", []):
                running += 1
                started = _epoch_s(execution["startDate"])
                oldest = started if oldest is None else min(oldest, started)
            token = page.get("nextToken")
            if not token:
                break
            kwargs["nextToken"] = token
        else:
            complete = False  # the page bound reached with pages left
    except Exception as exc:
        return Watched(
            state_machine_arn=state_machine_arn,
            running=running,
            oldest_start_s=oldest,
            complete=False,
            error=error_code(exc),
        )
    return Watched(
        state_machine_arn=state_machine_arn,
        running=running,
        oldest_start_s=oldest,
        complete=complete,
        error=None,
    )
