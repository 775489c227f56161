"""The example handlers that workflows/ and the other areas' specs reference."""

from __future__ import annotations

import json
from typing import Any

import pytest
from stepqueue_runtime import aws, entry

from tests.support.lambda_support import RecordingClient, body, event, sqs_record


@pytest.fixture
def client() -> RecordingClient:
    c = RecordingClient()
    aws.set_client(c)
    return c


def call(spec: str, payload: Any, monkeypatch: pytest.MonkeyPatch, client: RecordingClient) -> Any:
    """Run one task through the runtime; the task's output, or ("failed", error)."""
    monkeypatch.setenv("STEPQUEUE_HANDLER", spec)
    client.calls.clear()
    assert entry.handler(event(sqs_record(body(payload), "m")), None) == {"batchItemFailures": []}
    if client.ops("send_task_failure"):
        return ("failed", client.ops("send_task_failure")[0].kwargs["error"])
    return json.loads(client.ops("send_task_success")[0].kwargs["output"])


@pytest.mark.parametrize(
    ("spec", "payload", "expected"),
    [
        ("examples.common.echo", {"a": [1, "ü"]}, {"a": [1, "ü"]}),
        ("examples.common.sleep", {"seconds": 0.01, "x": 1}, {"seconds": 0.01, "x": 1}),
        ("examples.common.sleep", {}, {}),
        ("examples.common.sleep", {"fail": True}, ("failed", "Sleep.Failed")),
        ("examples.orders.charge", {"decline": True}, ("failed", "Orders.PaymentDeclined")),
        ("examples.reports.render", {"rows": 8000}, ("failed", "Stepqueue.OutputTooLarge")),
    ],
)
def test_examples(
    spec: str,
    payload: Any,
    expected: Any,
    monkeypatch: pytest.MonkeyPatch,
    client: RecordingClient,
) -> None:
    assert call(spec, payload, monkeypatch, client) == expected


def test_order_flow(monkeypatch: pytest.MonkeyPatch, client: RecordingClient) -> None:
    order = {"order_id": "o1", "items": [{"price": 10, "qty": 3}]}
    enriched = call("examples.orders.enrich", order, monkeypatch, client)
    assert enriched == {"order_id": "o1", "item_count": 1, "total": 30.0, "tier": "standard"}
    charged = call("examples.orders.charge", enriched, monkeypatch, client)
    assert charged["amount"] == 30.0 and charged["charge_id"].startswith("ch_")
    assert call("examples.orders.ship", enriched, monkeypatch, client)["tracking"].startswith("TRK")


def test_long_running_examples(monkeypatch: pytest.MonkeyPatch, client: RecordingClient) -> None:
    out = call(
        "examples.media.transcode",
        {"source": "a.mov", "renditions": ["480p", "1080p"]},
        monkeypatch,
        client,
    )
    assert [o["rendition"] for o in out["outputs"]] == ["480p", "1080p"]
    glue = call("examples.glue.run_job", {"job": "nightly"}, monkeypatch, client)
    assert glue["job"] == "nightly" and glue["state"] == "SUCCEEDED"
    assert call("examples.reports.render", {"rows": 2}, monkeypatch, client)["rows"] == 2
