"""End to end on the emulator: generated workflows applied by Terraform, the local runner
running the packaged zip, a burst against the semaphore; and the burst bench at a small size."""

from __future__ import annotations

from testkit import semaphore_burst as burst


def test_transition_count() -> None:
    history = [
        {"type": "ExecutionStarted"},
        {"type": "TaskStateEntered"},
        {"type": "TaskScheduled"},
        {"type": "TaskFailed"},
        {"type": "TaskScheduled"},  # a retry: billed
        {"type": "TaskSucceeded"},
        {"type": "TaskStateExited"},
        {"type": "WaitStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert burst.transitions(history) == 3
