"""Billed transitions counted from an execution history (testkit/semaphore_burst.py)."""

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
