"""Helpers for the semaphore tests on the shared emulator: what the waiting-room tests wait
for."""

from __future__ import annotations

from typing import Any


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
