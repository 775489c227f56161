"""Moving a message that will never start to the start DLQ, with the reason attached.

The starter sends it itself rather than leaving it to SQS's redrive, which would move it after
``maxReceiveCount`` receives with no word of why. The body goes unchanged (a redrive back to
the start queue works as is); the reason rides in message attributes. Sent first, deleted
second: a failed send leaves the message in the start queue (retried, and SQS's own redrive
is the last resort), a failed delete leaves it to the event source mapping, which deletes
every record the invocation did not report failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stepqueue_aws import error_code

ERROR = "StepqueueError"  # the error code: Step Functions' (InvalidName ...) or Stepqueue.*
CAUSE = "StepqueueCause"  # its message, at most CAUSE_MAX characters
RECEIVES = "StepqueueReceiveCount"  # receives of the message before it was moved
SOURCE_MESSAGE = "StepqueueSourceMessageId"  # its message id in the start queue
WORKFLOW = "StepqueueWorkflow"  # the body's workflow, when it had one

MESSAGE_MAX_BYTES = 262_144  # SQS: body and attributes together
ATTRIBUTE_ROOM = 8_192  # what the attributes may take at most (cause included)
CAUSE_MAX = 1000


def attributes(
    code: str, cause: str, receives: int, message_id: str, workflow: str | None, body_bytes: int
) -> dict[str, dict[str, str]]:
    """The reason as SQS message attributes. The cause is cut to what fits beside the body."""
    room = MESSAGE_MAX_BYTES - body_bytes - 512  # the other attributes, names and types
    cause = _fit(cause, min(CAUSE_MAX, max(0, room) // 4))
    values = {
        ERROR: ("String", code[:256] or "Unknown"),
        RECEIVES: ("Number", str(receives)),
        SOURCE_MESSAGE: ("String", message_id[:128] or "unknown"),
    }
    if cause:
        values[CAUSE] = ("String", cause)
    if workflow:
        values[WORKFLOW] = ("String", workflow)
    return {
        name: {"DataType": kind, "StringValue": value} for name, (kind, value) in values.items()
    }


def _fit(text: str, max_chars: int) -> str:
    # SQS attribute strings take valid Unicode only; drop what cannot be encoded.
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return text if len(text) <= max_chars else text[: max(0, max_chars - 1)] + "…"


def dead_letter(
    sqs: Any,
    *,
    dlq_url: str,
    queue_url: str,
    record: dict[str, Any],
    message_attributes: dict[str, dict[str, str]],
    warn: Callable[..., None],
) -> bool:
    """Send the record's body to the DLQ, then delete it from the start queue. True once the
    DLQ holds it (the delete is a courtesy: the mapping deletes it too)."""
    try:
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=str(record.get("body", "")),
            MessageAttributes=message_attributes,
        )
    except Exception as exc:
        warn("not moved to the DLQ", extra={"error_code": error_code(exc)})
        return False
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=str(record.get("receiptHandle")))
    except Exception as exc:
        warn("moved to the DLQ, delete left to the mapping", extra={"error_code": error_code(exc)})
    return True
