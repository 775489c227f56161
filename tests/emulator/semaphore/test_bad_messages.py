"""Retried or dropped (docs/design.md §4a): every message that used to fail its semaphore's
group on every delivery (so that every acquire, release and reclaim behind it waited until the
DLQ took it), to act on executions outside this deployment, to put the semaphore to sleep or
to keep a slot forever, and what it does now. A batch fails only for a transient cause;
anything else is dropped, logged and counted, and an acquire's execution is failed at once.

The real Lambda handler and gatekeeper against the emulator's DynamoDB; Step Functions stood
in with the permissions modules/gatekeeper/iam.tf grants (handler_harness.py), because moto
enforces no IAM. The last test runs real executions of generated ASL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from stepqueue_gatekeeper import Message, Outcome
from stepqueue_gatekeeper.rules import Rules

from stepqueue.local.emulator import Emulator
from testkit import waiting_room as room
from testkit.semaphore_requests import generate_definition_template
from tests.emulator.semaphore.handler_harness import (
    FOREIGN,
    OWN,
    Room,
    StepFunctions,
    make_room,
    role_actions,
)
from tests.support.waiting import wait_until_ended


class Pump(room.Pump):
    """The pump, keeping what the gatekeeper dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dropped: list[dict[str, str]] = []

    def observe(self, parsed: list[Message], outcome: Outcome) -> None:
        self.dropped += outcome.dropped


class Crash(BaseException):
    """The gatekeeper's process dies (not an exception it could handle): Lambda delivers the
    whole batch again."""


@pytest.fixture
def make(ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    def build(limit: int = 1, **keeper: Any) -> Room:
        return make_room(ddb, unique_name, monkeypatch, limit=limit, **keeper)

    return build


def _dropped(r: Room) -> list[dict[str, str]]:
    return [d for outcome in r.outcomes for d in outcome.dropped]


# -- an acquire whose priority is not a whole number ------------------------------------------


def test_a_bad_priority_fails_its_execution_with_the_permissions_of_the_role(make: Any) -> None:
    """The priority comes from the execution's input. Answering it SendTaskFailure needs
    states:SendTaskFailure, which the role must grant: on AWS the AccessDenied failed the
    group on every delivery (moto enforces no IAM, so only this stand-in can see it)."""
    r = make(limit=2)
    assert "SendTaskFailure" in role_actions()
    assert r.deliver(r.acquire("bad", priority="high"), r.acquire("good")) == []
    error, cause = r.sfn.failed[OWN + "bad"]
    assert error == "Semaphore.InvalidPriority" and "0 to 9" in cause
    assert r.sfn.succeeded == [OWN + "good"]


def test_a_role_that_may_not_fail_executions_drops_the_bad_acquire_not_the_group(
    make: Any,
) -> None:
    """Refused for good, the answer is dropped and reported; the group goes on."""
    r = make(limit=2, sfn=StepFunctions(allowed=role_actions() - {"SendTaskFailure"}))
    assert r.deliver(r.acquire("bad", priority=1.5), r.acquire("good")) == []
    assert r.sfn.succeeded == [OWN + "good"] and r.sfn.failed == {}
    (dropped,) = _dropped(r)
    assert dropped["execution"] == OWN + "bad" and dropped["error"] == "AccessDeniedException"
    assert dropped["answer"] == "refused: AccessDeniedException"
    release = r.body("release", execution=OWN + "good")
    assert r.deliver(release) == [] and r.counter()["held"] == 0


# -- a `redriven` body naming another state machine's execution --------------------------------


def test_a_redriven_execution_of_another_state_machine_is_never_stopped(make: Any) -> None:
    r = make()
    stranger = FOREIGN + "x"
    r.sfn.start(stranger)
    assert r.deliver(r.body("redriven", execution=stranger)) == []
    assert r.sfn.stops == [] and r.sfn.status[stranger] == "RUNNING"
    (dropped,) = _dropped(r)
    assert "not of this deployment" in dropped["why"]
    # One of this deployment's, holding nothing, is still refused.
    mine = OWN + "y"
    r.sfn.start(mine)
    assert r.deliver(r.body("redriven", execution=mine)) == []
    assert r.sfn.stops == [mine]


def test_an_acquire_from_another_state_machine_is_failed_not_granted(make: Any) -> None:
    r = make(limit=2)
    assert r.deliver(r.acquire("x", prefix=FOREIGN)) == []
    assert r.sfn.succeeded == [] and r.counter()["held"] == 0
    error, cause = r.sfn.failed[FOREIGN + "x"]
    assert error == "Semaphore.BadRequest" and "not of this deployment" in cause


# -- a `sweep` whose cursor is not what the store wrote ---------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "not json",
        '{"id": {"S": "x"}}',
        '{"holder_of": {"S": "other"}, "id": {"S": "other#h#arn"}}',
        "[1, 2]",
    ],
)
def test_a_sweep_with_a_cursor_the_store_did_not_write_is_dropped(make: Any, cursor: str) -> None:
    r = make()
    assert r.deliver(r.acquire("a")) == []
    assert r.deliver(r.body("sweep", cursor=cursor)) == []
    (dropped,) = _dropped(r)
    assert dropped["op"] == "unreadable" and "cursor" in dropped["why"]
    assert r.holders() == [OWN + "a"]
    # The cursor the store writes is accepted.
    written = {"holder_of": {"S": r.name}, "id": {"S": f"{r.name}#h#{OWN}a"}}
    assert r.deliver(r.body("sweep", cursor=json.dumps(written, sort_keys=True))) == []
    assert len(_dropped(r)) == 1


