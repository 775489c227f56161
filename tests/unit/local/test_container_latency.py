"""The local container's opt-in latency (testkit/scale_proof.py): every AWS call waits its
operation's configured latency before it is made, and is logged; without the variable nothing
changes."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.client import BaseClient
from botocore.stub import Stubber

from stepqueue.local import container


def _stubbed_sqs() -> Any:
    client = botocore.session.get_session().create_client(
        "sqs",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )
    return client


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    # The patch is undone after the test: BaseClient is shared by every client of the process.
    monkeypatch.setattr(BaseClient, "_make_api_call", BaseClient._make_api_call)
    slept: list[float] = []
    monkeypatch.setattr("stepqueue.local.container.time.sleep", slept.append)
    return slept


def test_each_call_waits_its_operations_latency_and_is_logged(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "STEPQUEUE_LOCAL_LATENCY_MS",
        json.dumps({"ListQueues": 40, "between": 200}),
    )
    log: list[dict[str, Any]] = []
    between_s = container._inject_latency(log.append)
    assert between_s == 0.2
    sqs = _stubbed_sqs()
    with Stubber(sqs) as stub:
        stub.add_response("list_queues", {"QueueUrls": []})
        stub.add_response("get_queue_url", {"QueueUrl": "u"})
        sqs.list_queues()
        sqs.get_queue_url(QueueName="q")
    assert sleeps == [0.04, 0.0]  # an operation not in the table waits nothing
    assert [line["op"] for line in log] == ["ListQueues", "GetQueueUrl"]
    assert all(line["end"] >= line["start"] for line in log)


def test_without_the_variable_calls_are_left_alone(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STEPQUEUE_LOCAL_LATENCY_MS", raising=False)
    before = BaseClient._make_api_call
    log: list[dict[str, Any]] = []
    assert container._inject_latency(log.append) == 0.0
    assert BaseClient._make_api_call is before
    sqs = _stubbed_sqs()
    with Stubber(sqs) as stub:
        stub.add_response("list_queues", {"QueueUrls": []})
        sqs.list_queues()
    assert sleeps == [] and log == []


def test_the_groups_of_an_invocation_are_read_from_its_records() -> None:
    event = {
        "Records": [
            {"attributes": {"MessageGroupId": "s:arrivals"}},
            {"attributes": {"MessageGroupId": "s"}},
            {"attributes": {"MessageGroupId": "s"}},
        ]
    }
    assert container._groups(event) == ["s", "s:arrivals"]
    assert container._groups({}) == []
