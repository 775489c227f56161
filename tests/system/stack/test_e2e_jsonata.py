"""End to end in JSONata: the JSONata examples (a semaphore; a Map with a queued task inside)
as the session's stack applied them (tests/system/stack/conftest.py), run by the local
runner: the outcomes and outputs their JSONPath twins give for the same inputs, and every slot
given back."""

from __future__ import annotations

import json
import uuid
from typing import Any

from stepqueue.local.burst import Deployment
from stepqueue.local.demo import run_jsonata_examples
from stepqueue.local.runner import Runner
from tests.support.waiting import until_value, wait_all_ended
from tests.system.stack.conftest import Stack

ORDER = {"order_id": "o-1", "items": [{"price": 20, "qty": 2}, {"price": 70, "qty": 1}]}
DECLINED = {**ORDER, "order_id": "o-2", "decline": True}
FILES, RENDITIONS = ["a.mov", "b.mov", "c.mov"], ["720p", "1080p"]
MEDIA = {"files": FILES, "renditions": RENDITIONS, "seconds": 0}


def _start(dep: Deployment, workflow: str, payload: dict[str, Any]) -> str:
    sfn = dep.emulator.client("stepfunctions")
    arn = dep.state_machine_arn(workflow)
    name = f"{workflow}-{uuid.uuid4().hex[:12]}"  # moto names an unnamed execution "None"
    started = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
    return str(started["executionArn"])


def _settled_holders(dep: Deployment, workflow: str, timeout_s: float = 30.0) -> int:
    """The semaphore's holder items once the last releases have been applied (bounded)."""
    table, semaphore, _ = dep.semaphore(workflow)
    ddb = dep.emulator.client("dynamodb")

    def count() -> int:
        reply = ddb.query(
            TableName=table,
            IndexName="holders",
            KeyConditionExpression="holder_of = :s",
            ExpressionAttributeValues={":s": {"S": semaphore}},
            Select="COUNT",
        )
        return int(reply["Count"])

    return until_value(f"every slot of {semaphore} given back", count, lambda n: n == 0, timeout_s)


def _without_ids(output: dict[str, Any]) -> dict[str, Any]:
    """The output less what differs by execution (ids from the idempotency key)."""
    out: dict[str, Any] = json.loads(json.dumps(output))
    out.get("charge", {}).pop("charge_id", None)
    out.get("shipment", {}).pop("tracking", None)
    return out


def test_jsonata_examples_end_to_end(stack: Stack) -> None:
    # What their JSONPath twins (orders.yaml, media.yaml) output for the same input is spelled
    # out below.
    main = stack.main
    dep = main.deployment
    with Runner(
        dep.emulator.endpoint, main.lambda_zip, function_prefix=main.prefix, failed_visibility_s=1
    ):
        runs = {
            "ok": _start(dep, "jsonata-orders", ORDER),
            "declined": _start(dep, "jsonata-orders", DECLINED),
            "media": _start(dep, "jsonata-media", MEDIA),
        }
        demo = run_jsonata_examples(dep)  # what `make demo` runs after its burst, meanwhile
        ended = wait_all_ended(dep.emulator.client("stepfunctions"), list(runs.values()), 240)
        held = _settled_holders(dep, "jsonata-orders")
    result = {key: ended[arn] for key, arn in runs.items()}
    assert demo == {"jsonata-orders": "SUCCEEDED", "jsonata-media": "SUCCEEDED"}

    ok = result["ok"]
    assert ok["status"] == "SUCCEEDED", ok
    output = json.loads(ok["output"])
    assert output["charge"]["charge_id"].startswith("ch_")
    assert output["shipment"]["tracking"].startswith("TRK")
    # orders.yaml's output: the input, plus each task's result where its ResultPath puts it.
    assert _without_ids(output) == {
        **ORDER,
        "enriched": {"order_id": "o-1", "item_count": 2, "total": 110.0, "tier": "gold"},
        "charge": {"amount": 0},  # the example handler reads `total` from its input
        "shipment": {},
    }

    # The handler's error goes through the catcher, the release, and out as the workflow's.
    declined = result["declined"]
    assert declined["status"] == "FAILED"
    assert declined["error"] == "Orders.PaymentDeclined"
    # moto 5.2.5 drops the cause of SendTaskFailure in either language (its TaskFailed event has
    # none), so the error is what can be compared here.

    media = result["media"]
    assert media["status"] == "SUCCEEDED", media
    assert json.loads(media["output"]) == {
        "count": 3,
        "outputs": [
            {"source": f, "outputs": [{"rendition": r, "key": f"{f}.{r}.mp4"} for r in RENDITIONS]}
            for f in FILES
        ],
    }

    # Every slot of the JSONata workflow's semaphore was given back (a release is applied by
    # the gatekeeper after the execution ended: settled, not instant).
    assert held == 0