# -- a `tick` due far in the future ----------------------------------------------------------


def test_a_tick_due_in_an_hour_does_not_put_the_semaphore_to_sleep(make: Any) -> None:
    """Only the wake-up the counter waits for is slept on: any other tick is applied at once."""
    r = make()
    due = int((r.clock.now + 3_600) * 1000)
    tick = r.body("tick", at_ms=due)
    assert r.deliver(tick) == []
    assert r.sqs.visibility == []
    assert r.deliver(r.acquire("a")) == [] and r.sfn.succeeded == [OWN + "a"]


def test_the_semaphores_own_wake_up_sleeps_ten_seconds_at_most(make: Any, unique_name: str) -> None:
    """Even the counter's own wake-up, seen an hour early (the gatekeeper's clock set back an
    hour), puts the group to sleep for WAKE_MAX_MS, not for the hour."""
    r = make(limit=5, rules={unique_name: Rules(rate=0.1, burst=1)})
    assert r.deliver(r.acquire("a"), r.acquire("b")) == []
    assert r.sfn.succeeded == [OWN + "a"]
    (wake,) = (json.loads(m["MessageBody"]) for m in r.sqs.sent if "at_ms" in m["MessageBody"])
    r.clock.now -= 3_600
    (record,) = r.records(wake)
    assert r.handle([record]) == [record["messageId"]]
    assert [e["VisibilityTimeout"] for e in r.sqs.visibility] == [10]


# -- holders told apart by run, not by comparing two machines' clocks -------------------------


def test_a_holder_stopped_within_the_clock_skew_of_its_grant_is_freed(make: Any) -> None:
    """The gatekeeper's clock 3 s ahead of Step Functions': a holder stopped 1 s after its
    grant has a stopDate 2 s before the grant's time, and was never freed."""
    r = make()
    r.sfn.now = lambda: r.clock.now - 3
    assert r.deliver(r.acquire("a"), r.acquire("b")) == []
    r.clock.now += 1
    r.sfn.end(OWN + "a", "FAILED")  # ended in its body: no release
    assert r.deliver(r.body("reclaim", execution=OWN + "a")) == []
    assert r.holders() == [OWN + "b"]  # freed, and the slot given to the next
    r.sfn.end(OWN + "b", "ABORTED")
    assert r.deliver(r.body("sweep")) == [] and r.holders() == []


def test_a_redriven_run_keeps_its_slot_against_news_of_the_earlier_run(make: Any) -> None:
    """A run that kept its slot through a redrive is not freed by a reclaim that saw the
    earlier run (a late event answered by a DescribeExecution that has not seen the redrive
    yet); once the redriven run ends, it is."""
    r = make()
    a = OWN + "a"
    assert r.deliver(r.acquire("a")) == []
    r.clock.now += 5
    r.sfn.end(a, "FAILED")
    stale = r.sfn.describe_execution(executionArn=a)
    r.sfn.status[a], r.sfn.runs[a] = "RUNNING", 1  # redriven: it carries on in its body
    del r.sfn.stopped[a]
    assert r.deliver(r.body("redriven", execution=a)) == [] and r.sfn.stops == []
    r.sfn.stale[a] = stale  # FAILED, redriveCount 0
    assert r.deliver(r.body("reclaim", execution=a)) == []
    assert r.holders() == [a]
    held = r.item(f"{r.name}#h#{a}")  # the redriven run's, as its `redriven` message said
    assert held is not None and held["runs"] == {"N": "1"}
    del r.sfn.stale[a]
    r.clock.now += 5
    r.sfn.end(a, "FAILED")
    assert r.deliver(r.body("reclaim", execution=a)) == []
    assert r.holders() == []


# -- a late duplicate of an acquire ------------------------------------------------------------


