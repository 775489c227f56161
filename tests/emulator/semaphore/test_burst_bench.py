"""End to end on the emulator: generated workflows applied by Terraform, the local runner
running the packaged zip, a burst against the semaphore; and the burst bench at a small size."""

from __future__ import annotations

from testkit import semaphore_burst as burst


def test_burst_bench_small() -> None:
    result = burst.run(executions=8, limit=2, work_seconds=1, timeout_s=120)
    assert result["succeeded"] == 8 and result["lost"] == 0
    assert result["peak_holders"] <= 2 and result["holder_violations"] == 0
    assert result["holders_at_end"] == 0
    # A Wait body: acquire + Wait + release at least, and fewer than the anchor's 15.6.
    assert 3 <= result["transitions_per_execution"] < 15.6
