"""Helpers for the runtime tests: real task tokens from moto, fault-injecting clients."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from stepqueue.local.emulator import ACCOUNT_ID, REGION
from tests.support.waiting import until_value, wait_until_ended

ACCOUNT = ACCOUNT_ID


def client_error(code: str, op: str, status: int = 400, message: str = "injected") -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        op,
    )


def sqs_record(
    body: str, message_id: str | None = None, sent_seconds_ago: float = 0.0
) -> dict[str, Any]:
    """An SQS record as Lambda's event source mapping delivers it, its message sent
    ``sent_seconds_ago`` (a task's heartbeat clock starts then)."""
    sent_ms = int((time.time() - sent_seconds_ago) * 1000)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(sent_ms),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(sent_ms + 1),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-enrich",
        "awsRegion": REGION,
    }


def body(
    payload: Any = None,
    token: str = "token-1",
    heartbeat_seconds: int | None = None,
    execution: str = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders:e1",
) -> str:
    context: dict[str, Any] = {
        "workflow": "orders",
        "worker": "enrich",
        "state": "Enrich",
        "execution": execution,
    }
    if heartbeat_seconds is not None:
        context["heartbeatSeconds"] = heartbeat_seconds
    return json.dumps({"input": payload, "taskToken": token, "context": context})


def event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


@dataclass
class Call:
    op: str
    kwargs: dict[str, Any]
    at: float


@dataclass
class RecordingClient:
    """Wraps a Step Functions client (or nothing) recording calls; ``fault`` may raise."""

    inner: Any = None
    fault: Callable[[str, dict[str, Any]], Exception | None] | None = None
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _call(self, op: str, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append(Call(op, kwargs, time.monotonic()))
        if self.fault is not None:
            exc = self.fault(op, kwargs)
            if exc is not None:
                raise exc
        if self.inner is None:
            return {}
        return getattr(self.inner, op)(**kwargs)

    def send_task_heartbeat(self, **kw: Any) -> Any:
        return self._call("send_task_heartbeat", **kw)

    def send_task_success(self, **kw: Any) -> Any:
        return self._call("send_task_success", **kw)

    def send_task_failure(self, **kw: Any) -> Any:
        return self._call("send_task_failure", **kw)

    # SQS: the runtime changes the visibility of records it sends back to the queue.
    def change_message_visibility_batch(self, **kw: Any) -> Any:
        return self._call("change_message_visibility_batch", **kw)

    def ops(self, op: str, token: str | None = None) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.op == op and (token is None or c.kwargs.get("taskToken") == token)
            ]


@dataclass
class Task:
    execution_arn: str
    token: str
    record: dict[str, Any]


class Moto:
    """Clients for a running moto server plus helpers to create waiting callback tasks."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        kw: dict[str, Any] = {"endpoint_url": endpoint, "region_name": REGION}
        self.sfn = boto3.client("stepfunctions", **kw)
        self.sqs = boto3.client("sqs", **kw)
        self.ddb = boto3.client("dynamodb", **kw)
        self.iam = boto3.client("iam", **kw)
        self.role = self.iam.create_role(
            RoleName=f"r-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        self._machines: dict[Any, tuple[str, str]] = {}

    def machine(
        self, heartbeat_seconds: int | None = None, timeout_seconds: int = 60, after_wait: int = 0
    ) -> tuple[str, str]:
        """(state machine ARN, queue URL) of a one-task worker machine as the generator emits."""
        key = (heartbeat_seconds, timeout_seconds, after_wait)
        if key in self._machines:
            return self._machines[key]
        name = f"m{uuid.uuid4().hex[:10]}"
        queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        context: dict[str, Any] = {
            "workflow": "orders",
            "worker": "enrich",
            "state.$": "$$.State.Name",
            "execution.$": "$$.Execution.Id",
        }
        task: dict[str, Any] = {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": queue,
                "MessageBody": {"input.$": "$", "taskToken.$": "$$.Task.Token", "context": context},
            },
            "TimeoutSeconds": timeout_seconds,
        }
        if heartbeat_seconds is not None:
            context["heartbeatSeconds"] = heartbeat_seconds
            task["HeartbeatSeconds"] = heartbeat_seconds
        states: dict[str, Any] = {"Enrich": task}
        if after_wait:
            task["Next"] = "Linger"
            states["Linger"] = {"Type": "Wait", "Seconds": after_wait, "End": True}
        else:
            task["End"] = True
        definition = {"StartAt": "Enrich", "States": states}
        arn = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=self.role
        )["stateMachineArn"]
        self._machines[key] = (arn, queue)
        return arn, queue

    def start_task(self, payload: Any = None, **machine_kw: Any) -> Task:
        arn, queue = self.machine(**machine_kw)
        execution = self.sfn.start_execution(
            stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload or {})
        )["executionArn"]
        msg = until_value(
            f"the task message of {execution} arrived",
            lambda: self.sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1
            ).get("Messages", []),
            bool,
            timeout=20,
        )[0]
        self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=msg["ReceiptHandle"])
        token = json.loads(msg["Body"])["taskToken"]
        return Task(execution, token, sqs_record(msg["Body"], msg["MessageId"]))

    def start_waiting(self, seconds: int = 60) -> str:
        """An execution sitting in a Wait state (moto stops those at once; an execution
        blocked on a task token stays RUNNING after StopExecution until its callback)."""
        if "wait" not in self._machines:
            definition = {
                "StartAt": "W",
                "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": True}},
            }
            arn = self.sfn.create_state_machine(
                name=f"w{uuid.uuid4().hex[:10]}",
                definition=json.dumps(definition),
                roleArn=self.role,
            )["stateMachineArn"]
            self._machines["wait"] = (arn, "")
        arn = self._machines["wait"][0]
        return str(
            self.sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex)["executionArn"]
        )

    def wait_status(self, execution_arn: str, timeout: float = 15) -> dict[str, Any]:
        """The execution's description once it has ended."""
        return wait_until_ended(self.sfn, execution_arn, timeout)