def test_a_late_duplicate_acquire_never_holds_a_slot_after_its_release(make: Any) -> None:
    """The same acquire delivered again after its execution released (past SQS's
    deduplication, or redriven from the DLQ), and a crash between the commit and
    SendTaskSuccess: it used to be taken as a grant that may have been delivered, kept while
    its execution ran on after its body."""
    crash = [False]

    def crash_after_commit() -> None:
        if crash[0]:
            crash[0] = False
            raise Crash

    r = make(crash_after_commit=crash_after_commit)
    a = r.acquire("a")
    assert r.deliver(a) == [] and r.sfn.succeeded == [OWN + "a"]
    assert r.deliver(r.body("release", execution=OWN + "a")) == []
    crash[0] = True
    records = r.records(a)  # a new message: the same body
    try:
        assert r.handle(records) == []
    except Crash:
        assert r.handle(records) == []  # the batch delivered again
    crash[0] = False
    assert r.counter()["held"] == 0 and r.holders() == []
    assert r.sfn.succeeded == [OWN + "a"]
    assert r.outcomes[-1].duplicates == [OWN + "a"]
    assert r.deliver(r.acquire("b")) == [] and r.sfn.succeeded[-1] == OWN + "b"


def test_a_duplicate_acquire_while_its_execution_holds_takes_nothing(make: Any) -> None:
    """Skipped when it reaches the head of the line: at once with a slot free, else when one
    frees (a release of its own execution, say); never a second slot, never a second send."""
    r = make(limit=3)
    a = r.acquire("a")
    assert r.deliver(a, r.acquire("b")) == []
    assert r.deliver(a) == []
    assert r.counter()["held"] == 2 and r.sfn.succeeded == [OWN + "a", OWN + "b"]
    assert r.counter()["tail"] == r.counter()["head"]  # taken off the line at once
    assert r.outcomes[-1].duplicates == [OWN + "a"]
    assert r.deliver(r.acquire("c"), a) == []  # full: the duplicate waits in line
    assert r.counter()["held"] == 3 and r.outcomes[-1].duplicates == []
    assert r.deliver(r.body("release", execution=OWN + "a")) == []
    assert r.counter()["held"] == 2 and r.holders() == [OWN + "b", OWN + "c"]
    assert r.counter()["tail"] == r.counter()["head"]  # nobody left in line
    assert r.outcomes[-1].duplicates == [OWN + "a"]


def test_a_grant_a_crash_left_unsent_goes_out_even_with_a_batch_of_nothing_readable(
    make: Any,
) -> None:
    """Found by the property suite's deep profile: after a crash between the commit and
    SendTaskSuccess, the next batch of the group may hold nothing the gatekeeper can read (the
    batch delivered again, split differently). The pending grant goes out all the same, so a
    granted waiter never waits for the group's next readable message."""
    crash = [True]

    def crash_after_commit() -> None:
        if crash[0]:
            crash[0] = False
            raise Crash

    r = make(crash_after_commit=crash_after_commit)
    acquire, junk = r.records(r.acquire("a"), "not json")
    with pytest.raises(Crash):
        r.handle([acquire, junk])
    assert r.sfn.succeeded == [] and r.counter()["held"] == 1  # committed, not sent
    assert r.handle([junk]) == []
    assert r.sfn.succeeded == [OWN + "a"]
    assert r.handle([acquire]) == [] and r.sfn.succeeded == [OWN + "a"]  # applied already


# -- an acquire whose body cannot be read, on real executions -----------------------------------


def test_an_acquire_whose_key_nests_too_deep_fails_its_execution_at_once(
    emulator: Emulator, unique_name: str
) -> None:
    """The key comes from the execution's input: nested past the parser's bound, the body is
    never parsed, but its token is read at the top level and the execution fails at once with
    Semaphore.BadRequest, instead of waiting out its max_wait_seconds (120 here)."""
    ddb, sqs, sfn = (emulator.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
    spec = (
        f"name: {unique_name}\nconcurrency:\n  limit: 2\n  per_key: {{key: $.tenant, limit: 1}}\n"
        "  max_wait_seconds: 120\n  mode: waiting_room\n"
        "StartAt: Hold\nStates:\n  Hold: {Type: Wait, Seconds: 1, End: true}\n"
    )
    room.create_table(ddb, unique_name, {unique_name: 2})
    url = room.create_queue(sqs, unique_name)
    machine = room.create_machine(
        sfn, unique_name, generate_definition_template(spec), unique_name, url
    )
    deep: Any = "acme"
    for _ in range(300):
        deep = [deep]
    rules = {unique_name: Rules(key_limit=1)}
    with Pump(emulator, unique_name, url, rules=rules) as pump:
        started = datetime.now(UTC)
        bad = sfn.start_execution(
            stateMachineArn=machine, name="deep", input=json.dumps({"tenant": deep})
        )["executionArn"]
        good = sfn.start_execution(
            stateMachineArn=machine, name="fine", input=json.dumps({"tenant": "acme"})
        )["executionArn"]
        failed = wait_until_ended(sfn, bad, timeout=30)
        assert wait_until_ended(sfn, good, timeout=30)["status"] == "SUCCEEDED"
    assert pump.error is None
    assert failed["status"] == "FAILED" and failed["error"] == "Semaphore.BadRequest"
    (dropped,) = pump.dropped  # (the emulator keeps no cause in the history; the log does)
    assert dropped["execution"] == bad and "nests deeper than" in dropped["why"]
    assert (failed["stopDate"] - started).total_seconds() < 30
