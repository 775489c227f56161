"""concurrency.expected_burst: the generator warns, with the number, when a burst of the
documented size would make waiters outlast max_wait_seconds; its rates are the model's."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from generator import semaphore, vocabulary
from generator.api import load_and_validate
from generator.errors import Severity
from testkit import scale_model
from tests.support.hypothesis_profiles import examples
from tests.unit.generator.helpers import HERE, LAMBDA_SRC, write_spec

BURST = HERE / "good_specs" / "with_warnings" / "burst_times_out.yaml"


def test_the_rates_are_the_models() -> None:
    """The gatekeeper's ceiling is testkit/scale_model.py's at central latencies, rounded
    down: a ledger change that moves it fails here until the generator is told."""
    batched = next(d for d in scale_model.designs() if d.name == scale_model.CURRENT)
    ceiling = scale_model.ceiling_per_s(batched, scale_model.LATENCY_MS["central"])
    assert math.floor(ceiling) == vocabulary.GATEKEEPER_CEILING_PER_S
    assert vocabulary.START_EXECUTION_BUCKET == scale_model.START_BUCKET
    assert vocabulary.START_EXECUTION_PER_S == scale_model.START_REFILL_PER_S
    # A freed slot is granted again one granting batch of the semaphore's group later.
    granting = batched.batch_ms(scale_model.LATENCY_MS["central"], 10, 10, 0)
    assert math.ceil(granting / 100) / 10 == vocabulary.SLOT_TURNOVER_S


def test_the_issues_burst_is_warned_with_its_number() -> None:
    workflows, diagnostics = load_and_validate([BURST], lambda_src=LAMBDA_SRC)
    assert workflows is not None
    [warning] = diagnostics
    assert warning.severity == Severity.WARNING
    assert warning.path == "concurrency.max_wait_seconds"
    # Granted at the lowest bound: its 500 slots turning over every 5.1 s (a 5-s body and the
    # gatekeeper's grant), below the gatekeeper's ceiling; one round more than that rate says.
    per_s, why = semaphore.served_per_s(500, 5, None)
    assert per_s == 500 / (5 + vocabulary.SLOT_TURNOVER_S) and why in warning.message
    worst, _, _ = semaphore.sized_wait_seconds(1_000_000, 500, 5, None)
    assert worst == semaphore.burst_wait_seconds(1_000_000, 500, per_s) + 5.1
    assert f"wait about {math.ceil(worst)} s" in warning.message
    assert f"at least {math.ceil(worst)}" in warning.fix
    assert math.ceil(worst) > 3600


def _spec(tmp_path: Path, concurrency: str) -> Path:
    return write_spec(
        tmp_path,
        f"""
        name: sized
        concurrency: {concurrency}
        StartAt: A
        States:
          A: {{Type: Succeed}}
        """,
    )


def test_enough_max_wait_or_a_small_burst_is_not_warned(tmp_path: Path) -> None:
    worst, _, _ = semaphore.sized_wait_seconds(1_000_000, 500, 0, None)
    for concurrency in (
        f"{{limit: 500, max_wait_seconds: {math.ceil(worst)}, "
        "expected_burst: {executions: 1000000}}",
        "{limit: 500, expected_burst: {executions: 1300, body_seconds: 5}}",
        "{limit: 500}",
    ):
        _, diagnostics = load_and_validate([_spec(tmp_path, concurrency)], lambda_src=LAMBDA_SRC)
        assert diagnostics == [], [d.format() for d in diagnostics]


def test_slots_or_a_rate_slower_than_the_gatekeeper_bound_the_burst(tmp_path: Path) -> None:
    """Limit 10 of 60-s bodies serves 1/6 a second; a rate of 2/s serves 2."""
    spec = _spec(tmp_path, "{limit: 10, expected_burst: {executions: 1000, body_seconds: 60}}")
    _, [slots] = load_and_validate([spec], lambda_src=LAMBDA_SRC)
    assert "limit 10 / (body_seconds 60 + 0.1 s" in slots.message
    worst, _, _ = semaphore.sized_wait_seconds(1000, 10, 60, None)
    assert math.isclose(worst, 990 * 60.1 / 10 + 60.1)  # 990 behind the first 10, one round
    assert f"about {math.ceil(worst)} s" in slots.message
    rated = _spec(
        tmp_path, "{limit: 500, rate: {per_second: 2}, expected_burst: {executions: 9000}}"
    )
    _, [rate] = load_and_validate([rated], lambda_src=LAMBDA_SRC)
    assert "concurrency.rate.per_second" in rate.message


@settings(max_examples=examples(1.0))
@given(
    executions=st.integers(1, 3000),
    limit=st.integers(1, 500),
    per_s=st.floats(0.5, 400),
)
def test_the_longest_wait_is_the_worst_of_every_execution(
    executions: int, limit: int, per_s: float
) -> None:
    """The closed form (the wait is piecewise linear in the execution's place) equals the
    worst over every execution of the burst."""
    brute = 0.0
    for i in range(limit + 1, executions + 1):
        started = max(0, i - vocabulary.START_EXECUTION_BUCKET) / vocabulary.START_EXECUTION_PER_S
        brute = max(brute, (i - limit) / per_s - started)
    assert math.isclose(semaphore.burst_wait_seconds(executions, limit, per_s), brute, abs_tol=1e-9)
