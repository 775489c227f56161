"""Fixtures of the starter tests: a start queue, its DLQ and a state machine on the session's
emulator (moto), the starter's environment pointing at them, and a `deliver` that does the
event source mapping's job for one batch (receive, invoke, delete what did not fail)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError
from stepqueue_aws import inject_client
from stepqueue_starter import entry

from stepqueue.local.emulator import Emulator
from stepqueue.local.runner import sqs_event_record
from tests.support.waiting import until_value


@dataclass
class StartQueue:
    sqs: Any
    sfn: Any
    queue_url: str
    dlq_url: str
    machines: dict[str, str]  # workflow -> state machine ARN
    sent: list[str] = field(default_factory=list)

    def send(self, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)

    def receive(self, url: str | None = None, wait_s: int = 0) -> list[dict[str, Any]]:
        return list(
            self.sqs.receive_message(
                QueueUrl=url or self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        )

    def depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())

    def executions(self, workflow: str) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.machines[workflow])["executions"])


def record(message: dict[str, Any], queue_arn: str = "arn:aws:sqs:x:1:start") -> dict[str, Any]:
    """An SQS message as the event source mapping hands it to Lambda."""
    return sqs_event_record(message, queue_arn)


@pytest.fixture
def start_queue(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, unique_name: str
) -> Iterator[StartQueue]:
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)
    sqs, sfn = emulator.client("sqs"), emulator.client("stepfunctions")
    role = emulator.client("iam").create_role(
        RoleName=f"{unique_name}-role", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    arn = sfn.create_state_machine(
        name=f"{unique_name}-orders", definition=definition, roleArn=role
    )["stateMachineArn"]
    missing = arn.replace(f"{unique_name}-orders", f"{unique_name}-deleted")
    dlq = sqs.create_queue(QueueName=f"{unique_name}-start-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName=f"{unique_name}-start")["QueueUrl"]
    machines = {"orders": arn, "gone": missing}
    monkeypatch.setenv("STATE_MACHINE_ARNS", json.dumps(machines))
    monkeypatch.setenv("START_QUEUE_URL", queue)
    monkeypatch.setenv("START_DLQ_URL", dlq)
    monkeypatch.setenv("STARTS_PER_SECOND", "50")
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "5")
    monkeypatch.setenv("MAX_RETRY_DELAY_SECONDS", "2")
    monkeypatch.setattr(entry, "_pace", {})
    inject_client(entry._clients, "sqs", sqs)
    inject_client(entry._clients, "stepfunctions", sfn)
    yield StartQueue(sqs, sfn, queue, dlq, machines)
    inject_client(entry._clients, "sqs", None)
    inject_client(entry._clients, "stepfunctions", None)


Deliver = Callable[..., dict[str, Any]]


@pytest.fixture
def deliver(start_queue: StartQueue) -> Deliver:
    """One batch through the starter as the mapping runs it; returns the handler's answer."""

    def run(context: Any = None, *, delete: bool = True) -> dict[str, Any]:
        # Short polls: moto's long poll wakes on sends, not on a visibility running out.
        messages = until_value("a message to deliver", start_queue.receive, bool, timeout=5)
        reply = entry.handler({"Records": [record(m) for m in messages]}, context)
        failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if delete and done:
            start_queue.sqs.delete_message_batch(
                QueueUrl=start_queue.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        return reply

    return run


def body(name: str | None = None, payload: Any = None, workflow: str = "orders") -> dict[str, Any]:
    return {"workflow": workflow, "name": name or uuid.uuid4().hex, "input": payload or {}}


def client_error(code: str, op: str, status: int = 400, message: str = "injected") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        op,
    )
