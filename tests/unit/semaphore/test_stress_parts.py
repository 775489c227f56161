"""The stress's own bookkeeping, without an emulator: a check that cannot fail proves nothing."""

from __future__ import annotations

from typing import Any

import pytest

from testkit.semaphore_stress import Believers, StandInExecutions, failed


def test_believers_flag_every_entry_above_the_limit() -> None:
    believers = Believers(limit=2)
    believers.enter("a")
    believers.enter("b")
    assert believers.over_grants == 0
    believers.enter("c")  # a third execution inside a limit of 2
    believers.enter("d")
    assert (believers.over_grants, believers.max_size) == (2, 4)
    for arn in "abcd":
        believers.leave(arn)
    believers.enter("e")
    assert believers.over_grants == 2 and believers.members == {"e"}


def test_stand_in_answers_like_describe_execution() -> None:
    executions = StandInExecutions("machine")
    arn, start = executions.start("e1")
    assert arn == "arn:aws:states:us-east-1:123456789012:execution:machine:e1"
    assert start.endswith("Z")
    assert executions.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    executions.end(arn, "ABORTED")
    assert executions.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    with pytest.raises(Exception) as raised:
        executions.sfn.describe_execution(executionArn=arn + "-unknown")
    # The reclaimer reads the code from .response, as for botocore's modelled exceptions.
    response: Any = getattr(raised.value, "response", None)
    assert response["Error"]["Code"] == "ExecutionDoesNotExist"


CLEAN = {
    "violations": 0,
    "count_mismatches": 0,
    "leaked_after_sweep": 0,
    "dead_holders_after_sweep": 0,
    "believers_left": 0,
    "protocol_errors": 0,
    "thread_failures": 0,
}


@pytest.mark.parametrize("key", sorted(CLEAN))
def test_any_problem_fails_the_run(key: str) -> None:
    assert not failed(CLEAN)
    assert failed({**CLEAN, key: 1})
