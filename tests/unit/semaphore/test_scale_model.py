"""testkit/scale_model.py prices the ledger the emulator test measured: a balanced batch costs
exactly its recorded serial round trips, and the burst simulation keeps its own books."""

from __future__ import annotations

from testkit import scale_model as model


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
