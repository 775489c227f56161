"""The Lambda deadline, end to end: the real zip (stepqueue runtime + examples) run by the local
runner, which kills an invocation at its function timeout as Lambda does, against executions
on the emulator.

One batch holds a task that outlasts the function timeout and two short ones behind it. The
runtime keeps a margin before the deadline: the long task is failed with
``Stepqueue.DeadlineExceeded`` and the short ones go back to the queue at once, run in another
container and succeed; then the invocation is killed. Nothing reaches the DLQ that never ran,
no task ends in a (heartbeat) timeout, and the killed batch's records, delivered again, find
their tasks closed and are acknowledged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stepqueue.local.emulator import Emulator
from stepqueue.local.runner import Runner
from tests.support.waiting import until

TIMEOUT_S = 4  # the function timeout: the runtime's margin is 1 s of it
# Counted from the moment a message is queued, so it must cover a container's cold start on a
# loaded machine; 3 s was measured to time out there before the first heartbeat was sent.
HEARTBEAT_S = 10


def _machine(emulator: Emulator, name: str, queue_url: str, role: str) -> str:
    """One queued task as the generator emits it (heartbeatSeconds in the message context)."""
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {
                        "input.$": "$",
                        "taskToken.$": "$$.Task.Token",
                        "context": {
                            "workflow": "deadline",
                            "worker": "work",
                            "state.$": "$$.State.Name",
                            "execution.$": "$$.Execution.Id",
                            "heartbeatSeconds": HEARTBEAT_S,
                        },
                    },
                },
                "TimeoutSeconds": 120,
                "HeartbeatSeconds": HEARTBEAT_S,
                "End": True,
            }
        },
    }
    sfn = emulator.client("stepfunctions")
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
            "stateMachineArn"
        ]
    )


def _count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _failure(sfn: Any, arn: str) -> dict[str, Any]:
    for item in sfn.get_execution_history(executionArn=arn)["events"]:
        for key in ("taskFailedEventDetails", "executionFailedEventDetails"):
            if key in item:
                return dict(item[key])
    return {}


def test_deadline_reports_instead_of_being_killed(
    emulator: Emulator, lambda_zip: Path, unique_name: str
) -> None:
    sqs, lam, iam, sfn = (emulator.client(s) for s in ("sqs", "lambda", "iam", "stepfunctions"))
    dlq = sqs.create_queue(QueueName=f"{unique_name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    queue = sqs.create_queue(
        QueueName=unique_name, Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": "8"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role = iam.create_role(RoleName=unique_name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName=unique_name,
        Runtime="python3.11",
        Role=role,
        Handler="stepqueue_runtime.entry.handler",
        Code={"ZipFile": lambda_zip.read_bytes()},
        Timeout=TIMEOUT_S,
        MemorySize=128,
        Environment={"Variables": {"STEPQUEUE_HANDLER": "examples.common.sleep"}},
    )
    lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=unique_name,
        Enabled=False,
        BatchSize=3,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    machine = _machine(emulator, unique_name, queue, role)

    # The long task first in the queue, the short ones behind it: one batch of three.
    executions = []
    for number, seconds in enumerate((30, 0.1, 0.1)):
        started = sfn.start_execution(
            stateMachineArn=machine, name=f"e{number}", input=json.dumps({"seconds": seconds})
        )
        executions.append(started["executionArn"])
        until(
            f"the task message of e{number} queued",
            lambda: _count(sqs, queue) >= len(executions),
            timeout=20,
        )
    slow = executions[0]

    with Runner(emulator.endpoint, lambda_zip, function_prefix=unique_name) as runner:
        statuses: list[str] = []

        def settled() -> bool:
            runner.check()
            statuses[:] = [sfn.describe_execution(executionArn=a)["status"] for a in executions]
            return "RUNNING" not in statuses and _count(sqs, queue) == 0

        try:
            until("every execution ended and the queue drained", settled, 60)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; statuses {statuses}") from None
        metrics = runner.metrics()[unique_name]

    assert statuses == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert _failure(sfn, slow)["error"] == "Stepqueue.DeadlineExceeded"
    assert not any("Timeout" in _failure(sfn, a).get("error", "") for a in executions)
    assert _count(sqs, dlq) == 0
    # The first invocation was killed at the function timeout (the handler slept on).
    assert metrics.invoke_errors == 1
    assert metrics.deleted == 3  # each record deleted once: two after running, one found closed
