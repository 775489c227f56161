"""Admission controls of the gatekeeper (docs/design.md §4b): per-key limits, priorities with
aging, a rate with its own wake-up. The real gatekeeper against the emulator's DynamoDB and
SQS; Step Functions is a stand-in that owns the task tokens, and the clock is the test's, so
rates and aging are exact."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from stepqueue_gatekeeper import Gatekeeper, Outcome, parse
from stepqueue_gatekeeper.rules import Rules, RulesError, rules_from_env
from stepqueue_gatekeeper.store import COMMIT_AT, holder_key, waiter_key

from stepqueue.local.emulator import Emulator
from testkit import waiting_room as room

ARN = "arn:aws:states:us-east-1:123456789012:execution:admit:"


@dataclass
class Tokens:
    """Step Functions as far as the gatekeeper sees it: tokens, answered once."""

    succeeded: list[str] = field(default_factory=list)  # executions, in grant order
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        if taskToken in self.closed:
            raise ClientError(
                {"Error": {"Code": "TaskTimedOut", "Message": "x"}}, "SendTaskSuccess"
            )
        self.closed.add(taskToken)
        self.succeeded.append(taskToken.removeprefix("tok-"))
        return {}

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        self.closed.add(taskToken)
        self.failed[taskToken.removeprefix(f"tok-{ARN}")] = (error, cause)
        return {}

    stopped: dict[str, datetime] = field(default_factory=dict)  # execution ARN -> when

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        if executionArn in self.stopped:
            return {"status": "FAILED", "stopDate": self.stopped[executionArn]}
        return {"status": "RUNNING"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    keeper: Gatekeeper
    tokens: Tokens
    clock: Clock
    ddb: Any
    sqs: Any
    table: str
    queue_url: str
    ids: Iterator[int] = field(default_factory=itertools.count)

    def acquire(self, name: str, **extra: Any) -> dict[str, Any]:
        acquire = hashlib.sha256(name.encode()).hexdigest()[:32]
        body = {"op": "acquire", "semaphore": self.table, "execution": ARN + name}
        return {**body, "acquire": acquire, "token": f"tok-{ARN}{name}", **extra}

    def release(self, name: str) -> dict[str, Any]:
        return {"op": "release", "semaphore": self.table, "execution": ARN + name}

    def decide(self, *bodies: dict[str, Any]) -> Outcome:
        messages = [
            parse(f"m{next(self.ids)}", self.table, json.dumps(b, ensure_ascii=False))
            for b in bodies
        ]
        return self.keeper.process(self.table, messages)

    def granted(self) -> list[str]:
        return [e.removeprefix(ARN) for e in self.tokens.succeeded]

    def items(self, tag: str) -> list[dict[str, Any]]:
        """The semaphore's items under `tag`. Under "h#" only holders: a freed holder's item
        stays as the record of the acquires it released (store.Released: no `holder_of`, out
        of the holders index), and holds nothing."""
        scan = self.ddb.scan(TableName=self.table)["Items"]
        found = [i for i in scan if i["id"]["S"].startswith(f"{self.table}#{tag}")]
        return [i for i in found if tag != "h#" or "holder_of" in i]

    def queued_ticks(self) -> list[dict[str, Any]]:
        """Taken off the queue (as the mapping would), so the group is free again."""
        reply = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        for m in reply.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in reply.get("Messages", [])]


@pytest.fixture
def harness(emulator: Emulator, unique_name: str) -> Any:
    def make(limit: int, rules: Rules) -> Harness:
        ddb, sqs = emulator.client("dynamodb"), emulator.client("sqs")
        room.create_table(ddb, unique_name, {unique_name: limit})
        url = room.create_queue(sqs, unique_name)
        tokens, clock = Tokens(), Clock()
        keeper = Gatekeeper(
            ddb,
            tokens,
            sqs,
            table=unique_name,
            queue_url=url,
            rules={unique_name: rules},
            clock=clock,
        )
        return Harness(keeper, tokens, clock, ddb, sqs, unique_name, url)

    return make


# -- per-key limits ---------------------------------------------------------------------------


def test_one_tenant_cannot_take_every_slot(harness: Any) -> None:
    h = harness(10, Rules(key_limit=2))
    out = h.decide(
        *[h.acquire(f"a{i}", key="acme") for i in range(5)],
        *[h.acquire(f"b{i}", key="bolt") for i in range(3)],
    )
    assert h.granted() == ["a0", "a1", "b0", "b1"]
    assert (out.held, out.parked, out.waiting) == (4, 4, 4)
    # A freed slot of acme goes to acme's oldest parked waiter, not to bolt's.
    h.decide(h.release("a0"))
    assert h.granted()[4:] == ["a2"]
    h.decide(h.release("b0"), h.release("b1"))
    assert h.granted()[5:] == ["b2"]
    for name in ("a1", "a2", "b2"):
        h.decide(h.release(name))
    assert h.granted()[6:] == ["a3", "a4"]
    h.decide(h.release("a3"), h.release("a4"))
    # Idle keys leave nothing behind.
    assert h.items("k#") == [] and h.items("p#") == [] and h.items("h#") == []


def test_a_key_and_the_global_limit_both_hold(harness: Any) -> None:
    h = harness(3, Rules(key_limit=2))
    out = h.decide(*[h.acquire(f"e{i}", key=f"t{i % 4}") for i in range(8)])
    assert h.granted() == ["e0", "e1", "e2"]  # the global limit first
    assert out.held == 3
    for _ in range(12):
        held = [i["execution"]["S"].removeprefix(ARN) for i in h.items("h#")]
        per_key: dict[str, int] = {}
        for item in h.items("h#"):
            per_key[item["key"]["S"]] = per_key.get(item["key"]["S"], 0) + 1
        assert len(held) <= 3 and max(per_key.values(), default=0) <= 2
        if not held:
            break
        h.decide(h.release(sorted(held)[0]))
    assert sorted(h.granted()) == [f"e{i}" for i in range(8)]


@pytest.mark.parametrize(
    "value",
    [
        "租户-Straße-🙂",
        "x" * 100_000,
        {"tenant": "a", "region": ["eu", 1]},
        42,
        None,
        json.loads("[" * 150 + "]" * 150),  # deep, but within the bodies' nesting bound
    ],
    ids=["unicode", "100k", "object", "number", "null", "150-deep"],
)
def test_any_key_value_becomes_a_bounded_item_key(harness: Any, value: Any) -> None:
    h = harness(10, Rules(key_limit=1))
    h.decide(h.acquire("first", key=value), h.acquire("second", key=value))
    assert h.granted() == ["first"]
    (key_item,) = h.items("k#")
    assert len(key_item["id"]["S"]) < 100
    assert len(key_item["value"]["S"]) <= 200
    h.decide(h.release("first"))
    assert h.granted() == ["first", "second"]


def test_a_key_with_a_lone_surrogate_is_a_key_like_any_other(harness: Any) -> None:
    """A lone surrogate ("\\ud800") is valid JSON but not valid Unicode: hashed or stored as
    it is, it would fail the group on every delivery."""
    h = harness(10, Rules(key_limit=1))
    bodies = [h.acquire(name, key="\ud800-tenant") for name in ("first", "second")]
    messages = [parse(f"s{i}", h.table, json.dumps(b)) for i, b in enumerate(bodies)]
    h.keeper.process(h.table, messages)
    assert h.granted() == ["first"]
    (key_item,) = h.items("k#")
    assert key_item["value"]["S"] == '"\\ud800-tenant"'


def test_two_spellings_of_one_object_are_one_key(harness: Any) -> None:
    h = harness(10, Rules(key_limit=1))
    h.decide(h.acquire("a", key={"x": 1, "y": 2}))
    h.decide(h.acquire("b", key={"y": 2, "x": 1}))
    assert h.granted() == ["a"]


def test_a_dead_parked_waiter_gives_its_turn_to_the_next(harness: Any) -> None:
    h = harness(10, Rules(key_limit=1))
    h.decide(*[h.acquire(f"e{i}", key="k") for i in range(3)])
    h.tokens.closed.add(f"tok-{ARN}e1")  # e1 timed out while parked
    out = h.decide(h.release("e0"))
    assert out.dead == [ARN + "e1"]
    assert h.granted() == ["e0", "e2"]
    h.decide(h.release("e2"))
    assert h.items("k#") == [] and h.items("p#") == []


def test_a_crash_after_the_commit_counts_no_key_twice(harness: Any) -> None:
    h = harness(10, Rules(key_limit=2))
    crashes = iter([True])

    def crash() -> None:
        if next(crashes, False):
            raise RuntimeError("crash between the commit and SendTaskSuccess")

    h.keeper.crash_after_commit = crash
    bodies = [h.acquire(f"e{i}", key="k") for i in range(3)]
    messages = [parse(f"c{i}", h.table, json.dumps(b)) for i, b in enumerate(bodies)]
    with pytest.raises(RuntimeError):
        h.keeper.process(h.table, messages)
    h.keeper.process(h.table, messages)  # the same batch, redelivered
    assert h.granted() == ["e0", "e1"]
    (key_item,) = h.items("k#")
    assert key_item["held"]["N"] == "2" and key_item["parked_tail"]["N"] == "1"


def test_many_waiters_of_one_full_key_are_parked_across_commits(harness: Any) -> None:
    """More parks than one transaction holds: the line keeps moving, nothing is stuck."""
    h = harness(5, Rules(key_limit=1))
    h.decide(h.acquire("hog0", key="hog"))
    for start in range(0, COMMIT_AT, 10):
        h.decide(*[h.acquire(f"hog{start + i + 1}", key="hog") for i in range(10)])
    h.decide(h.acquire("quiet", key="quiet"))
    assert h.granted() == ["hog0", "quiet"]


# -- priorities -------------------------------------------------------------------------------


def test_a_waiting_higher_priority_is_served_first_fifo_within_one(harness: Any) -> None:
    h = harness(1, Rules())
    h.decide(h.acquire("holder", priority=0))
    h.decide(
        h.acquire("low", priority=0),
        h.acquire("mid1", priority=5),
        h.acquire("top", priority=9),
        h.acquire("mid2", priority=5),
    )
    for name in ("holder", "top", "mid1", "mid2"):
        h.decide(h.release(name))
    assert h.granted() == ["holder", "top", "mid1", "mid2", "low"]


AGING_S = 10
STEP_S = 5  # one release, so one grant, per step
LOW = 3


@pytest.mark.parametrize("ahead", [2, 20], ids=["line-gone-when-due", "line-left-when-due"])
def test_aging_bounds_how_long_a_flood_of_higher_priorities_delays_a_low_one(
    harness: Any, ahead: int
) -> None:
    """docs/design.md §4b: a waiter of priority p ranks 9 after (9 - p) aging steps, then
    passes every 9 that arrived after it, so it waits at most (9 - p) × aging_seconds plus the
    line of 9s already ahead of it then. Here 9s are queued ahead of it and two more arrive
    per grant, so the line of 9s only grows: without aging it would starve, and with aging
    too fast it would be served before it is due."""
    h = harness(1, Rules(aging_ms=AGING_S * 1000))
    h.decide(h.acquire("holder"))
    h.decide(*[h.acquire(f"early{i}", priority=9) for i in range(ahead)])
    h.decide(h.acquire("low", priority=LOW))
    arrived = h.clock.now
    due_s = (9 - LOW) * AGING_S
    # Steps come at STEP_S, 2 × STEP_S, ...: the 9s served before it is due are the first
    # of those queued ahead; the rest are the line it then waits behind.
    left_when_due = max(0, ahead - (due_s - 1) // STEP_S)
    bound_s = due_s + left_when_due * STEP_S
    current, waited_s = "holder", None
    for step in range(bound_s // STEP_S + 1):
        h.clock.now += STEP_S
        flood = [h.acquire(f"flood{step}.{i}", priority=9) for i in range(2)]
        h.decide(*flood, h.release(current))
        current = h.granted()[-1]
        if current == "low":
            waited_s = h.clock.now - arrived
            break
    assert waited_s is not None, f"not served within the bound of {bound_s} s"
    assert due_s <= waited_s <= bound_s


@pytest.mark.parametrize("bad", ["high", 10, -1, 1.5, True, [1]])
def test_a_priority_that_is_not_0_to_9_fails_the_acquire_with_a_clear_error(
    harness: Any, bad: Any
) -> None:
    h = harness(5, Rules())
    out = h.decide(h.acquire("bad", priority=bad), h.acquire("good", priority=3))
    assert out.rejected == [ARN + "bad"]
    error, cause = h.tokens.failed["bad"]
    assert error == "Semaphore.InvalidPriority" and "0 to 9" in cause
    assert h.granted() == ["good"]


def test_an_acquire_without_a_key_on_a_per_key_semaphore_fails_with_a_clear_error(
    harness: Any,
) -> None:
    """Admitted unkeyed, it would bypass the per-key limit; only a hand-written or old
    definition sends no key. (A key of null is a key: see the test of any key value.)"""
    h = harness(5, Rules(key_limit=1))
    out = h.decide(h.acquire("keyless"), h.acquire("keyed", key="acme"))
    assert out.rejected == [ARN + "keyless"]
    error, cause = h.tokens.failed["keyless"]
    assert error == "Semaphore.MissingKey"
    assert f"semaphore {h.table} has a per-key limit" in cause and "need a key" in cause
    assert h.granted() == ["keyed"]
    assert (out.held, out.waiting) == (1, 0)


# -- rate -------------------------------------------------------------------------------------


def test_a_rate_grants_no_faster_than_its_tokens_and_wakes_itself(harness: Any) -> None:
    h = harness(10, Rules(rate=0.1, burst=2))  # one grant per 10 s, bursts of 2
    out = h.decide(*[h.acquire(f"e{i}") for i in range(5)])
    assert h.granted() == ["e0", "e1"]  # the burst
    (tick,) = h.queued_ticks()  # nobody polls: the gatekeeper's own wake-up, due in 10 s
    assert tick["op"] == "tick" and tick["at_ms"] == int(h.clock.now * 1000) + 10_000
    assert out.continued == ["tick"]
    # Early, and last of its batch: the group sleeps on it until it is due.
    h.clock.now += 4
    early = h.decide(tick)
    assert list(early.deferred.values()) == [6] and h.granted() == ["e0", "e1"]
    assert h.queued_ticks() == []  # no second wake-up while one is on its way
    h.clock.now += 6
    due = h.decide(tick)
    assert h.granted() == ["e0", "e1", "e2"] and due.deferred == {}
    (again,) = h.queued_ticks()
    assert again["at_ms"] == int(h.clock.now * 1000) + 10_000


def test_releases_do_not_beat_the_rate(harness: Any) -> None:
    h = harness(1, Rules(rate=0.5, burst=1))
    h.decide(h.acquire("a"), h.acquire("b"), h.acquire("c"))
    h.clock.now += 1
    h.decide(h.release("a"))  # a slot, but the next token is 1 s away
    assert h.granted() == ["a"]
    h.clock.now += 1
    h.decide({"op": "tick", "semaphore": h.table})
    assert h.granted() == ["a", "b"]


def test_the_bucket_is_written_where_it_can_be_read_back(harness: Any) -> None:
    h = harness(10, Rules(rate=1.0, burst=3))
    h.decide(*[h.acquire(f"e{i}") for i in range(3)])
    counter = h.ddb.get_item(TableName=h.table, Key={"id": {"S": h.table}})["Item"]
    assert float(counter["tokens"]["N"]) == 0.0
    holder = h.ddb.get_item(TableName=h.table, Key={"id": {"S": holder_key(h.table, ARN + "e0")}})
    assert "Item" in holder


# -- the rules the deployment passes ----------------------------------------------------------


def test_rules_from_the_environment_are_checked() -> None:
    rules = rules_from_env(json.dumps({"api": {"rate": 0.1, "burst": 5, "key_limit": 3}}))
    assert rules["api"] == Rules(key_limit=3, rate=0.1, burst=5)
    for bad in ('{"api": {"rate": 0}}', '{"api": {"key_limit": 0}}', '{"api": {"colour": 1}}'):
        with pytest.raises(RulesError):
            rules_from_env(bad)


# -- every control at once, under faults ------------------------------------------------------


def _assert_invariants(h: Any) -> None:
    """Holders within the global and per-key limits, counts equal to the items, nobody in line
    while a slot is free, nobody parked while their key has room."""
    from stepqueue_gatekeeper.store import counter_from, key_state_from

    items = h.ddb.scan(TableName=h.table)["Items"]
    counter = counter_from(
        next(i for i in items if i["id"]["S"] == h.table), h.table, default_limit=4
    )
    holders = [i for i in items if "holder_of" in i]  # released records hold nothing
    per_key: dict[str, int] = {}
    for item in holders:
        per_key[item["key"]["S"]] = per_key.get(item["key"]["S"], 0) + 1
    assert counter.held == len(holders) <= 4
    assert max(per_key.values(), default=0) <= 2
    for item in items:
        if item["id"]["S"].startswith(f"{h.table}#k#"):
            ks = key_state_from(item["id"]["S"].rsplit("#", 1)[1], item)
            assert ks.held == per_key.get(ks.key, 0)
            assert ks.parked == 0 or ks.held + ks.returned >= 2, "parked with room"
    assert counter.held == 4 or counter.waiting == 0, "in line while a slot is free"
    # Grants still pending were delivered (a crash's were sent again by the redelivery):
    # their settle is left to the semaphore's next commit.
    by_id = {i["id"]["S"]: i for i in items}
    for line, seq in counter.pending:
        waiter = by_id[waiter_key(h.table, seq, line)]
        assert waiter["execution"]["S"].removeprefix(ARN) in h.granted(), waiter


def _let_a_waiter_die(h: Any, rng: Any, arrived: list[str], dead: set[str]) -> None:
    """One execution still in line gives up: its wait timed out, so it failed."""
    waiting = [a for a in arrived if a not in h.granted() and a not in dead]
    if waiting:
        name = rng.choice(waiting)
        dead.add(name)
        h.tokens.closed.add(f"tok-{ARN}{name}")
        h.tokens.stopped[ARN + name] = datetime.fromtimestamp(h.clock.now, UTC)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_traffic_with_faults_keeps_every_invariant(harness: Any, seed: int) -> None:
    """Arrivals with random keys and priorities, releases, waiters that die, duplicates and
    crashes between the commit and SendTaskSuccess; after every invocation: holders within
    the global and per-key limits, counts equal to the items, nobody in line while a slot is
    free, nobody parked while their key has room. At the end everyone alive was served and
    nothing is left."""
    import random

    rng = random.Random(seed)
    h = harness(4, Rules(key_limit=2, aging_ms=5_000))
    keys = ["acme", "bolt", "ünïcode-🙂", "y" * 500]
    crash_next = False

    def crash() -> None:
        nonlocal crash_next
        if crash_next:
            crash_next = False
            raise RuntimeError("crash between the commit and SendTaskSuccess")

    h.keeper.crash_after_commit = crash
    arrived: list[str] = []
    released: set[str] = set()
    dead: set[str] = set()

    def decide(*bodies: dict[str, Any]) -> None:
        messages = [parse(f"r{next(h.ids)}", h.table, json.dumps(b)) for b in bodies]
        try:
            h.keeper.process(h.table, messages)
        except RuntimeError:
            h.keeper.process(h.table, messages)  # redelivered: recognised, nothing twice
        _assert_invariants(h)

    def release(name: str) -> None:
        # Its body is done: it releases and ends, so a late duplicate of its acquire finds it
        # stopped.
        released.add(name)
        decide(h.release(name))
        h.tokens.stopped[ARN + name] = datetime.fromtimestamp(h.clock.now, UTC)

    for step in range(120):
        h.clock.now += rng.uniform(0, 2)
        roll = rng.random()
        crash_next = rng.random() < 0.1
        holding = [e for e in h.granted() if e not in released and e not in dead]
        if roll < 0.5 or not holding:
            name = f"s{step}"
            body = h.acquire(name, key=rng.choice(keys), priority=rng.randint(0, 9))
            arrived.append(name)
            decide(body, body) if rng.random() < 0.1 else decide(body)  # a duplicate delivery
        elif roll < 0.85:
            name = rng.choice(holding)
            release(name)
        else:
            _let_a_waiter_die(h, rng, arrived, dead)
    # Drain: release every holder until everyone alive has been served.
    for _ in range(400):
        holding = [e for e in h.granted() if e not in released and e not in dead]
        if not holding:
            break
        release(holding[0])
    alive = [a for a in arrived if a not in dead]
    assert set(alive) <= set(h.granted())
    assert len(h.granted()) == len(set(h.granted())), "granted twice"
    # A late duplicate of an acquire is never granted again, not even one whose grant a crash
    # would have left unconfirmed: nothing holds, and one sweep finds nothing to do. What is
    # left is the counter and the records of released acquires (out of the holders index).
    h.clock.now += 1
    decide({"op": "sweep", "semaphore": h.table})
    items = h.ddb.scan(TableName=h.table)["Items"]
    leftovers = sorted(i["id"]["S"] for i in items if "released" not in i)
    assert leftovers == [h.table, f"{h.table}#arrivals"]  # the counter, the lines' tails
    assert h.items("h#") == []


def test_status_shows_the_parked_and_the_busiest_keys(harness: Any) -> None:
    from stepqueue.deploy import semaphore_admin as admin

    h = harness(10, Rules(key_limit=2))
    h.decide(
        *[h.acquire(f"a{i}", key="acme") for i in range(3)],
        h.acquire("b0", key="bolt"),
        h.acquire("c0", key={"region": "eu"}),
    )
    (status,) = admin.status(h.ddb, h.table, h.table)
    assert (status.held, status.waiting, status.parked) == (4, 1, 1)
    assert status.busiest_keys == (('"acme"', 2), ('"bolt"', 1), ('{"region": "eu"}', 1))
    assert "acme" in admin.render_table([status])


class _TwoPerPage:
    """The emulator's DynamoDB with queries paged two items at a time, as a large table is."""

    def __init__(self, ddb: Any) -> None:
        self._ddb = ddb

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)

    def query(self, **kwargs: Any) -> Any:
        return self._ddb.query(**{"Limit": 2, **kwargs})


def test_status_counts_keys_by_their_hash_and_says_when_it_counted_part(
    harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stepqueue.deploy import semaphore_admin as admin

    h = harness(10, Rules(key_limit=2))
    shared = "x" * 300  # shown values keep 200 characters: these two would look alike
    h.decide(
        h.acquire("a0", key=shared + "a"),
        h.acquire("b0", key=shared + "b"),
        *[h.acquire(f"c{i}", key="c") for i in range(2)],
    )
    (status,) = admin.status(h.ddb, h.table, h.table)
    assert [held for _, held in status.busiest_keys] == [2, 1, 1]
    assert status.busiest_keys_partial is False
    # Past the bound of holders read, the counts are of those read, and the status says so.
    monkeypatch.setattr(admin, "HOLDERS_READ_MAX", 2)
    (status,) = admin.status(_TwoPerPage(h.ddb), h.table, h.table)
    assert status.busiest_keys_partial is True
    assert sum(held for _, held in status.busiest_keys) == 2
    assert "(of the first 2 holders)" in admin.render_table([status])
