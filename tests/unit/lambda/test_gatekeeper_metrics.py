"""The gatekeeper's metrics: CloudWatch embedded metric format lines whose
exact shape modules/monitoring's alarms and dashboard depend on. (From decisions run against
the emulator's DynamoDB: tests/emulator/lambda/test_gatekeeper_metrics.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_gatekeeper import Message, entry, metrics
from stepqueue_gatekeeper.decide import Outcome

from tests.support.gatekeeper_metrics import (
    FUNCTION,
    NOW_MS,
    SEMAPHORE_METRICS,
    directive,
)


@pytest.fixture(autouse=True)
def _function_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs as the gatekeeper function."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)


def test_a_decided_group_is_one_line_with_its_state_and_counts() -> None:
    outcome = Outcome(granted=["a", "b"], released=["c"], dead=["d"], refused=["e"])
    outcome.reclaimed = [{"execution": "f", "reason": "stopped"}]
    snapshot = metrics.Snapshot(limit=5, held=4, waiting=3, oldest_wait_s=12.5)
    assert metrics.decided("orders", outcome, snapshot, NOW_MS) == [
        {
            "_aws": directive(["Function", "Semaphore"], *SEMAPHORE_METRICS),
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
        "_aws": directive(["Function", "Semaphore"], ("GroupFailures", "Count")),
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


def test_a_line_is_one_compact_json_document() -> None:
    written: list[str] = []
    metrics.emit([metrics.failed("orders", NOW_MS)], written.append)
    [text] = written
    assert "\n" not in text and ", " not in text
    assert json.loads(text)["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Stepqueue"
