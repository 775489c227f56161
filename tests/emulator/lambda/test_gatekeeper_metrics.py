"""The gatekeeper's metrics from its decisions run for real against the emulator's DynamoDB (a
table as modules/semaphore makes it); Step Functions and SQS are stubs, so each execution's
status is what the test says. (The lines' shape alone: tests/unit/lambda.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_gatekeeper import Message, entry, metrics
from stepqueue_gatekeeper.decide import Gatekeeper
from stepqueue_gatekeeper.store import Holder, holder_item

from testkit.waiting_room import create_table
from tests.support.gatekeeper_metrics import (
    FUNCTION,
    NOW_MS,
    SEMAPHORE_METRICS,
    StubSfn,
    StubSqs,
    directive,
    execution_arn,
)


@pytest.fixture(autouse=True)
def _function_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs as the gatekeeper function."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)


def test_a_sweep_reports_leaked_slots_and_the_oldest_running_holder_per_state_machine(
    ddb: Any, unique_name: str
) -> None:
    sem, table = unique_name, f"{unique_name}-table"
    create_table(ddb, table, {sem: 3})
    leaked = execution_arn("dev-orders", "gone")
    running = {
        execution_arn("dev-orders", "old"): NOW_MS - 7_200_000,
        execution_arn("dev-orders", "new"): NOW_MS - 60_000,
        execution_arn("dev-glue", "job"): NOW_MS - 1_000,
    }
    granted = {leaked: NOW_MS - 3_600_000, **running}
    for seq, (execution, at) in enumerate(granted.items()):
        ddb.put_item(TableName=table, Item=holder_item(sem, Holder(execution, "a" * 16, seq, at)))
    ddb.update_item(
        TableName=table,
        Key={"id": {"S": sem}},
        UpdateExpression="SET held = :h, head = :n, tail = :n, version = :v",
        ExpressionAttributeValues={":h": {"N": "4"}, ":n": {"N": "4"}, ":v": {"N": "1"}},
    )
    status = {leaked: "SUCCEEDED", **dict.fromkeys(running, "RUNNING")}
    keeper = Gatekeeper(
        ddb, StubSfn(status), StubSqs(), table=table, queue_url="q", clock=lambda: NOW_MS / 1000
    )

    outcome = keeper.process(sem, [Message("sweep", sem, "m1")])

    assert [r["execution"] for r in outcome.swept] == [leaked]
    assert outcome.kept_since == running
    assert (outcome.limit, outcome.held, outcome.waiting) == (3, 3, 0)
    snapshot = metrics.Snapshot(outcome.limit, outcome.held, outcome.waiting, 0.0)
    state, *holders = metrics.decided(sem, outcome, snapshot, NOW_MS)
    assert (state["Reclaimed"], state["LeakedSlotsReclaimed"], state["Holders"]) == (1, 1, 3)
    assert holders == [
        {
            "_aws": directive(["Function", "StateMachine"], ("OldestHolderSeconds", "Seconds")),
            "Function": FUNCTION,
            "StateMachine": machine,
            "OldestHolderSeconds": seconds,
        }
        for machine, seconds in (("dev-glue", 1.0), ("dev-orders", 7200.0))
    ]


def test_the_handler_prints_one_line_per_semaphore_with_the_head_of_the_lines_wait(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full semaphore: the arrival joins the line, and the line's head has waited since it
    was applied (the keeper's clock) until the line is written (the handler's)."""
    sem, table = unique_name, f"{unique_name}-table"
    create_table(ddb, table, {sem: 1})
    holder = execution_arn("dev-orders", "holds")
    ddb.put_item(TableName=table, Item=holder_item(sem, Holder(holder, "a" * 16, 0, NOW_MS)))
    ddb.update_item(
        TableName=table,
        Key={"id": {"S": sem}},
        UpdateExpression="SET held = :h, head = :n, tail = :n, version = :v",
        ExpressionAttributeValues={":h": {"N": "1"}, ":n": {"N": "1"}, ":v": {"N": "1"}},
    )
    keeper = Gatekeeper(
        ddb,
        StubSfn({}),
        StubSqs(),
        table=table,
        queue_url="q",
        clock=lambda: (NOW_MS - 42_000) / 1000,
    )
    monkeypatch.setattr(entry, "gatekeeper", lambda: keeper)
    monkeypatch.setattr(entry, "_now_ms", lambda: NOW_MS)
    acquire = {
        "op": "acquire",
        "semaphore": sem,
        "execution": execution_arn("dev-orders", "waits"),
        "acquire": "b" * 16,
        "token": "token-waits",
    }
    record = {
        "messageId": "m-acquire",
        "receiptHandle": "rh",
        "body": json.dumps(acquire),
        "attributes": {"MessageGroupId": sem, "ApproximateReceiveCount": "1"},
    }

    assert entry.handler({"Records": [record]}, None) == {"batchItemFailures": []}

    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    assert lines == [
        {
            "_aws": directive(["Function", "Semaphore"], *SEMAPHORE_METRICS),
            "Function": FUNCTION,
            "Semaphore": sem,
            "Holders": 1,
            "Limit": 1,
            "Waiters": 1,
            "OldestWaitSeconds": 42.0,
            "Granted": 0,
            "Released": 0,
            "Reclaimed": 0,
            "LeakedSlotsReclaimed": 0,
            "DeadWaiters": 0,
            "RedrivesRefused": 0,
            "GroupFailures": 0,
        }
    ]


def _raise(*args: Any) -> list[dict[str, Any]]:
    raise RuntimeError("throttled")
