"""Reclaim: real-shaped status-change events into the reclaimer Lambda, and the sweep against
real executions on the emulator. Holders are written with the generated acquire request."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from stepqueue_reclaimer import entry, sweep

from stepqueue.local.emulator import ACCOUNT_ID, REGION, Emulator
from testkit.semaphore_requests import (
    SemaphoreRequests,
    iso_time,
    requests_for_limit,
)
from tests.support.semaphore import ROLE_ARN, create_table, holders
from tests.support.waiting import wait_until_ended

START = "2026-11-23T12:00:00.000Z"


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{machine}:{name}"


def status_change(arn: str, status: str) -> dict[str, Any]:
    """The EventBridge event Step Functions emits ("Step Functions Execution Status Change")."""
    machine, name = arn.split(":")[-2:]
    ended = status != "RUNNING"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT_ID,
        "time": "2026-11-23T12:00:05Z",
        "region": REGION,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{machine}",
            "name": name,
            "status": status,
            "startDate": 1795435200000,
            "stopDate": 1795435205000 if ended else None,
            "input": "{}",
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            "error": {"TIMED_OUT": "States.Timeout", "FAILED": "Body.Broken"}.get(status),
            "cause": "on purpose" if status == "FAILED" else None,
            "redriveCount": 0,
            "redriveStatus": "REDRIVABLE" if status in ("FAILED", "ABORTED") else "NOT_REDRIVABLE",
        },
    }


@pytest.fixture
def semaphore(
    emulator: Emulator, ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> SemaphoreRequests:
    """A fresh table + semaphore, and the reclaimer Lambda's environment pointed at them."""
    requests, _ = requests_for_limit(5, table=unique_name, name=unique_name)
    create_table(ddb, unique_name, unique_name)
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SEMAPHORE_TABLE", unique_name)
    monkeypatch.setattr(entry, "_clients", {})  # fresh clients bound to this environment
    return requests


def _hold(ddb: Any, requests: SemaphoreRequests, *arns: str) -> None:
    for arn in arns:
        ddb.update_item(**requests.acquire_kwargs(arn, START))


def _held(ddb: Any, requests: SemaphoreRequests) -> set[str]:
    return set(holders(ddb, requests.table, requests.semaphore_key["id"]["S"]))


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_abnormal_end_reclaims_only_that_slot(
    ddb: Any, semaphore: SemaphoreRequests, status: str
) -> None:
    dead, alive = execution_arn("m", "dead"), execution_arn("m", "alive")
    _hold(ddb, semaphore, dead, alive)
    reply = entry.handler(status_change(dead, status), None)
    assert reply["mode"] == "event"
    assert reply["reclaimed"] == [
        {"semaphore": semaphore.semaphore_key["id"]["S"], "execution": dead}
    ]
    assert _held(ddb, semaphore) == {alive}


def test_running_status_is_ignored(ddb: Any, semaphore: SemaphoreRequests) -> None:
    arn = execution_arn("m", "running")
    _hold(ddb, semaphore, arn)
    assert entry.handler(status_change(arn, "RUNNING"), None)["reclaimed"] == []
    assert _held(ddb, semaphore) == {arn}


def test_succeeded_touches_no_other_slot(ddb: Any, semaphore: SemaphoreRequests) -> None:
    # A succeeded execution went through its release state, so it holds nothing; the event
    # (which the rule does not even route) must leave every other holder alone.
    done, alive = execution_arn("m", "done"), execution_arn("m", "alive")
    _hold(ddb, semaphore, alive)
    assert entry.handler(status_change(done, "SUCCEEDED"), None)["reclaimed"] == []
    assert _held(ddb, semaphore) == {alive}


def test_duplicate_event_is_idempotent(ddb: Any, semaphore: SemaphoreRequests) -> None:
    dead = execution_arn("m", "twice")
    _hold(ddb, semaphore, dead)
    event = status_change(dead, "FAILED")
    assert len(entry.handler(event, None)["reclaimed"]) == 1
    assert entry.handler(event, None)["reclaimed"] == []  # EventBridge delivers at least once
    assert _held(ddb, semaphore) == set()


def test_reclaim_covers_every_semaphore_the_execution_holds(
    ddb: Any, semaphore: SemaphoreRequests, unique_name: str
) -> None:
    # A shared semaphore lives in the same table: one event frees both slots.
    other, _ = requests_for_limit(3, table=unique_name, name=f"{unique_name}-b")
    ddb.put_item(TableName=unique_name, Item={**other.semaphore_key, "holders": {"M": {}}})
    dead = execution_arn("m", "both")
    _hold(ddb, semaphore, dead)
    _hold(ddb, other, dead)
    reply = entry.handler(status_change(dead, "ABORTED"), None)
    assert len(reply["reclaimed"]) == 2
    assert _held(ddb, semaphore) == set() and _held(ddb, other) == set()


WAITING = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}}}


def test_sweep_against_real_executions(
    ddb: Any, sfn: Any, semaphore: SemaphoreRequests, unique_name: str
) -> None:
    machine = sfn.create_state_machine(
        name=unique_name, definition=json.dumps(WAITING), roleArn=ROLE_ARN
    )["stateMachineArn"]
    started = [sfn.start_execution(stateMachineArn=machine, name=f"e{i}") for i in range(3)]
    arns = [s["executionArn"] for s in started]
    for s in started:  # the exact acquire each execution's first state sends
        ddb.update_item(
            **semaphore.acquire_kwargs(s["executionArn"], iso_time(s["startDate"].timestamp()))
        )
    # A holder whose execution never existed (e.g. a deleted state machine's) is reclaimed too.
    ghost = execution_arn(unique_name, "ghost")
    ddb.update_item(**semaphore.acquire_kwargs(ghost, START))
    try:
        sfn.stop_execution(executionArn=arns[1], error="Test.Stop", cause="stopped")
        # The emulator's execution thread reflects a stop a moment later, not in the call.
        assert wait_until_ended(sfn, arns[1])["status"] == "ABORTED"
        summary = sweep(ddb, sfn, semaphore.table)
        assert summary["errors"] == []
        assert {r["execution"] for r in summary["reclaimed"]} == {arns[1], ghost}
        assert _held(ddb, semaphore) == {arns[0], arns[2]}
        # Idempotent: a second sweep finds nothing more to do.
        assert sweep(ddb, sfn, semaphore.table)["reclaimed"] == []
    finally:
        for arn in (arns[0], arns[2]):
            sfn.stop_execution(executionArn=arn)
