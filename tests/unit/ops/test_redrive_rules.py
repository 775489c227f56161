"""Redrive's rules without the emulator: what is unreadable, and that a failed send or delete
never loses a message (in-memory stand-ins for SQS and Step Functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepqueue.ops.redrive import Place, RedriveError, redrive

PLACE = Place("orders", "enrich", "queue", "dlq")
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:orders-enrich-dlq"


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class FakeSqs:
    def __init__(self, bodies: list[str], *, fail_send: bool = False, fail_delete: bool = False):
        self.dlq = {f"m{i}": body for i, body in enumerate(bodies)}
        self.queue: list[str] = []
        self.visible_again: list[str] = []
        self.fail_send, self.fail_delete = fail_send, fail_delete
        self.handed_out = False

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        if QueueUrl == "queue":
            policy = {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}
            return {"Attributes": {"RedrivePolicy": json.dumps(policy)}}
        return {"Attributes": {"QueueArn": DLQ_ARN}}

    def receive_message(self, **_: Any) -> dict[str, Any]:
        if self.handed_out:
            return {}
        self.handed_out = True
        return {
            "Messages": [
                {"MessageId": mid, "ReceiptHandle": f"h-{mid}", "Body": body}
                for mid, body in self.dlq.items()
            ]
        }

    def send_message(self, QueueUrl: str, MessageBody: str, **_: Any) -> None:
        if self.fail_send:
            raise _error("InternalError", "SendMessage")
        self.queue.append(MessageBody)

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:
        if self.fail_delete:
            raise _error("InternalError", "DeleteMessage")
        del self.dlq[ReceiptHandle.removeprefix("h-")]

    def change_message_visibility_batch(self, QueueUrl: str, Entries: list[Any]) -> None:
        self.visible_again += [e["ReceiptHandle"] for e in Entries]


class FakeSfn:
    def __init__(self, answers: dict[str, str | None]):
        self.answers = answers  # token -> error code, None when open

    def send_task_heartbeat(self, taskToken: str) -> None:
        code = self.answers[taskToken]
        if code is not None:
            raise _error(code, "SendTaskHeartbeat")


def _task(token: str, workflow: str = "orders", worker: str = "enrich") -> str:
    context = {"workflow": workflow, "worker": worker, "execution": f"arn:exec:{token}"}
    return json.dumps({"taskToken": token, "input": {}, "context": context})


def test_what_cannot_be_probed_is_left_and_named() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    bodies = [
        deep,
        json.dumps(["a list"]),
        _task("other", worker="charge"),
        _task("throttled"),
        _task("gone"),
        _task("open"),
    ]
    sqs = FakeSqs(bodies)
    sfn = FakeSfn({"throttled": "ThrottlingException", "gone": "TaskTimedOut", "open": None})
    report = redrive(sqs, sfn, PLACE, move=True)
    assert (report.examined, report.live, report.dead, report.unreadable) == (6, 1, 1, 4)
    assert report.moved == 1 and sqs.queue == [_task("open")]
    assert report.dead_executions == ["arn:exec:gone (TaskTimedOut)"]
    assert any("orders/charge" in p for p in report.problems)
    assert any("ThrottlingException" in p for p in report.problems)
    # Everything but the moved one is still in the DLQ and visible again.
    assert sorted(sqs.dlq) == ["m0", "m1", "m2", "m3", "m4"]
    assert sorted(sqs.visible_again) == ["h-m0", "h-m1", "h-m2", "h-m3", "h-m4"]


def test_a_failed_send_or_delete_loses_nothing() -> None:
    sqs = FakeSqs([_task("open")], fail_send=True)
    report = redrive(sqs, FakeSfn({"open": None}), PLACE, move=True)
    assert report.move_failed == 1 and report.moved == 0
    assert sqs.dlq == {"m0": _task("open")} and sqs.visible_again == ["h-m0"]

    sqs = FakeSqs([_task("open")], fail_delete=True)
    report = redrive(sqs, FakeSfn({"open": None}), PLACE, move=True)
    assert report.moved == 1 and report.sent_not_deleted == 1
    assert sqs.queue == [_task("open")] and "m0" in sqs.dlq  # a copy on both sides


def test_dry_run_moves_nothing_and_delete_dead_needs_yes() -> None:
    sqs = FakeSqs([_task("open"), _task("gone")])
    report = redrive(sqs, FakeSfn({"open": None, "gone": "InvalidToken"}), PLACE, move=False)
    assert report.dry_run and (report.live, report.dead, report.moved) == (1, 1, 0)
    assert sqs.queue == [] and len(sqs.dlq) == 2
    assert "would move 1" in report.summary() and "left in the DLQ" in report.summary()
    with pytest.raises(RedriveError, match="needs --yes"):
        redrive(sqs, FakeSfn({}), PLACE, move=False, delete_dead=True)
