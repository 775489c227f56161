"""The runtime against real task tokens: executions on a moto server.

What moto does differently from AWS is listed in lambda_src/README.md.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from stepqueue_runtime import aws, entry, heartbeat

from tests.support import user_handlers
from tests.support.lambda_support import Moto, RecordingClient, client_error, event, sqs_record

H = "tests.support.user_handlers."


@pytest.fixture
def sfn(moto: Moto) -> RecordingClient:
    client = RecordingClient(inner=moto.sfn)
    aws.set_client(client)
    return client


def run(*records: dict[str, Any]) -> list[str]:
    response = entry.handler(event(*records), None)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def history_failure(moto: Moto, arn: str) -> dict[str, Any]:
    events = moto.sfn.get_execution_history(executionArn=arn)["events"]
    details = [e["taskFailedEventDetails"] for e in events if "taskFailedEventDetails" in e]
    assert details, [e["type"] for e in events]
    return dict(details[0])


def test_success_end_to_end(moto: Moto, sfn: RecordingClient, use_handler: Any) -> None:
    use_handler("examples.orders.enrich")
    task = moto.start_task({"order_id": "o1", "items": [{"price": 60, "qty": 2}]})
    assert run(task.record) == []
    desc = moto.wait_status(task.execution_arn)
    assert desc["status"] == "SUCCEEDED"
    assert json.loads(desc["output"]) == {
        "order_id": "o1",
        "item_count": 1,
        "total": 120.0,
        "tier": "gold",
    }


def test_handler_error_unicode_reaches_the_execution(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "unicode_error")
    task = moto.start_task({})
    assert run(task.record) == []
    desc = moto.wait_status(task.execution_arn)
    assert desc["status"] == "FAILED"
    failed = history_failure(moto, task.execution_arn)
    assert failed["error"] == "ValueError"
    # moto 5.2.5 drops the cause of SendTaskFailure (its backend takes no cause): check what
    # was sent, which the service accepted.
    (sent,) = sfn.ops("send_task_failure", task.token)
    assert json.loads(sent.kwargs["cause"])["errorMessage"] == "échec 💥 ñandú 日本語"


def test_chosen_error_name(moto: Moto, sfn: RecordingClient, use_handler: Any) -> None:
    use_handler("examples.orders.charge")
    task = moto.start_task({"order_id": "o2", "decline": True})
    assert run(task.record) == []
    assert moto.wait_status(task.execution_arn)["status"] == "FAILED"
    assert history_failure(moto, task.execution_arn)["error"] == "Orders.PaymentDeclined"


def test_output_too_large(moto: Moto, sfn: RecordingClient, use_handler: Any) -> None:
    use_handler("examples.reports.render")
    task = moto.start_task({"rows": 8000})
    assert run(task.record) == []
    assert moto.wait_status(task.execution_arn)["status"] == "FAILED"
    assert history_failure(moto, task.execution_arn)["error"] == "Stepqueue.OutputTooLarge"


def test_moto_answers_finished_tokens_with_invalid_token(moto: Moto) -> None:
    """What moto 5.2.5 does (measured; README of lambda_src): once the execution has ended,
    heartbeat and success answer InvalidToken (AWS: TaskTimedOut); a heartbeat for a running
    task without HeartbeatSeconds also answers InvalidToken (AWS accepts it)."""
    task = moto.start_task({})
    with pytest.raises(Exception) as running:
        moto.sfn.send_task_heartbeat(taskToken=task.token)
    assert aws.error_code(running.value) == "InvalidToken"
    moto.sfn.send_task_success(taskToken=task.token, output="{}")
    assert moto.wait_status(task.execution_arn)["status"] == "SUCCEEDED"
    for call in (
        lambda: moto.sfn.send_task_heartbeat(taskToken=task.token),
        lambda: moto.sfn.send_task_success(taskToken=task.token, output="{}"),
    ):
        with pytest.raises(Exception) as finished:
            call()
        assert aws.error_code(finished.value) == "InvalidToken"


def test_duplicate_delivery_of_finished_task_does_not_rerun(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "by_input")
    user_handlers.RUNS.clear()
    task = moto.start_task({"n": 1}, heartbeat_seconds=30)
    assert run(task.record) == []
    assert moto.wait_status(task.execution_arn)["status"] == "SUCCEEDED"
    # SQS delivers it again (at-least-once), alone and twice in one batch.
    duplicate = dict(task.record, messageId="dup-1")
    assert run(duplicate) == []
    assert run(dict(task.record, messageId="dup-2"), dict(task.record, messageId="dup-3")) == []
    assert user_handlers.RUNS == [("by_input", {"n": 1})]
    assert len(sfn.ops("send_task_success")) == 1
    desc = moto.sfn.describe_execution(executionArn=task.execution_arn)
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"]) == {"n": 1}


def test_duplicate_without_heartbeat_seconds_is_harmless(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    """Without HeartbeatSeconds moto cannot tell a closed task at the probe: the handler runs
    again (that is what ctx.idempotency_key is for), and the callback is acknowledged."""
    use_handler(H + "by_input")
    task = moto.start_task({"n": 2})
    assert run(task.record) == []
    assert moto.wait_status(task.execution_arn)["status"] == "SUCCEEDED"
    assert run(dict(task.record, messageId="dup")) == []
    desc = moto.sfn.describe_execution(executionArn=task.execution_arn)
    assert desc["status"] == "SUCCEEDED" and json.loads(desc["output"]) == {"n": 2}


def test_throttled_success_then_redelivery(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    use_handler(H + "ok")
    tasks = [moto.start_task({"i": i}) for i in range(3)]
    throttled = tasks[1].token

    def fault(op: str, kw: dict[str, Any]) -> Exception | None:
        if op == "send_task_success" and kw["taskToken"] == throttled:
            return client_error("ThrottlingException", op, message="Rate exceeded")
        return None

    sfn.fault = fault
    assert run(*(t.record for t in tasks)) == [tasks[1].record["messageId"]]
    assert moto.wait_status(tasks[0].execution_arn)["status"] == "SUCCEEDED"
    assert moto.wait_status(tasks[2].execution_arn)["status"] == "SUCCEEDED"
    assert moto.sfn.describe_execution(executionArn=tasks[1].execution_arn)["status"] == "RUNNING"
    sfn.fault = None  # SQS redelivers after the visibility timeout
    assert run(tasks[1].record) == []
    assert moto.wait_status(tasks[1].execution_arn)["status"] == "SUCCEEDED"


def test_heartbeats_keep_a_hanging_task_alive(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    """HeartbeatSeconds=2, the handler hangs 3.5 s: alive only thanks to the heartbeats."""
    use_handler(H + "hang")
    task = moto.start_task({"seconds": 3.5}, heartbeat_seconds=2)
    assert run(task.record) == []
    assert moto.wait_status(task.execution_arn)["status"] == "SUCCEEDED"
    assert len(sfn.ops("send_task_heartbeat", task.token)) >= 1 + 3  # ~5 at 2/3 s


def test_without_heartbeats_the_same_task_times_out(
    moto: Moto, sfn: RecordingClient, use_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control for the test above: proof that moto enforces HeartbeatSeconds."""
    monkeypatch.setattr(heartbeat, "heartbeat_interval", lambda seconds: 3600.0)
    use_handler(H + "hang")
    task = moto.start_task({"seconds": 3.5}, heartbeat_seconds=2)
    assert run(task.record) == []  # SendTaskSuccess finds the task closed: acknowledged
    desc = moto.wait_status(task.execution_arn)
    assert desc["status"] == "FAILED"  # moto reports States.Timeout


