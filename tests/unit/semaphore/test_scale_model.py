"""testkit/scale_model.py prices the ledger the emulator test measured: a balanced batch costs
exactly its recorded serial round trips, and the burst simulation keeps its own books."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testkit import scale_model as model
from tests.support.hypothesis_profiles import examples


def test_a_batch_costs_its_ledgers_round_trips() -> None:
    """The serial design's balanced batch (acquires and releases in one group); the split
    design's semaphore group granting waiters its arrivals group recorded (split_batch)."""
    for design in model.designs():
        scenario = "split_batch" if design.split else "balanced_batch"
        for lat in model.LATENCY_MS.values():
            recorded = design.ledger[scenario]["serial"]
            expected = lat["between"] + sum(lat[op] * n for op, n in recorded.items())
            assert design.batch_ms(lat, 5, 5, 0) == expected


def test_a_split_batch_that_empties_the_line_reads_the_arrivals_tails() -> None:
    design = model.designs()[1]
    assert design.split
    lat = model.LATENCY_MS["central"]
    looking = design.batch_ms(lat, 5, 5, 0, looks=True)
    assert looking - design.batch_ms(lat, 5, 5, 0) == lat["GetItem"]


def test_a_burst_within_the_ceiling_is_served_without_a_backlog() -> None:
    """Ten executions, limit 10: all granted in the first batches, none waits a body."""
    design = model.designs()[1]
    result = model.simulate(design, model.LATENCY_MS["central"], 10, 10, 5.0, None)
    assert result["succeeded_fraction"] == 1.0
    assert result["wait_p99_s"] < 1.0
    assert 5.0 < result["seconds"] < 6.0


def test_waiters_past_max_wait_time_out_and_are_not_counted_as_succeeded() -> None:
    """Limit 1, 5-s bodies, 5 waiters, max_wait 7 s: the first two are served in time."""
    design = model.designs()[1]
    starts = [0.0] * 5
    result = model.simulate(design, model.LATENCY_MS["central"], 5, 1, 5.0, 7.0, starts)
    assert result["succeeded_fraction"] == 0.4


def test_a_serial_grant_to_an_acquire_of_the_same_batch_reads_only_its_record() -> None:
    """The serial design's ledger: an acquire granted at once reads one item more than one
    that waits (its record); a grant from the line reads two (the waiter and its record)."""
    serial = next(d for d in model.designs() if not d.split)
    lat = model.LATENCY_MS["central"]
    granted = serial.ledger["acquire_granted"]["serial"]["GetItem"]
    waits = serial.ledger["acquires_wait"]["serial"]["GetItem"]
    saved = serial.batch_ms(lat, 0, 5, 0) - serial.batch_ms(lat, 0, 5, 0, fresh=5)
    per_grant = (
        serial.ledger["release_grants"]["serial"]["GetItem"]
        - serial.ledger["release_alone"]["serial"]["GetItem"]
    )
    assert saved == 5 * (per_grant - (granted - waits)) * lat["GetItem"]


# -- where the groups are: one shared queue, or the arrivals in a queue of their own -----------

CENTRAL = model.LATENCY_MS["central"]


def _design(name: str) -> model.Design:
    return next(d for d in model.designs() if d.name == name)


def _full_rate_burst(name: str) -> tuple[dict[str, Any], model.Seen]:
    """400,000 executions at StartExecution's full rate: the arrivals' backlog (~130 more a
    second than recorded) passes the scan window after ~900 s."""
    seen = model.Seen()
    result = model.simulate_split(_design(name), CENTRAL, 400_000, 500, 5.0, None, seen=seen)
    return result, seen


@pytest.fixture(scope="module")
def bursts() -> dict[str, tuple[dict[str, Any], model.Seen]]:
    return {name: _full_rate_burst(name) for name in ("batched", model.CURRENT)}


def test_the_current_design_is_the_split_one_and_shares_the_batched_ledger() -> None:
    current = _design(model.CURRENT)
    assert not current.shared_queue and current.split
    assert current.ledger == _design("batched").ledger and _design("batched").shared_queue


