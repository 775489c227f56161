"""Fair worker queues end to end: workflows/tenants.yaml as the session's stack applied it
(tests/system/stack/conftest.py), run by the local runner. Each queued task carries the hash of
its tenant as the MessageGroupId on the worker's standard queue (a JSONPath task and a JSONata
one), the worker runtime takes records with that attribute, and the workflow completes, for
tenants SQS could not take as they are: Unicode, a number, 10,000 characters. One character more
is past what States.Hash takes: that execution fails (docs/design.md, "Fair worker queues")."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from generator.vocabulary import GROUP_BY_TEXT_MAX_CHARS
from stepqueue.local.burst import Deployment
from stepqueue.local.runner import Runner
from tests.support.waiting import until, wait_all_ended
from tests.system.stack.conftest import Stack

# The JSONPath form's bound (States.Hash: 10,000 characters), in multi-byte characters.
LONG = ("テナント-tenant-" * 1000)[:GROUP_BY_TEXT_MAX_CHARS]
TENANTS: dict[str, Any] = {"unicode": "Zürich 東京 🚀", "number": 42, "long": LONG}
TOO_LONG = LONG + "x"


def _md5(tenant: Any) -> str:
    # The tenant's text: a string as it is, anything else as JSON (States.Format, $string).
    text = tenant if isinstance(tenant, str) else json.dumps(tenant)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _start(dep: Deployment, tenant: Any) -> str:
    sfn = dep.emulator.client("stepfunctions")
    payload = {"tenant": tenant, "title": "weekly", "rows": 1}
    started = sfn.start_execution(
        stateMachineArn=dep.state_machine_arn("tenants"),
        name=f"tenants-{uuid.uuid4().hex[:12]}",  # moto names an unnamed execution "None"
        input=json.dumps(payload),
    )
    return str(started["executionArn"])


def _queued_groups(dep: Deployment, worker: str, count: int) -> dict[str, str]:
    """execution ARN -> the MessageGroupId of its message on the worker's queue, read before
    any worker runs; the messages stay visible for the runner (visibility timeout 0)."""
    sqs = dep.emulator.client("sqs")
    url = dep.worker("tenants", worker)["queue_url"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "FifoQueue" not in attributes  # a standard queue: fairness needs no queue setting
    groups: dict[str, str] = {}

    def all_queued() -> bool:
        reply = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageSystemAttributeNames=["MessageGroupId"],
        )
        for message in reply.get("Messages", []):
            execution = json.loads(message["Body"])["context"]["execution"]
            groups[execution] = message["Attributes"].get("MessageGroupId", "")
        return len(groups) >= count

    until(f"{count} task messages queued on {worker}", all_queued, timeout=60, every=0.2)
    return groups


def _sent_group(dep: Deployment, arn: str, state: str) -> str:
    """The MessageGroupId the state sent, from the execution's history."""
    sfn = dep.emulator.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    entered = [
        e["id"] for e in events if e.get("stateEnteredEventDetails", {}).get("name") == state
    ]
    scheduled = [
        e["taskScheduledEventDetails"]
        for e in events
        if e["type"] == "TaskScheduled" and e.get("previousEventId", 0) >= entered[0]
    ]
    return str(json.loads(scheduled[0]["parameters"])["MessageGroupId"])


def test_each_tenant_is_a_message_group_and_the_workflow_completes(stack: Stack) -> None:
    assert (len(LONG), len(TOO_LONG)) == (10000, 10001)
    main = stack.main
    dep = main.deployment
    runs = {key: _start(dep, tenant) for key, tenant in TENANTS.items()}
    too_long = _start(dep, TOO_LONG)
    queued = _queued_groups(dep, "render", len(runs))
    with Runner(
        dep.emulator.endpoint,
        main.lambda_zip,
        function_prefix=main.prefix,
        failed_visibility_s=1,
    ):
        ended = wait_all_ended(
            dep.emulator.client("stepfunctions"), [*runs.values(), too_long], 240
        )
    summarised = {key: _sent_group(dep, arn, "Summarise") for key, arn in runs.items()}

    for key, tenant in TENANTS.items():
        arn = runs[key]
        assert ended[arn]["status"] == "SUCCEEDED", ended[arn]
        output = json.loads(ended[arn]["output"])
        assert output["tenant"] == tenant and output["report"] == {"rows": 1}
        assert output["summary"].startswith("summary of weekly line 0")
        # The JSONPath task (Render) and the JSONata one (Summarise): the same group.
        assert queued[arn] == _md5(tenant), key
        assert summarised[key] == _md5(tenant), key
    # Past 10,000 characters States.Hash refuses the tenant: a runtime error that no Catch
    # sees, before anything is queued.
    assert too_long not in queued
    assert ended[too_long]["status"] == "FAILED"
    assert ended[too_long]["error"] == "States.Runtime"
