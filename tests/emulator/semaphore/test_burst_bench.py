"""The burst bench (`python -m bench.burst`) at a small size: a Wait body behind the waiting
room, the real gatekeeper deciding every batch."""

from __future__ import annotations

from testkit import waiting_room


def test_burst_bench_small() -> None:
    result = waiting_room.burst(executions=8, limit=2, work_seconds=1, timeout_s=120)
    assert result["succeeded"] == 8 and result["lost"] == 0
    assert result["peak_holders"] <= 2 and result["holder_violations"] == 0
    assert result["holders_at_end"] == 0
    assert result["stuck_waiters"] == 0 and result["fifo_inversions"] == 0
    # A Wait body: acquire + Wait + release at least, and fewer than the anchor's 15.6.
    assert 3 <= result["transitions_per_execution"] < 15.6