def test_throttled_record_comes_back_before_its_heartbeat_timeout(
    moto: Moto, sfn: RecordingClient, use_handler: Any
) -> None:
    """HeartbeatSeconds=3, a queue visibility timeout of 30 s: redelivered only after the
    visibility timeout, the task would have timed out. The runtime makes the record visible
    again after 1 s (ChangeMessageVisibility on the queue named by eventSourceARN), so the
    second delivery's probe and callback arrive in time."""
    use_handler(H + "ok")
    aws.set_client(moto.sqs, aws.SQS)
    arn, queue = moto.machine(heartbeat_seconds=3)
    execution = moto.sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    queue_arn = moto.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]

    def receive(wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            messages = moto.sqs.receive_message(
                QueueUrl=queue, MessageSystemAttributeNames=["All"], WaitTimeSeconds=1
            ).get("Messages", [])
            if messages:
                m = messages[0]
                record = sqs_record(m["Body"], m["MessageId"])
                record["receiptHandle"] = m["ReceiptHandle"]
                record["eventSourceARN"] = queue_arn
                record["attributes"]["ApproximateReceiveCount"] = m["Attributes"][
                    "ApproximateReceiveCount"
                ]
                return record
        raise AssertionError("no message")

    first = receive(10)
    sfn.fault = lambda op, kw: (
        client_error("ThrottlingException", op) if op == "send_task_success" else None
    )
    assert run(first) == [first["messageId"]]
    sfn.fault = None
    second = receive(2.5)  # not 30 s
    assert second["attributes"]["ApproximateReceiveCount"] == "2"
    assert run(second) == []
    desc = moto.wait_status(execution)
    assert desc["status"] == "SUCCEEDED", desc
