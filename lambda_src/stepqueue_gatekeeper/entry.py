"""Lambda handler ``stepqueue_gatekeeper.entry.handler``, fed by the waiting-room FIFO queue.

A batch may hold several message groups (semaphores), each in its order. Each group is decided
on its own; when one fails, all of its records in the batch are reported failed (SQS then
redelivers them in order, and nothing behind them in that group is delivered meanwhile), while
the other groups' records are done. A malformed body is logged and dropped: it can never
become valid, and keeping it would block its group forever.
"""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools import Logger
from stepqueue_aws import Retries, cached_client, error_code

from stepqueue_gatekeeper.decide import Gatekeeper
from stepqueue_gatekeeper.messages import Message, MessageError, parse

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-gatekeeper"))

# A few SDK retries: a throttled call retried here is cheaper than redelivering the batch,
# but the group waits behind this invocation, so not many.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=10)

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    return cached_client(_clients, service, RETRIES)


def gatekeeper() -> Gatekeeper:
    return Gatekeeper(
        client("dynamodb"),
        client("stepfunctions"),
        client("sqs"),
        table=os.environ["SEMAPHORE_TABLE"],
        queue_url=os.environ["GATEKEEPER_QUEUE_URL"],
        own_prefixes=tuple(json.loads(os.environ.get("EXECUTION_ARN_PREFIXES", "[]"))),
        default_limits={
            k: int(v) for k, v in json.loads(os.environ.get("SEMAPHORE_LIMITS", "{}")).items()
        },
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    groups: dict[str, list[tuple[str, Message | None]]] = {}
    for record in records:
        message_id = str(record.get("messageId"))
        group = (record.get("attributes") or {}).get("MessageGroupId")
        try:
            message: Message | None = parse(message_id, group, str(record.get("body", "")))
        except MessageError as exc:
            logger.error(
                "malformed message dropped", extra={"message_id": message_id, "why": str(exc)}
            )
            message = None
        groups.setdefault(str(group), []).append((message_id, message))
    keeper = gatekeeper()
    failures: list[dict[str, str]] = []
    for group, items in groups.items():
        messages = [m for _, m in items if m is not None]
        if not messages:
            continue
        try:
            outcome = keeper.process(messages[0].semaphore, messages)
        except Exception as exc:
            logger.exception(
                "group failed; redelivered in order",
                extra={"semaphore": group, "error": error_code(exc)},
            )
            failures += [{"itemIdentifier": message_id} for message_id, _ in items]
            continue
        logger.info("decided", extra={"semaphore": group, **outcome.__dict__})
    return {"batchItemFailures": failures}
