"""The call ledger (testkit/ledger.py): the AWS calls the gatekeeper makes to decide one batch of
each kind, by operation, and how many of them it waits for one after another. The counts are
asserted equal to testkit/gatekeeper_ledger.json, the numbers bench/scale.py models AWS with: a
new round trip on the hot path fails here until the model is told (and its diff reviewed).

The real handler and gatekeeper against the emulator's DynamoDB (counted by a botocore event
hook); Step Functions and SQS stood in (handler_harness.py), counted by a wrapper.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from stepqueue_gatekeeper import arrivals, decide
from stepqueue_gatekeeper.store import waiter_key

from testkit import ledger as book
from tests.emulator.semaphore.handler_harness import OWN, Room, make_room

ARRIVALS = ":arrivals"  # a scenario whose name ends so is sent in the arrivals group


def _measure(r: Room, bodies: list[dict[str, Any]], group: str | None = None) -> dict[str, Any]:
    """One batch through the handler (in `group`, else the semaphore's), every AWS call of its
    decision noted."""
    records = r.records(*bodies)
    for record in records:
        record["attributes"]["MessageGroupId"] = group or r.name
    ledger = book.Ledger()
    keeper = r.keeper
    sfn, sqs = keeper.sfn, keeper.sqs
    keeper.sfn, keeper.sqs = book.Counted(sfn, ledger), book.Counted(sqs, ledger)
    try:
        with book.hooked(keeper.ddb, ledger):
            assert r.handle(records) == []
    finally:
        keeper.sfn, keeper.sqs = sfn, sqs
    return ledger.summary()


def _hold(r: Room, *names: str) -> None:
    assert r.deliver(*(r.acquire(n) for n in names)) == []


def acquire_waits(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a")
    return [r.acquire("b")]


def acquire_granted(r: Room) -> list[dict[str, Any]]:
    return [r.acquire("a")]


def release_alone(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a")
    return [r.body("release", execution=OWN + "a")]


def release_grants(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a", "b")
    return [r.body("release", execution=OWN + "a")]


def dead_waiter(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a", "b", "c")
    r.sfn.end(OWN + "b", "TIMED_OUT")
    return [r.body("release", execution=OWN + "a")]


def reclaim(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a", "b")
    r.sfn.end(OWN + "a", "FAILED")
    return [r.body("reclaim", execution=OWN + "a")]


def limit_change(r: Room) -> list[dict[str, Any]]:
    _hold(r, "a", "b")
    return [r.body("limit", limit=2)]


def acquires_wait(r: Room) -> list[dict[str, Any]]:
    _hold(r, *(f"h{n}" for n in range(5)))
    return [r.acquire(f"w{n}") for n in range(10)]


def balanced_batch(r: Room) -> list[dict[str, Any]]:
    """The issue's batch: 5 acquires join, 5 holders release, 5 waiters are granted."""
    _hold(r, *(f"h{n}" for n in range(5)))
    _hold(r, *(f"w{n}" for n in range(5)))
    releases = [r.body("release", execution=OWN + f"h{n}") for n in range(5)]
    return [r.acquire(f"n{n}") for n in range(5)] + releases


def balanced_batch_cold(r: Room) -> list[dict[str, Any]]:
    """The same in a container that has not decided this semaphore before (nothing cached)."""
    bodies = balanced_batch(r)
    decide.forget()
    return bodies


def arrivals_wait(r: Room) -> list[dict[str, Any]]:
    """Ten acquires recorded by the arrivals group while every slot is held."""
    _hold(r, *(f"h{n}" for n in range(5)))
    return [r.acquire(f"w{n}") for n in range(10)]


def arrivals_wait_warm(r: Room) -> list[dict[str, Any]]:
    """The same in a container that recorded the group's last batch: its item is not read."""
    _hold(r, *(f"h{n}" for n in range(5)))
    _measure(r, [r.acquire("first")], r.name + ARRIVALS)
    return [r.acquire(f"w{n}") for n in range(10)]


def split_batch(r: Room) -> list[dict[str, Any]]:
    """The semaphore's group in a burst, as testkit/scale_proof.py measured it: 10 releases
    granting 10 waiters that the arrivals group recorded (in its own container, so this one
    has read none of their items), the holders its own grants wrote still cached."""
    _hold(r, *(f"h{n}" for n in range(10)))
    _measure(r, [r.acquire(f"w{n}") for n in range(10)], r.name + ARRIVALS)
    arrivals.forget()  # what the arrivals group's container knows, this one does not
    return [r.body("release", execution=OWN + f"h{n}") for n in range(10)]


def split_batch_cold(r: Room) -> list[dict[str, Any]]:
    """The same batch in a container that did not decide the group's last batch: the grants
    that batch delivered and left pending (their settle rides on the next commit) are sent
    again, answered closed, and DescribeExecution keeps their RUNNING holders."""
    bodies = split_batch(r)
    decide.forget()
    return bodies


def arrivals_wake(r: Room) -> list[dict[str, Any]]:
    """One acquire recorded while a slot is free: a tick wakes the semaphore's group."""
    return [r.acquire("a")]


SCENARIOS: dict[str, tuple[int, Callable[[Room], list[dict[str, Any]]]]] = {
    "acquire_waits": (1, acquire_waits),
    "acquire_granted": (1, acquire_granted),
    "release_alone": (1, release_alone),
    "release_grants": (1, release_grants),
    "dead_waiter": (1, dead_waiter),
    "reclaim": (1, reclaim),
    "limit_change": (1, limit_change),
    "acquires_wait": (5, acquires_wait),
    "balanced_batch": (5, balanced_batch),
    "balanced_batch_cold": (5, balanced_batch_cold),
    "split_batch": (10, split_batch),
    "split_batch_cold": (10, split_batch_cold),
    "arrivals_wait" + ARRIVALS: (5, arrivals_wait),
    "arrivals_wait_warm" + ARRIVALS: (5, arrivals_wait_warm),
    "arrivals_wake" + ARRIVALS: (1, arrivals_wake),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_gatekeeper_makes_the_calls_its_ledger_says(
    scenario: str, ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit, setup = SCENARIOS[scenario]
    r = make_room(ddb, unique_name, monkeypatch, limit=limit)
    bodies = setup(r)
    group = r.name + ARRIVALS if scenario.endswith(ARRIVALS) else None
    measured = _measure(r, bodies, group)
    data = book.recorded()
    if os.environ.get("STEPQUEUE_REWRITE_LEDGER") == "1":
        data["designs"][data["current"]][scenario] = measured
        book.LEDGER_JSON.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    assert measured == data["designs"][data["current"]][scenario]


def test_the_ledger_counts_what_the_scenarios_decide(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The balanced batch does what its name says, so its ledger is the one the model needs:
    5 grants sent, 5 releases applied, 5 acquires left waiting."""
    r = make_room(ddb, unique_name, monkeypatch, limit=5)
    bodies = balanced_batch(r)
    before = len(r.sfn.succeeded)
    _measure(r, bodies)
    assert r.sfn.succeeded[before:] == [OWN + f"w{n}" for n in range(5)]
    assert r.counter()["held"] == 5
    assert r.counter()["tail"] - r.counter()["head"] == 5


def test_arrivals_recorded_apart_are_granted_by_the_semaphores_group(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The arrivals group records and wakes; the semaphore's group grants, in arrival order,
    never over the limit; a release is decided while arrivals are still being recorded."""
    r = make_room(ddb, unique_name, monkeypatch, limit=2)
    _measure(r, [r.acquire(n) for n in ("a", "b", "c")], r.name + ARRIVALS)
    assert r.sfn.succeeded == [] and r.counter()["held"] == 0
    (tick,) = r.sqs.sent
    assert tick["MessageGroupId"] == r.name and json.loads(tick["MessageBody"])["op"] == "tick"
    assert r.deliver(json.loads(tick["MessageBody"])) == []
    assert r.sfn.succeeded == [OWN + "a", OWN + "b"] and r.counter()["held"] == 2
    _measure(r, [r.acquire("d")], r.name + ARRIVALS)
    assert len(r.sqs.sent) == 1  # full: no wake-up
    assert r.deliver(r.body("release", execution=OWN + "a")) == []
    assert r.sfn.succeeded[2:] == [OWN + "c"]
    assert r.deliver(r.body("release", execution=OWN + "b")) == []
    assert r.sfn.succeeded[3:] == [OWN + "d"]
    assert r.counter()["head"] == r.counter()["tail"] == 4


def test_the_ledger_tells_waves_from_serial_calls() -> None:
    ledger = book.Ledger()
    ledger.note("GetItem")
    workers = [threading.Thread(target=ledger.note, args=("SendTaskSuccess",)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # A wave of another operation right behind it waits for the first: a round trip more.
    workers = [threading.Thread(target=ledger.note, args=("DescribeExecution",)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ledger.note("TransactWriteItems")
    assert ledger.counts() == {
        "DescribeExecution": 2,
        "GetItem": 1,
        "SendTaskSuccess": 3,
        "TransactWriteItems": 1,
    }
    assert ledger.serial() == 4
    assert ledger.serial_by_operation() == {
        "DescribeExecution": 1,
        "GetItem": 1,
        "SendTaskSuccess": 1,
        "TransactWriteItems": 1,
    }


class _ArrivesDuringRead:
    """DynamoDB whose first BatchGetItem (the semaphore's group reading its counter and the
    arrivals' tails) lets an arrivals batch commit right after it: the race the two wake-ups
    exist for, made to happen in order."""

    def __init__(self, ddb: Any, arrive: Callable[[], None]) -> None:
        self._ddb, self._arrive, self._armed = ddb, arrive, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)

    def batch_get_item(self, **kwargs: Any) -> Any:
        reply = self._ddb.batch_get_item(**kwargs)
        if self._armed:
            self._armed = False
            self._arrive()
        return reply


def test_an_arrival_recorded_while_a_slot_frees_is_never_left_behind_it(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release's invocation read the tails before the arrival's commit; the arrival read
    the counter (still full) before the release's commit. Neither saw the other, so the
    semaphore's group, ending with a free slot and an empty line, reads the tails again and
    wakes itself."""
    r = make_room(ddb, unique_name, monkeypatch, limit=1)
    _hold(r, "a")
    decide.forget()
    arrival = r.records(r.acquire("b"))
    arrival[0]["attributes"]["MessageGroupId"] = r.name + ARRIVALS
    r.keeper.ddb = _ArrivesDuringRead(ddb, lambda: r.handle(arrival))
    assert r.deliver(r.body("release", execution=OWN + "a")) == []
    r.keeper.ddb = ddb
    assert r.sfn.succeeded == [OWN + "a"] and r.counter()["held"] == 0
    (tick,) = r.sqs.sent
    assert tick["MessageGroupId"] == r.name
    assert r.deliver(json.loads(tick["MessageBody"])) == []
    assert r.sfn.succeeded == [OWN + "a", OWN + "b"] and r.counter()["held"] == 1


def _pending(r: Room) -> list[Any]:
    item = r.item(r.name)
    assert item is not None
    return list(item.get("pending", {}).get("L", []))


@pytest.mark.parametrize("same_container", [True, False])
def test_delivered_grants_are_settled_by_the_next_commit_and_resent_only_elsewhere(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch, same_container: bool
) -> None:
    """A batch whose grants were all delivered leaves them pending (their waiters in the
    table) for the next commit. The container that sent them records them without sending;
    another sends them again: answered closed, DescribeExecution says RUNNING, the slots are
    kept. Either way nothing is granted or freed twice and the next waiter is served."""
    r = make_room(ddb, unique_name, monkeypatch, limit=2)
    _hold(r, "a", "b", "c")
    assert r.sfn.succeeded == [OWN + "a", OWN + "b"] and len(_pending(r)) == 2
    assert r.item(waiter_key(r.name, 0)) is not None  # settled by the next commit
    if not same_container:
        decide.forget()
    ledger = _measure(r, [r.body("release", execution=OWN + "a")])
    assert r.sfn.succeeded == [OWN + "a", OWN + "b", OWN + "c"]
    resent = 0 if same_container else 2
    assert ledger["calls"].get("DescribeExecution", 0) == resent
    assert ledger["calls"]["SendTaskSuccess"] == 1 + resent
    assert r.counter()["held"] == 2 and sorted(r.holders()) == [OWN + "b", OWN + "c"]
    assert [r.item(waiter_key(r.name, n)) for n in (0, 1)] == [None, None]
    assert len(_pending(r)) == 1  # c's grant, delivered, settled by the next commit
