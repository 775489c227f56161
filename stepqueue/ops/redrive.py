"""Move a worker's dead-letter messages back to its queue, skipping tasks already closed.

SQS's own StartMessageMoveTask moves everything (and the emulator has none): a message whose
execution has meanwhile timed out or stopped would run its handler again for nothing. Here each
message's task token is probed first with SendTaskHeartbeat: TaskTimedOut, TaskDoesNotExist or
InvalidToken means the task is closed (dead), success means it still waits (live).

- **Nothing is lost.** A live message is sent to the queue first and deleted from the DLQ only
  once the send succeeded; a failed delete leaves a copy in the DLQ (reported; the worker
  acknowledges the duplicate's closed token harmlessly).
- **Dead messages stay in the DLQ** unless `delete_dead` is asked for explicitly, and are
  counted and named (their executions) either way. So are messages that cannot be probed: not a
  task message, another worker's, a token the probe could not judge.
- **A dry run** (the default) receives and probes but moves and deletes nothing.
- Every message not moved or deleted is made visible again at the end, so the DLQ looks as
  before. The pairing is checked before anything moves: the queue's redrive policy must name
  this DLQ, so a message only ever goes back to the queue it came from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

CLOSED = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
MAX_BODY_BYTES = 262_144  # SQS's own message limit: anything larger is not ours
MAX_TOKEN_CHARS = 4096
HOLD_SECONDS = 300  # received messages stay hidden this long while the run decides
EXAMPLES = 20  # executions named per outcome in the report


class RedriveError(RuntimeError):
    """A refusal, said in one line."""


@dataclass
class Report:
    dry_run: bool
    examined: int = 0
    live: int = 0
    dead: int = 0
    unreadable: int = 0  # not a task message of this worker, or the probe failed
    moved: int = 0
    dead_deleted: int = 0
    sent_not_deleted: int = 0  # moved, but the DLQ copy stayed (delete failed)
    move_failed: int = 0
    dead_executions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would move" if self.dry_run else "moved"
        count = self.live if self.dry_run else self.moved
        dead_fate = (
            f"{self.dead_deleted} deleted (--delete-dead)"
            if self.dead_deleted
            else "left in the DLQ"
        )
        lines = [
            f"examined {self.examined}: live {self.live}, dead {self.dead}, "
            f"unreadable {self.unreadable}",
            f"{verb} {count} live message(s) back to the queue",
            f"skipped {self.dead} dead (task already closed): {dead_fate}",
        ]
        if self.unreadable:
            lines.append(f"left {self.unreadable} unreadable message(s) in the DLQ")
        if self.move_failed or self.sent_not_deleted:
            lines.append(
                f"send failed for {self.move_failed} (left in the DLQ); sent but not deleted "
                f"from the DLQ {self.sent_not_deleted} (a copy stays there)"
            )
        lines += [f"  dead: {arn}" for arn in self.dead_executions]
        lines += [f"  {problem}" for problem in self.problems]
        if self.dry_run:
            lines.append("dry run: nothing moved or deleted; run again with --yes to move")
        return "\n".join(lines)


@dataclass(frozen=True)
class Place:
    workflow: str
    worker: str
    queue_url: str
    dlq_url: str


def check_pairing(sqs: Any, place: Place) -> None:
    """The queue's redrive policy must name this DLQ: proof that both belong together."""
    queue = sqs.get_queue_attributes(QueueUrl=place.queue_url, AttributeNames=["RedrivePolicy"])
    policy = json.loads(queue["Attributes"].get("RedrivePolicy") or "{}")
    dlq = sqs.get_queue_attributes(QueueUrl=place.dlq_url, AttributeNames=["QueueArn"])
    if policy.get("deadLetterTargetArn") != dlq["Attributes"]["QueueArn"]:
        raise RedriveError(
            f"queue {place.queue_url} does not send its dead letters to {place.dlq_url}: "
            "refusing to move messages between queues that are not a pair"
        )


