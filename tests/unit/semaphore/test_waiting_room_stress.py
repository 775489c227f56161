"""The waiting room stress's own bookkeeping, without an emulator: stand-in tokens, inversions,
the verdict and the fault dice. (The stress itself: tests/emulator/semaphore.)"""

from __future__ import annotations

import random

import pytest

from testkit import waiting_room_stress as stress

# -- the bookkeeping itself, without an emulator ------------------------------------------------


def test_stand_in_tokens_complete_once() -> None:
    sfn = stress.StandInSfn(random.Random(1))
    arn = stress.ARN_PREFIX + "a"
    token = sfn.start(arn)
    sfn.send_task_success(taskToken=token, output="{}")
    assert sfn.believing() == {arn} and sfn.granted[token].is_set()
    with pytest.raises(stress.AwsError) as again:
        sfn.send_task_success(taskToken=token, output="{}")
    assert again.value.response["Error"]["Code"] == "TaskTimedOut"
    assert not sfn.time_out_waiting(token)  # granted first: it holds, it did not time out
    sfn.end(arn, "FAILED")
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED" and described["stopDate"] is not None
    late = sfn.start(stress.ARN_PREFIX + "b")
    assert sfn.time_out_waiting(late)
    with pytest.raises(stress.AwsError):
        sfn.send_task_success(taskToken=late, output="{}")
    with pytest.raises(stress.AwsError) as gone:
        sfn.describe_execution(executionArn=stress.ARN_PREFIX + "never")
    assert gone.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_fifo_inversions_are_counted_across_commits() -> None:
    recorder = stress.RecordingDynamo(None)
    recorder.commits = [(1, [0, 1]), (2, [3]), (3, [2]), (4, [4, 5])]
    assert recorder.fifo_inversions() == 1  # 2 granted after 3
    recorder.commits = [(2, [2, 3]), (1, [0, 1])]  # recorded out of order, sorted by version
    assert recorder.fifo_inversions() == 0


@pytest.mark.parametrize("key", ["violations", "stuck_waiters", "fifo_inversions", "failures"])
def test_any_problem_fails_the_run(key: str) -> None:
    assert not stress.failed({})
    assert stress.failed({key: 1})


def test_fault_dice_fire_within_their_bound_whatever_the_draws() -> None:
    class NeverFires(random.Random):
        def random(self) -> float:
            return 0.999

    dice = stress.FaultDice(NeverFires())
    fired = [dice.roll("lost_delete", 0.15) for _ in range(14)]
    assert fired.index(True) == 6  # ceil(1 / 0.15) = 7th chance
    assert fired.count(True) == 2  # the bound restarts after each firing
    assert not any(dice.roll("off", 0.0) for _ in range(100))
