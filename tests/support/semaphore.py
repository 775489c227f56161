"""Helpers for the semaphore tests on the shared emulator: a fresh semaphore table per test,
and what the waiting-room tests wait for."""

from __future__ import annotations

from typing import Any

from stepqueue.local.emulator import ACCOUNT_ID

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/stepqueue-test"  # moto does not enforce IAM


def create_table(ddb: Any, table: str, *semaphores: str) -> None:
    """The table and its items as Terraform creates them (contracts.md): holders = {}."""
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for name in semaphores:
        ddb.put_item(TableName=table, Item={"id": {"S": name}, "holders": {"M": {}}})


def holders(ddb: Any, table: str, semaphore: str) -> dict[str, Any]:
    item = ddb.get_item(TableName=table, Key={"id": {"S": semaphore}}, ConsistentRead=True)
    return dict(item["Item"]["holders"]["M"])


def acquire_posted(sfn: Any, execution_arn: str) -> bool:
    """The execution's waiting-room acquire has been posted to the gatekeeper's queue: its
    sendMessage.waitForTaskToken task was submitted."""
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return any(e["type"] == "TaskSubmitted" for e in events)


def queue_settled(sqs: Any, queue_url: str) -> bool:
    """Nothing waits in the gatekeeper's queue, visible or in flight: everything posted so far
    has been decided (the pump deletes a batch only after deciding it)."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return not any(int(v) for v in attributes.values())
