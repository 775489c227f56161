"""The waiting room on the emulator (DynamoDB writes serialised by the atomicity shim): real
executions of generated ASL park in the FIFO queue; the gatekeeper, pumped with FIFO
semantics, grants, releases, reclaims and changes limits. After every invocation the pump
checks the invariants of docs/design.md §4 on the items at rest."""

from __future__ import annotations

from functools import partial
from typing import Any

from stepqueue.local.emulator import Emulator
from testkit import waiting_room as room
from testkit.semaphore_requests import generate_definition_template
from tests.support.semaphore import acquire_posted, queue_settled
from tests.support.waiting import until, wait_until_ended

HOLD = """\
StartAt: Hold
States:
  Hold: {{Type: Wait, Seconds: {seconds}, End: true}}
"""


def _deploy(
    emulator: Emulator, name: str, limit: int, seconds: int, max_wait: int = 120
) -> tuple[str, str]:
    ddb, sqs, sfn = (emulator.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
    spec = (
        f"name: {name}\nconcurrency: "
        f"{{limit: {limit}, max_wait_seconds: {max_wait}, mode: waiting_room}}\n"
        + HOLD.format(seconds=seconds)
    )
    room.create_table(ddb, name, {name: limit})
    url = room.create_queue(sqs, name)
    machine = room.create_machine(sfn, name, generate_definition_template(spec), name, url)
    return machine, url


def _start(sfn: Any, machine: str, n: int, prefix: str = "e") -> list[str]:
    arns = []
    for i in range(n):  # one at a time: the arrival order is the start order
        name = f"{prefix}{i:03d}"
        arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
        until(f"{name}'s acquire posted", partial(acquire_posted, sfn, arn), every=0.02)
        arns.append(arn)
    return arns


def _assert_invariants(pump: room.Pump) -> None:
    inv = pump.inv
    assert inv.checks > 0
    assert inv.over_limit == 0
    assert inv.count_mismatch == 0
    assert inv.fifo_inversions() == 0


def test_grants_in_arrival_order_never_over_the_limit(emulator: Emulator, unique_name: str) -> None:
    machine, url = _deploy(emulator, unique_name, limit=3, seconds=1)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    with room.Pump(emulator, unique_name, url) as pump:
        arns = _start(sfn, machine, 12)
        described = [wait_until_ended(sfn, a, timeout=90) for a in arns]
        # A release is posted before its execution ends and decided after: the last one too.
        until("every release decided", lambda: queue_settled(sqs, url))
    assert pump.error is None
    assert [d["status"] for d in described] == ["SUCCEEDED"] * 12
    _assert_invariants(pump)
    assert pump.inv.stuck == 0
    assert pump.inv.peak_holders == 3  # the limit was used, and never exceeded
    assert pump.inv.grants == pump.inv.arrivals  # each once, in the order it arrived
    assert sorted(pump.inv.arrivals) == sorted(arns)
    assert room.counter(ddb, unique_name, unique_name)["held"] == 0
    assert room.holder_items(ddb, unique_name, unique_name) == []


def test_crash_between_commit_and_send_never_grants_or_counts_twice(
    emulator: Emulator, unique_name: str
) -> None:
    machine, url = _deploy(emulator, unique_name, limit=2, seconds=1)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    crashes = iter([True, False, True] + [False] * 1000)  # crash the 1st and 3rd rounds
    pump = room.Pump(emulator, unique_name, url, crash=lambda: next(crashes))
    with pump:
        arns = _start(sfn, machine, 6)
        described = [wait_until_ended(sfn, a, timeout=90) for a in arns]
        # A release is posted before its execution ends and decided after: the last one too.
        until("every release decided", lambda: queue_settled(sqs, url))
    assert pump.inv.failures == 2  # the injected crashes happened, and were recovered
    assert [d["status"] for d in described] == ["SUCCEEDED"] * 6
    _assert_invariants(pump)
    assert sorted(pump.inv.grants) == sorted(arns)  # each granted exactly once
    assert room.counter(ddb, unique_name, unique_name)["held"] == 0


def test_dead_waiter_is_skipped_and_the_next_served_at_once(
    emulator: Emulator, unique_name: str
) -> None:
    """A waiter whose execution failed while it waited (its wait timed out) gets no slot; the
    one behind it gets it at once. (moto's StopExecution does not close a waiting token, so
    the time-out is how an execution dies while waiting here.)"""
    machine, url = _deploy(emulator, unique_name, limit=1, seconds=3)
    sfn, ddb = emulator.client("stepfunctions"), emulator.client("dynamodb")
    spec = (
        f"name: {unique_name}b\nconcurrency: {{semaphore: {unique_name}, limit: 1, "
        "max_wait_seconds: 1, mode: waiting_room}\n" + HOLD.format(seconds=3)
    )
    impatient = room.create_machine(
        sfn, unique_name + "b", generate_definition_template(spec), unique_name, url
    )
    with room.Pump(emulator, unique_name, url) as pump:
        (first,) = _start(sfn, machine, 1, "a")
        until("the first holds the slot", lambda: pump.inv.grants == [first])
        (doomed,) = _start(sfn, impatient, 1, "b")
        until("the doomed one waits behind it", lambda: doomed in pump.inv.arrivals)
        (third,) = _start(sfn, machine, 1, "c")
        ends = [wait_until_ended(sfn, a, timeout=60) for a in (first, doomed, third)]
    assert [e["status"] for e in ends] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert ends[1]["error"] == "Semaphore.Timeout"
    assert pump.inv.dead == [doomed]
    assert pump.inv.grants == [first, third]
    # The third got the slot as soon as the first released it: no wait for a sweep.
    assert (ends[2]["stopDate"] - ends[0]["stopDate"]).total_seconds() < 3 + 2.5
    _assert_invariants(pump)
    assert room.counter(ddb, unique_name, unique_name)["held"] == 0


def test_wait_times_out_with_semaphore_timeout(emulator: Emulator, unique_name: str) -> None:
    machine, url = _deploy(emulator, unique_name, limit=1, seconds=4, max_wait=2)
    sfn = emulator.client("stepfunctions")
    with room.Pump(emulator, unique_name, url) as pump:
        holder, waiter = _start(sfn, machine, 2)
        late = wait_until_ended(sfn, waiter, timeout=30)
        wait_until_ended(sfn, holder, timeout=30)
        # The holder's release reaches the gatekeeper, which finds the waiter next in line dead.
        until("the timed-out waiter found dead", lambda: waiter in pump.inv.dead)
    assert late["status"] == "FAILED" and late["error"] == "Semaphore.Timeout"
    assert pump.inv.dead == [waiter]
    _assert_invariants(pump)


def test_limit_lowered_then_raised_takes_effect_at_once(
    emulator: Emulator, unique_name: str
) -> None:
    machine, url = _deploy(emulator, unique_name, limit=4, seconds=2)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    with room.Pump(emulator, unique_name, url) as pump:
        room.send(sqs, url, {"op": "limit", "semaphore": unique_name, "limit": 1}, "low")
        until("limit 1 applied", lambda: room.counter(ddb, unique_name, unique_name)["limit"] == 1)
        arns = _start(sfn, machine, 4)
        until("the 4 acquires decided", lambda: set(arns) <= set(pump.inv.arrivals))
        # Recorded by the arrivals group, granted by the semaphore's on the wake-up it sent.
        until("one granted", lambda: len(pump.inv.grants) == 1)
        assert room.counter(ddb, unique_name, unique_name)["held"] == 1  # 1 at a time now
        room.send(sqs, url, {"op": "limit", "semaphore": unique_name, "limit": 4}, "high")
        described = [wait_until_ended(sfn, a, timeout=60) for a in arns]
    assert [d["status"] for d in described] == ["SUCCEEDED"] * 4
    _assert_invariants(pump)
    assert pump.inv.stuck == 0
    assert room.counter(ddb, unique_name, unique_name)["limit"] == 4


def test_reclaim_frees_only_a_stopped_run(emulator: Emulator, unique_name: str) -> None:
    """A FAILED-style event for a RUNNING holder frees nothing; after the execution is
    stopped, the event (or one sweep) frees it and the next waiter gets the slot."""
    machine, url = _deploy(emulator, unique_name, limit=1, seconds=30)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    with room.Pump(emulator, unique_name, url) as pump:
        holder, waiter = _start(sfn, machine, 2)

        def held() -> list[str]:
            return room.holder_items(ddb, unique_name, unique_name)

        until(
            "the holder holds, the waiter waits",
            lambda: set(pump.inv.arrivals) == {holder, waiter} and held() == [holder],
        )
        stale = {"op": "reclaim", "semaphore": unique_name, "execution": holder}
        room.send(sqs, url, stale, "stale")
        until("the stale reclaim decided", lambda: queue_settled(sqs, url))
        assert room.holder_items(ddb, unique_name, unique_name) == [holder]  # still RUNNING
        sfn.stop_execution(executionArn=holder)  # ends without releasing (abort)
        wait_until_ended(sfn, holder)  # the emulator shows the stop a moment later
        room.send(sqs, url, {"op": "sweep", "semaphore": unique_name}, "sweep-1")
        until("the sweep gives the slot to the waiter", lambda: held() == [waiter])
        sfn.stop_execution(executionArn=waiter)
        wait_until_ended(sfn, waiter)  # the emulator shows the stop a moment later
        room.send(sqs, url, {"op": "reclaim", "semaphore": unique_name, "execution": waiter}, "r2")
        until("the reclaim frees the waiter's slot", lambda: held() == [])
    assert [r["execution"] for r in pump.inv.reclaimed] == [holder, waiter]
    assert room.holder_items(ddb, unique_name, unique_name) == []
    assert room.counter(ddb, unique_name, unique_name)["held"] == 0
    _assert_invariants(pump)


def test_sweep_frees_holders_that_can_never_be_described(
    emulator: Emulator, unique_name: str
) -> None:
    machine, url = _deploy(emulator, unique_name, limit=2, seconds=30)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    prefix = machine.replace(":stateMachine:", ":execution:") + ":"
    with room.Pump(emulator, unique_name, url, own_prefixes=(prefix,)) as pump:
        (mine,) = _start(sfn, machine, 1)
        until(
            "mine holds a slot", lambda: room.holder_items(ddb, unique_name, unique_name) == [mine]
        )
        # A holder whose key is not one of this deployment's executions (foreign).
        foreign = "arn:aws:states:us-east-1:123456789012:execution:elsewhere:x"
        ddb.put_item(
            TableName=unique_name,
            Item={
                "id": {"S": f"{unique_name}#h#{foreign}"},
                "holder_of": {"S": unique_name},
                "execution": {"S": foreign},
                "run": {"S": "0" * 64},
                "seq": {"N": "999"},
                "granted": {"N": "0"},
            },
        )
        ddb.update_item(
            TableName=unique_name,
            Key={"id": {"S": unique_name}},
            UpdateExpression="ADD held :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        room.send(sqs, url, {"op": "sweep", "semaphore": unique_name}, "sweep")
        until("the sweep decided", lambda: queue_settled(sqs, url))
        sfn.stop_execution(executionArn=mine)
    assert pump.inv.reclaimed == [{"execution": foreign, "reason": "foreign"}]
    assert room.holder_items(ddb, unique_name, unique_name) == [mine]


def test_redriven_execution_without_its_slot_is_refused(
    emulator: Emulator, unique_name: str
) -> None:
    """Protocol level (moto has no RedriveExecution): the RUNNING-again event of an execution
    whose slot was reclaimed stops it; one that still holds its slot keeps it."""
    machine, url = _deploy(emulator, unique_name, limit=1, seconds=30)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    with room.Pump(emulator, unique_name, url) as pump:
        holder, other = _start(sfn, machine, 2)
        until(
            "the holder holds, the other waits",
            lambda: (
                set(pump.inv.arrivals) == {holder, other}
                and room.holder_items(ddb, unique_name, unique_name) == [holder]
            ),
        )
        # Still holds: a redrive event changes nothing.
        room.send(sqs, url, {"op": "redriven", "semaphore": unique_name, "execution": holder}, "a")
        until("the holder's redrive decided", lambda: queue_settled(sqs, url))
        assert pump.inv.refused == []
        assert sfn.describe_execution(executionArn=holder)["status"] == "RUNNING"
        # Holds nothing (it is waiting, as a redriven run restarted inside the body would
        # be without a slot): refused.
        room.send(sqs, url, {"op": "redriven", "semaphore": unique_name, "execution": other}, "b")
        until("the waiter's redrive decided", lambda: queue_settled(sqs, url))
        sfn.stop_execution(executionArn=holder)
    # StopExecution was called for it (moto leaves a waiting execution RUNNING until its
    # token completes; AWS stops it at once).
    assert pump.inv.refused == [other]
    assert room.holder_items(ddb, unique_name, unique_name) == [holder]
