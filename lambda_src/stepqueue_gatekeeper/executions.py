"""What Step Functions says about an execution, and what that means for its slot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stepqueue_aws import aws_error_code

# SendTaskSuccess on a token that can no longer be completed. InvalidToken is also what a
# token already completed answers (measured on moto 5.2.5; AWS answers TaskTimedOut).
CLOSED_TOKEN = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
# DescribeExecution of an execution that can never be described again.
GONE = frozenset({"ExecutionDoesNotExist", "StateMachineDoesNotExist"})


# PENDING_REDRIVE: a redrive has started; the execution runs again, with the slot it holds.
LIVE = frozenset({"RUNNING", "PENDING_REDRIVE"})


@dataclass(frozen=True)
class Verdict:
    running: bool
    # The execution's run as Step Functions counts it (redriveCount: 0 for the first run,
    # one more per redrive); None when no run of it can hold anything ("gone", "foreign").
    runs: int | None
    reason: str  # "running", "stopped", "gone", "foreign"


def describe(sfn: Any, execution: str, own_prefixes: tuple[str, ...]) -> Verdict:
    """DescribeExecution is authoritative (ListExecutions is eventually consistent).

    An ARN outside this deployment's state machines is never described (the role may not, and
    it cannot be ours): it is "foreign", like one whose workflow was removed ("gone").
    """
    if own_prefixes and not execution.startswith(own_prefixes):
        return Verdict(False, None, "foreign")
    try:
        reply = sfn.describe_execution(executionArn=execution)
    except Exception as exc:
        if aws_error_code(exc) in GONE:
            return Verdict(False, None, "gone")
        raise
    runs = reply.get("redriveCount")
    runs = runs if isinstance(runs, int) and not isinstance(runs, bool) and runs >= 0 else 0
    if reply.get("status") in LIVE:
        return Verdict(True, runs, "running")
    return Verdict(False, runs, "stopped")


def send_success(sfn: Any, token: str, output: str) -> bool:
    """True when the waiter got its slot, False when its token is closed; anything else
    raises (the batch is redelivered and the grant, still pending, sent again)."""
    try:
        sfn.send_task_success(taskToken=token, output=output)
    except Exception as exc:
        if aws_error_code(exc) in CLOSED_TOKEN:
            return False
        raise
    return True


def refuse(sfn: Any, execution: str, cause: str) -> None:
    """Stop a redriven execution that has no slot (the caller checked it is this
    deployment's)."""
    try:
        sfn.stop_execution(executionArn=execution, error="Semaphore.RedriveRefused", cause=cause)
    except Exception as exc:
        if aws_error_code(exc) not in GONE:
            raise


def send_failure(sfn: Any, token: str, error: str, cause: str) -> None:
    """Fail a waiter's acquire (an input the semaphore cannot place); a closed token has
    nobody left to tell."""
    try:
        sfn.send_task_failure(taskToken=token, error=error, cause=cause[:32768])
    except Exception as exc:
        if aws_error_code(exc) not in CLOSED_TOKEN:
            raise