def test_in_one_queue_the_arrivals_backlog_hides_the_releases(
    bursts: dict[str, tuple[dict[str, Any], model.Seen]],
) -> None:
    shared, seen = bursts["batched"]
    assert shared["queues"]["shared"]["backlog_max"] >= model.FIFO_SCAN
    # Releases sent while the window was full waited for it to have room again: minutes.
    [(start, end)] = seen.control_queue_full
    assert end - start > 60
    assert shared["release_delay_max_s"] > 60


def test_split_the_backlog_is_alone_in_its_queue_and_releases_are_never_late(
    bursts: dict[str, tuple[dict[str, Any], model.Seen]],
) -> None:
    split, seen = bursts[model.CURRENT]
    shared, _ = bursts["batched"]
    queues = split["queues"]
    # The same backlog, in the arrivals' own queue; the control queue holds releases in
    # flight (at most the limit) and ticks, far from the window.
    assert queues["arrivals"]["backlog_max"] == shared["queues"]["shared"]["backlog_max"]
    assert queues["control"]["backlog_max"] < 500 + model.FIFO_BATCH
    assert seen.control_queue_full == []
    assert split["release_delay_max_s"] <= 1.0
    assert split["release_delay_p99_s"] <= 1.0
    assert split["efficiency"] >= 0.9 > shared["efficiency"]


def test_below_the_window_the_queue_layout_changes_nothing() -> None:
    """Paced at 100/s the arrivals never back up: both layouts run the same burst."""
    starts = [i / 100 for i in range(20_000)]
    runs = [
        model.simulate_split(_design(name), CENTRAL, 20_000, 500, 5.0, None, starts)
        for name in ("batched", model.CURRENT)
    ]
    for run in runs:
        del run["queues"]
    assert runs[0] == runs[1]


def test_a_neighbour_is_hidden_behind_the_burst_in_one_queue_and_not_when_split(
    bursts: dict[str, tuple[dict[str, Any], model.Seen]],
) -> None:
    """A small semaphore (limit 10, 1-s bodies, 5 a second) beside the burst: in the shared
    queue its acquires sent while the window is full wait for it to empty; with split queues
    it shares only the control queue, which the burst never fills."""
    shared_seen = bursts["batched"][1]
    hidden = model.neighbour(_design("batched"), CENTRAL, shared_seen)
    [(start, end)] = shared_seen.control_queue_full
    assert hidden["hidden_seconds"] == round(end - start, 1)
    assert hidden["wait_p99_s"] > 60 and hidden["wait_max_s"] >= end - start - 1
    alone = model.neighbour(_design(model.CURRENT), CENTRAL, bursts[model.CURRENT][1])
    assert alone["hidden_seconds"] == 0
    assert alone["wait_p99_s"] <= 1.0 and alone["release_delay_p99_s"] <= 1.0
    assert alone["succeeded_fraction"] == 1.0


@settings(max_examples=examples(1.0))
@given(
    windows=st.lists(st.tuples(st.floats(0, 1e4), st.floats(0.1, 1e3)), max_size=5),
    sent=st.floats(0, 1.2e4),
)
def test_a_message_sent_into_a_full_window_is_received_when_it_has_room(
    windows: list[tuple[float, float]], sent: float
) -> None:
    """Windows as the simulation records them: in order, apart."""
    full: list[tuple[float, float]] = []
    for start, length in sorted(windows):
        if not full or start > full[-1][1]:
            full.append((start, start + length))
    received = model._received_from(tuple(full), sent)
    inside = [(a, b) for a, b in full if a <= sent < b]
    assert received == (inside[0][1] if inside else sent)


# -- quotas -------------------------------------------------------------------------------------


def test_one_queue_carries_acquires_and_releases_over_its_send_quota_split_ones_do_not() -> None:
    """180 executions a second at optimistic latencies: acquires and releases make 360 sends a
    second in one queue (quota 300), 180 and ~180 plus ticks in two."""
    optimistic = model.LATENCY_MS["optimistic"]
    starts = [i / 180 for i in range(18_000)]
    shared, split = (
        model.simulate_split(_design(name), optimistic, 18_000, 900, 5.0, None, starts)
        for name in ("batched", model.CURRENT)
    )
    assert shared["queues"]["shared"]["sends_per_s_max"] > model.FIFO_SEND_PER_S
    assert shared["queues"]["shared"]["seconds_over_send_quota"] > 60
    assert split["queues"]["arrivals"]["sends_per_s_max"] == 180
    control = split["queues"]["control"]
    assert 180 <= control["sends_per_s_max"] <= model.FIFO_SEND_PER_S
    assert control["seconds_over_send_quota"] == 0
    # Which is why one queue caps the ceiling at half its quota.
    assert model.ceiling_per_s(_design("batched"), optimistic) == model.FIFO_SEND_PER_S / 2
    assert model.ceiling_per_s(_design(model.CURRENT), optimistic) > model.FIFO_SEND_PER_S / 2


