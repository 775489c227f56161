"""What the gatekeeper's metrics tests share: the expected EMF directives and stubs of Step
Functions and SQS whose answers the test sets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stepqueue.local.emulator import ACCOUNT_ID, REGION

NOW_MS = 1_800_000_000_000
FUNCTION = "dev-stepqueue-gatekeeper"


def execution_arn(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{machine}:{name}"


def directive(dimensions: list[str], *metrics_: tuple[str, str]) -> dict[str, Any]:
    return {
        "Timestamp": NOW_MS,
        "CloudWatchMetrics": [
            {
                "Namespace": "Stepqueue",
                "Dimensions": [dimensions],
                "Metrics": [{"Name": n, "Unit": u} for n, u in metrics_],
            }
        ],
    }


SEMAPHORE_METRICS = (
    ("Holders", "Count"),
    ("Limit", "Count"),
    ("Waiters", "Count"),
    ("OldestWaitSeconds", "Seconds"),
    ("Granted", "Count"),
    ("Released", "Count"),
    ("Reclaimed", "Count"),
    ("LeakedSlotsReclaimed", "Count"),
    ("DeadWaiters", "Count"),
    ("RedrivesRefused", "Count"),
    ("GroupFailures", "Count"),
)


class StubSfn:
    """DescribeExecution answers from `status`; every grant is delivered."""

    def __init__(self, status: dict[str, str]) -> None:
        self.status = status
        self.granted: list[str] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        reply: dict[str, Any] = {"status": self.status[executionArn]}
        if reply["status"] != "RUNNING":
            reply["stopDate"] = datetime.fromtimestamp((NOW_MS - 60_000) / 1000, UTC)
        return reply

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        self.granted.append(taskToken)
        return {}


class StubSqs:
    def send_message(self, **request: Any) -> dict[str, Any]:
        return {"MessageId": "m"}