def redrive(
    sqs: Any,
    sfn: Any,
    place: Place,
    *,
    move: bool,
    delete_dead: bool = False,
    max_messages: int = 1000,
) -> Report:
    if delete_dead and not move:
        raise RedriveError("--delete-dead deletes: it needs --yes")
    check_pairing(sqs, place)
    report = Report(dry_run=not move)
    keep: list[str] = []  # receipt handles to make visible again
    try:
        for message in _receive_all(sqs, place.dlq_url, max_messages):
            report.examined += 1
            handle = message["ReceiptHandle"]
            verdict, detail = _probe(sfn, message.get("Body", ""), place)
            if verdict == "unreadable":
                report.unreadable += 1
                _note(report.problems, f"{message['MessageId']}: {detail}")
                keep.append(handle)
            elif verdict == "dead":
                report.dead += 1
                _note(report.dead_executions, detail)
                if delete_dead and _delete(sqs, place.dlq_url, message, report):
                    report.dead_deleted += 1
                else:
                    keep.append(handle)
            else:
                report.live += 1
                if move:
                    _move(sqs, place, message, report, keep)
                else:
                    keep.append(handle)
    finally:  # interrupted too: what was not moved shows again at once
        _release(sqs, place.dlq_url, keep)
    return report


def _receive_all(sqs: Any, dlq_url: str, limit: int) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    while len(seen) < limit:
        reply = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - len(seen)),
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=1,  # long polling asks every server: an empty answer means empty
            MessageAttributeNames=["All"],
        )
        batch = [m for m in reply.get("Messages", []) if m["MessageId"] not in seen]
        if not batch:
            return
        for message in batch:
            seen.add(message["MessageId"])
            yield message


def _probe(sfn: Any, body: str, place: Place) -> tuple[str, str]:
    """("live" | "dead" | "unreadable", the execution or why)."""
    from botocore.exceptions import ClientError

    if len(body.encode("utf-8", "replace")) > MAX_BODY_BYTES:
        return "unreadable", "body larger than any task message"
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return "unreadable", "not JSON (a malformed message: inspect it, then delete it)"
    if not isinstance(parsed, dict):
        return "unreadable", "not a task message (no taskToken)"
    token, context = parsed.get("taskToken"), parsed.get("context")
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        return "unreadable", "not a task message (no taskToken)"
    context = context if isinstance(context, dict) else {}
    owner = (context.get("workflow"), context.get("worker"))
    if owner != (place.workflow, place.worker):
        return (
            "unreadable",
            f"a task of {owner[0]}/{owner[1]}, not of {place.workflow}/{place.worker}",
        )
    execution = str(context.get("execution", "unknown execution"))[:2048]
    try:
        sfn.send_task_heartbeat(taskToken=token)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in CLOSED:
            return "dead", f"{execution} ({code})"
        return "unreadable", f"{execution}: the heartbeat probe failed ({code}); left as is"
    return "live", execution


def _move(sqs: Any, place: Place, message: dict[str, Any], report: Report, keep: list[str]) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    send: dict[str, Any] = {"QueueUrl": place.queue_url, "MessageBody": message["Body"]}
    attributes = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    if attributes:  # as received, minus the list fields SendMessage does not take
        send["MessageAttributes"] = attributes
    try:
        sqs.send_message(**send)
    except (ClientError, BotoCoreError) as error:
        report.move_failed += 1
        _note(report.problems, f"{message['MessageId']}: send failed, left in the DLQ: {error}")
        keep.append(message["ReceiptHandle"])
        return
    report.moved += 1
    if not _delete(sqs, place.dlq_url, message, report):
        report.sent_not_deleted += 1


def _delete(sqs: Any, dlq_url: str, message: dict[str, Any], report: Report) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
    except (ClientError, BotoCoreError) as error:
        _note(report.problems, f"{message['MessageId']}: not deleted from the DLQ: {error}")
        return False
    return True


def _release(sqs: Any, dlq_url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)


def _note(notes: list[str], text: str) -> None:
    if len(notes) < EXAMPLES:
        notes.append(text)
