"""End to end on the emulator: generated workflows applied by Terraform, the local runner
running the packaged zip, a burst against the semaphore; and the burst bench at a small size."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepqueue.local.runner import Runner
from stepqueue.local.scenarios import semaphore_burst as burst
from stepqueue.local.scenarios.workflow_burst import deployed, run_burst
from tests.markers import terraform_on_emulator


@terraform_on_emulator
def test_burst_end_to_end(generated_dir: Path, lambda_zip: Path, tmp_path: Path) -> None:
    with (
        deployed(tmp_path / "tf", generated_dir=generated_dir, lambda_zip=lambda_zip) as dep,
        Runner(dep.emulator.endpoint, lambda_zip, failed_visibility_s=1) as runner,
    ):
        assert all(s.uuid != "" for s in runner.settings)
        result = run_burst(
            dep, runner, executions=30, work_seconds=0.2, failing=2, poison=1, timeout_s=300
        )
    assert result.limit == 10 and result.max_concurrency == 5
    assert result.succeeded == 30, result.failure_examples
    assert result.failed_as_expected == 2 and result.failed_unexpectedly == 0
    assert result.lost == 0 and result.poison_in_dlq == 1
    assert 0 < result.peak_holders <= 10 and result.holder_violations == 0
    assert 0 < result.peak_workers <= 5
    assert result.holders_at_end == 0
    assert result.ok


@pytest.mark.emulator
@pytest.mark.slow
def test_burst_bench_small() -> None:
    result = burst.run(executions=8, limit=2, work_seconds=1, timeout_s=120)
    assert result["succeeded"] == 8 and result["lost"] == 0
    assert result["peak_holders"] <= 2 and result["holder_violations"] == 0
    assert result["holders_at_end"] == 0
    # A Wait body: acquire + Wait + release at least, and fewer than the anchor's 15.6.
    assert 3 <= result["transitions_per_execution"] < 15.6


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
