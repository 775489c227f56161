"""The two reclaim paths (docs/contracts.md, "Semaphore (DynamoDB)"), as pure functions
over injected clients.

Safe alongside acquires and releases: an execution that is no longer RUNNING never runs
again (redrive aside, see README), so removing it from ``holders`` is always right, and the
removal is conditional on it still being there, so a concurrent release or a second reclaimer
turns it into a no-op rather than an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypedDict

from stepqueue_aws import aws_error_code, error_code

HOLDERS = "holders"


class Reclaimed(TypedDict):
    semaphore: str
    execution: str


class SweepSummary(TypedDict):
    semaphores: int
    holders: int
    kept: int
    reclaimed: list[Reclaimed]
    errors: list[dict[str, str]]


def remove_holder(ddb: Any, table: str, semaphore: str, execution_arn: str) -> bool:
    """Conditional REMOVE; True if this call removed it, False if it was already gone."""
    try:
        ddb.update_item(
            TableName=table,
            Key={"id": {"S": semaphore}},
            UpdateExpression="REMOVE #h.#e",
            ConditionExpression="attribute_exists(#h.#e)",
            ExpressionAttributeNames={"#h": HOLDERS, "#e": execution_arn},
        )
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False  # released or reclaimed by someone else: the goal is reached
        raise
    return True


def _scan(ddb: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    # Strongly consistent: a holder added just before the scan must be seen.
    kwargs["ConsistentRead"] = True
    while True:
        page = ddb.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reclaim_execution(ddb: Any, table: str, execution_arn: str) -> list[Reclaimed]:
    """Remove ``execution_arn`` from every semaphore item holding it."""
    items = _scan(
        ddb,
        TableName=table,
        ProjectionExpression="#id",
        FilterExpression="attribute_exists(#h.#e)",
        ExpressionAttributeNames={"#id": "id", "#h": HOLDERS, "#e": execution_arn},
    )
    semaphores = sorted(item["id"]["S"] for item in items)
    return [
        Reclaimed(semaphore=name, execution=execution_arn)
        for name in semaphores
        if remove_holder(ddb, table, name, execution_arn)
    ]


def _execution_gone(sfn: Any, execution_arn: str) -> bool:
    """DescribeExecution is authoritative (ListExecutions is eventually consistent)."""
    try:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
    except Exception as exc:
        if error_code(exc) == "ExecutionDoesNotExist":
            return True
        raise
    return bool(status != "RUNNING")


def sweep(ddb: Any, sfn: Any, table: str) -> SweepSummary:
    """Release every holder whose execution is no longer RUNNING.

    Also closes the late-acquire race: an acquire that lands after the one-shot event was
    handled is still held by an execution that is not RUNNING, and the next sweep finds it.
    A failure for one holder is recorded and the sweep goes on with the others.
    """
    summary = SweepSummary(semaphores=0, holders=0, kept=0, reclaimed=[], errors=[])
    verdicts: dict[str, bool] = {}  # one DescribeExecution per execution per sweep
    for item in _scan(ddb, TableName=table):
        summary["semaphores"] += 1
        name = item["id"]["S"]
        holders = item.get(HOLDERS, {}).get("M", {})
        for arn in sorted(holders):
            summary["holders"] += 1
            try:
                if arn not in verdicts:
                    verdicts[arn] = _execution_gone(sfn, arn)
                if not verdicts[arn]:
                    summary["kept"] += 1
                elif remove_holder(ddb, table, name, arn):
                    summary["reclaimed"].append(Reclaimed(semaphore=name, execution=arn))
            except Exception as exc:
                summary["errors"].append(
                    {"semaphore": name, "execution": arn, "error": aws_error_code(exc) or repr(exc)}
                )
    return summary
