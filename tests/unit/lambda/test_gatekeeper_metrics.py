"""The gatekeeper's and the reclaimer's metrics: CloudWatch embedded metric format lines whose
exact shape modules/monitoring's alarms and dashboard depend on. The gatekeeper's decisions
run for real against the emulator's DynamoDB (a table as modules/semaphore makes it); Step
Functions and SQS are stubs, so each execution's status is what the test says."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from stepqueue_gatekeeper import Message, entry, metrics
from stepqueue_gatekeeper.decide import Outcome
from stepqueue_reclaimer import entry as reclaimer_entry
from stepqueue_reclaimer.reclaim import SweepSummary

from stepqueue.local.emulator import ACCOUNT_ID, REGION

NOW_MS = 1_800_000_000_000
FUNCTION = "dev-stepqueue-gatekeeper"


def _execution(machine: str, name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{machine}:{name}"


def _directive(dimensions: list[str], *metrics_: tuple[str, str]) -> dict[str, Any]:
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


@pytest.fixture(autouse=True)
def _function_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)


def test_a_decided_group_is_one_line_with_its_state_and_counts() -> None:
    outcome = Outcome(granted=["a", "b"], released=["c"], dead=["d"], refused=["e"])
    outcome.reclaimed = [{"execution": "f", "reason": "stopped"}]
    snapshot = metrics.Snapshot(limit=5, held=4, waiting=3, oldest_wait_s=12.5)
    assert metrics.decided("orders", outcome, snapshot, NOW_MS) == [
        {
            "_aws": _directive(["Function", "Semaphore"], *SEMAPHORE_METRICS),
            "Function": FUNCTION,
            "Semaphore": "orders",
            "Holders": 4,
            "Limit": 5,
            "Waiters": 3,
            "OldestWaitSeconds": 12.5,
            "Granted": 2,
            "Released": 1,
            "Reclaimed": 1,
            "LeakedSlotsReclaimed": 0,
            "DeadWaiters": 1,
            "RedrivesRefused": 1,
            "GroupFailures": 0,
        }
    ]


def test_an_unknown_oldest_wait_is_left_out_not_reported_as_zero() -> None:
    snapshot = metrics.Snapshot(limit=5, held=5, waiting=2, oldest_wait_s=None)
    [line] = metrics.decided("orders", Outcome(), snapshot, NOW_MS)
    names = [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert "OldestWaitSeconds" not in names and "OldestWaitSeconds" not in line
    assert line["Waiters"] == 2


def test_a_failed_group_counts_one_failure() -> None:
    assert metrics.failed("orders", NOW_MS) == {
        "_aws": _directive(["Function", "Semaphore"], ("GroupFailures", "Count")),
        "Function": FUNCTION,
        "Semaphore": "orders",
        "GroupFailures": 1,
    }


def test_metrics_that_cannot_be_built_never_fail_a_decided_batch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Broken:
        def process(self, semaphore: str, messages: list[Message]) -> Outcome:
            return Outcome()

    monkeypatch.setattr(entry, "gatekeeper", lambda: Broken())
    monkeypatch.setattr(entry, "_decided_metrics", _raise)
    body = json.dumps({"op": "tick", "semaphore": "orders"})
    record = {"messageId": "m1", "body": body, "attributes": {"MessageGroupId": "orders"}}
    assert entry.handler({"Records": [record]}, None) == {"batchItemFailures": []}
    assert '"_aws"' not in capsys.readouterr().out


def _raise(*args: Any) -> list[dict[str, Any]]:
    raise RuntimeError("throttled")


def test_the_reclaimers_sweep_line_counts_leaked_slots_and_errors() -> None:
    summary = SweepSummary(
        semaphores=2,
        holders=4,
        kept=1,
        reclaimed=[
            {"semaphore": "a", "execution": "x"},
            {"semaphore": "b", "execution": "y"},
        ],
        errors=[{"semaphore": "a", "execution": "z", "error": "ThrottlingException"}],
    )
    assert reclaimer_entry.sweep_metrics(summary, "dev-stepqueue-reclaimer", NOW_MS) == {
        "_aws": _directive(
            ["Function"], ("LeakedSlotsReclaimed", "Count"), ("SweepErrors", "Count")
        ),
        "Function": "dev-stepqueue-reclaimer",
        "LeakedSlotsReclaimed": 2,
        "SweepErrors": 1,
    }


def test_a_line_is_one_compact_json_document() -> None:
    written: list[str] = []
    metrics.emit([metrics.failed("orders", NOW_MS)], written.append)
    [text] = written
    assert "\n" not in text and ", " not in text
    assert json.loads(text)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stepqueue"
