"""Reading a queue the way the end-to-end tests check that nothing is left in it."""

from __future__ import annotations

from typing import Any


def queue_depth(sqs: Any, url: str) -> int:
    """Messages in the queue, visible or in flight."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())
