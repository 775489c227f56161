"""End to end on the stack's workflows/*.yaml (tests/system/stack/conftest.py): the local runner
running the packaged zip, a burst against the semaphore."""

from __future__ import annotations

from stepqueue.local.burst import run_burst
from stepqueue.local.runner import Runner
from tests.system.stack.conftest import Stack


def test_burst_end_to_end(stack: Stack) -> None:
    main = stack.main
    dep = main.deployment
    with Runner(
        dep.emulator.endpoint, main.lambda_zip, function_prefix=main.prefix, failed_visibility_s=1
    ) as runner:
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