def test_the_start_buckets_first_second_is_over_the_arrivals_queues_quota(
    bursts: dict[str, tuple[dict[str, Any], model.Seen]],
) -> None:
    """StartExecution's bucket (1,300 at once) and the first second of its refill land in one
    second; after that the refill is the quota exactly."""
    arrivals = bursts[model.CURRENT][0]["queues"]["arrivals"]
    assert arrivals["sends_per_s_max"] == model.START_BUCKET + model.START_REFILL_PER_S - 1
    assert arrivals["seconds_over_send_quota"] == 1


# -- the bound on succeeded_fraction --------------------------------------------------------------


def test_the_ideal_gatekeeper_grants_in_rounds_of_a_body() -> None:
    """Limit 1, 5-s bodies, 5 waiters at 0, max_wait 7: granted at 0 and 5, then 10 is too
    late for the rest (as the simulated gatekeeper above)."""
    assert model.ideal_succeeded([0.0] * 5, 1, 5.0, 7.0) == 0.4
    assert model.ideal_succeeded([0.0] * 5, 1, 5.0, None) == 1.0


def test_no_burst_of_the_issues_shape_succeeds_whole_with_a_short_max_wait() -> None:
    """100,000 at full rate, limit 500, 5-s bodies: the last waits ~666 s even when granted
    at 100/s with no latency; the generator's figure, plus one body for the rounds, is
    enough for the ideal gatekeeper."""
    starts = model._starts(100_000)
    sized = model.sized_max_wait_s(100_000, 500, 5.0)
    assert 600 < sized < 700
    assert model.ideal_succeeded(starts, 500, 5.0, 300) < 1.0
    assert model.ideal_succeeded(starts, 500, 5.0, sized + 5.0) == 1.0


@settings(max_examples=examples(0.5))
@given(
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=120),
    limit=st.integers(1, 8),
    body_s=st.floats(0.5, 8),
    max_wait_s=st.one_of(st.none(), st.floats(0, 20)),
    design=st.sampled_from([d.name for d in model.designs()]),
)
def test_no_design_beats_the_ideal_gatekeeper(
    gaps: list[float], limit: int, body_s: float, max_wait_s: float | None, design: str
) -> None:
    starts = [sum(gaps[: i + 1]) for i in range(len(gaps))]
    chosen = _design(design)
    run = model.simulate_split if chosen.split else model.simulate
    for lat in model.LATENCY_MS.values():
        result = run(chosen, lat, len(starts), limit, body_s, max_wait_s, starts)
        bound = model.ideal_succeeded(starts, limit, body_s, max_wait_s)
        assert result["succeeded_fraction"] <= bound


def test_the_model_sets_each_burst_beside_its_bound_and_checks_the_targets() -> None:
    """A small model run: every burst of every design at most its bound; the neighbour for
    the two batched layouts; the targets read off the current design at central latencies."""
    out = model.model(3_000, 50, 1.0)
    assert out["current"] == model.CURRENT
    for design in model.designs():
        entry = out[design.name]
        for scenario in ("burst", "start_queue_burst"):
            for result in entry[scenario].values():
                assert result["succeeded_fraction"] <= result["succeeded_fraction_bound"]
        assert ("neighbour" in entry) == design.split
    central = out[model.CURRENT]["burst"]["central"]
    assert central["succeeded_fraction_sized"] <= central["succeeded_fraction_sized_bound"]
    targets = out["targets"]
    assert targets["efficiency"]["value"] == central["efficiency"]
    assert targets["efficiency"]["met"] == (central["efficiency"] >= 0.9)
