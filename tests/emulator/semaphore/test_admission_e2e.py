"""The admission controls end to end on the emulator, small: generated ASL sending keys and
priorities, real executions, the real gatekeeper pumped with FIFO semantics, and the start
queue drained by the starter with StartExecution throttled (bench.admission's parts, fewer
executions)."""

from __future__ import annotations

from testkit.admission import Config, run


def test_every_admission_promise_holds_on_real_executions() -> None:
    result = run(
        Config(
            key_executions=14,
            rate_executions=8,
            priority_executions=10,
            submissions=20,
            repeats=6,
            seed=11,
        )
    )
    assert result["pump_errors"] == [] and result["holder_violations"] == 0
    assert result["max_holders_per_key"] == result["per_key_limit"]  # reached, never passed
    assert result["max_holders"] <= result["global_limit"]
    assert result["rate_grants"] == 8
    assert result["max_grants_in_any_second"] <= result["rate_per_second"] + result["rate_burst"]
    # 8 grants at 2/s after a burst of 3 cannot all fit in one second.
    assert result["rate_seconds"] >= (8 - 3) / result["rate_per_second"] - 0.5
    assert result["priority_inversions"] == 0 and result["priority_grants"] == 12
    assert result["started"] == result["distinct_submissions"] == 20
    assert result["duplicate_starts"] == 0 and result["dead_lettered"] == 0
    assert result["throttled_starts"] > 0  # the retries were exercised
    assert result["succeeded"] == result["executions"] and result["lost"] == 0
