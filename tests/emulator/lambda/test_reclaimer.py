"""Reclaimer: real-shaped EventBridge events, and the sweep against real executions on moto."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from stepqueue_reclaimer import entry, reclaim_execution, sweep

from tests.support.lambda_support import ACCOUNT, REGION, Moto


def status_change(execution_arn: str, status: str) -> dict[str, Any]:
    """The event Step Functions sends to EventBridge (AWS docs, "Step Functions Execution
    Status Change"), with this execution's ARN."""
    machine, name = execution_arn.split(":")[-2:]
    machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{machine}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": "2026-11-23T12:00:05Z",
        "region": REGION,
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": machine_arn,
            "name": name,
            "status": status,
            "startDate": 1795435200000,
            "stopDate": 1795435205000,
            "input": "{}",
            "output": None,
            "inputDetails": {"included": True},
            "outputDetails": None,
            "error": "States.Timeout" if status == "TIMED_OUT" else None,
            "cause": None,
            "redriveCount": 0,
            "redriveStatus": "NOT_REDRIVABLE",
            "redriveStatusReason": "Execution is RUNNING and cannot be redriven",
        },
    }


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-11-23T12:05:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/stepqueue-reclaimer-sweep"],
        "detail": {},
    }


@pytest.fixture
def table(moto: Moto) -> str:
    name = f"sem-{uuid.uuid4().hex[:8]}"
    moto.ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for sem in ("orders", "glue-jobs", "empty"):
        moto.ddb.put_item(TableName=name, Item={"id": {"S": sem}, "holders": {"M": {}}})
    return name


@pytest.fixture
def lambda_env(moto: Moto, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reclaimer Lambda as deployed: env SEMAPHORE_TABLE, endpoint from AWS_ENDPOINT_URL."""
    monkeypatch.setenv("SEMAPHORE_TABLE", table)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setattr(entry, "_clients", {})


def acquire(moto: Moto, table: str, sem: str, arn: str, limit: int = 10) -> None:
    """The generated acquire request (docs/contracts.md), made directly."""
    moto.ddb.update_item(
        TableName=table,
        Key={"id": {"S": sem}},
        UpdateExpression="SET #h.#e = :t",
        ConditionExpression="attribute_exists(#h.#e) OR size(#h) < :limit",
        ExpressionAttributeNames={"#h": "holders", "#e": arn},
        ExpressionAttributeValues={
            ":t": {"S": "2026-11-23T12:00:00Z"},
            ":limit": {"N": str(limit)},
        },
    )


def holders(moto: Moto, table: str, sem: str) -> set[str]:
    item = moto.ddb.get_item(TableName=table, Key={"id": {"S": sem}}, ConsistentRead=True)
    return set(item["Item"]["holders"]["M"])


def fake_arn(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:{name}"


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_status_change_event_reclaims_every_semaphore(
    status: str, moto: Moto, table: str, lambda_env: None
) -> None:
    dead, alive = fake_arn("dead-" + status), fake_arn("alive")
    for sem in ("orders", "glue-jobs"):
        acquire(moto, table, sem, dead)
        acquire(moto, table, sem, alive)
    result = entry.handler(status_change(dead, status), None)
    assert result["mode"] == "event"
    assert sorted(r["semaphore"] for r in result["reclaimed"]) == ["glue-jobs", "orders"]
    assert holders(moto, table, "orders") == {alive}
    assert holders(moto, table, "glue-jobs") == {alive}
    # Idempotent: the same event again (EventBridge delivers at least once).
    assert entry.handler(status_change(dead, status), None)["reclaimed"] == []


def test_running_status_is_ignored(moto: Moto, table: str, lambda_env: None) -> None:
    arn = fake_arn("running")
    acquire(moto, table, "orders", arn)
    assert entry.handler(status_change(arn, "RUNNING"), None)["reclaimed"] == []
    assert holders(moto, table, "orders") == {arn}


def test_unknown_event_is_ignored(lambda_env: None) -> None:
    assert entry.handler({"detail-type": "Something", "source": "x"}, None)["mode"] == "ignored"


def test_sweep_against_real_executions(moto: Moto, table: str, lambda_env: None) -> None:
    running = moto.start_task({}).execution_arn  # waits for its task token: RUNNING
    aborted = moto.start_waiting()
    moto.sfn.stop_execution(executionArn=aborted)
    timed_out = moto.start_task({}, timeout_seconds=1).execution_arn  # ends FAILED (States.Timeout)
    finished_task = moto.start_task({})
    moto.sfn.send_task_success(taskToken=finished_task.token, output="{}")
    succeeded = finished_task.execution_arn
    assert moto.wait_status(succeeded)["status"] == "SUCCEEDED"
    assert moto.wait_status(aborted)["status"] == "ABORTED"
    assert moto.wait_status(timed_out)["status"] == "FAILED"
    missing = fake_arn("never-existed")
    for arn in (running, aborted, succeeded, timed_out, missing):
        acquire(moto, table, "orders", arn)
    acquire(moto, table, "glue-jobs", aborted)

    summary = entry.handler(scheduled_event(), None)
    assert summary["mode"] == "sweep" and summary["errors"] == []
    reclaimed = {(r["semaphore"], r["execution"]) for r in summary["reclaimed"]}
    assert reclaimed == {
        ("orders", aborted),
        ("orders", succeeded),
        ("orders", timed_out),
        ("orders", missing),
        ("glue-jobs", aborted),
    }
    assert summary["kept"] == 1 and summary["holders"] == 6 and summary["semaphores"] == 3
    assert holders(moto, table, "orders") == {running}
    # A second sweep finds nothing to do.
    again = sweep(moto.ddb, moto.sfn, table)
    assert again["reclaimed"] == [] and again["kept"] == 1


def test_late_acquire_after_event_is_caught_by_sweep(moto: Moto, table: str) -> None:
    """The late-acquire race: the reclaim event ran before the dead execution's acquire
    landed. The event found nothing; the sweep reclaims it."""
    dead = moto.start_waiting()
    moto.sfn.stop_execution(executionArn=dead)
    assert moto.wait_status(dead)["status"] == "ABORTED"
    assert reclaim_execution(moto.ddb, table, dead) == []
    acquire(moto, table, "orders", dead)  # lands late
    summary = sweep(moto.ddb, moto.sfn, table)
    assert [r["execution"] for r in summary["reclaimed"]] == [dead]
    assert holders(moto, table, "orders") == set()


def test_reclaim_races_release_and_itself(moto: Moto, table: str) -> None:
    """A release and two reclaimers on one holder at once: no errors, holder gone, the
    other holder untouched."""
    arn = fake_arn("racing")
    other = fake_arn("bystander")
    errors: list[BaseException] = []

    def release() -> None:
        moto.ddb.update_item(
            TableName=table,
            Key={"id": {"S": "orders"}},
            UpdateExpression="REMOVE #h.#e",
            ExpressionAttributeNames={"#h": "holders", "#e": arn},
        )

    def guarded(fn: Any) -> Any:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        return run

    def reclaim() -> None:
        reclaim_execution(moto.ddb, table, arn)

    for _ in range(5):
        acquire(moto, table, "orders", arn)
        acquire(moto, table, "orders", other)
        threads = [threading.Thread(target=guarded(j)) for j in (release, reclaim, reclaim)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert holders(moto, table, "orders") == {other}
