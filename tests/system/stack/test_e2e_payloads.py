"""End to end on the emulator, the claim check: workflows/payloads.yaml as the stack's `e2e`
deployment applied it, payload bucket enabled (tests/system/stack/conftest.py), run by the local
runner from the packaged zip. The first
worker returns about 1 MB, far over Step Functions' 256 KiB; the runtime stores it in the
bucket and sends a reference; the second worker gets the payload back and returns its digest.
The execution succeeds, the digest is that of what was produced, the bucket is encrypted and
expires what it holds, each worker may write only under its own prefix, and no message is
left in a queue or a DLQ."""

from __future__ import annotations

import hashlib
import json

from stepqueue.local.runner import Runner
from tests.support.queues import queue_depth
from tests.support.waiting import wait_until_ended
from tests.system.stack.conftest import Stack

SIZE = 1_048_576
SEED = "e2e-claim-check"
MARKER = "stepqueue:payload"


def _expected_blob() -> str:
    block = hashlib.sha256(SEED.encode()).hexdigest()
    return (block * (SIZE // len(block) + 1))[:SIZE]


def test_a_1_mb_output_round_trips_through_s3(stack: Stack) -> None:
    e2e = stack.e2e
    emu, outputs = e2e.emulator, e2e.outputs
    bucket = outputs["payload_bucket_name"]
    assert bucket

    with Runner(
        emu.endpoint,
        e2e.lambda_zip,
        function_prefix=f"{e2e.prefix}payloads-",
        failed_visibility_s=1,
    ):
        sfn = emu.client("stepfunctions")
        started = sfn.start_execution(
            stateMachineArn=outputs["state_machine_arns"]["payloads"],
            name="one-megabyte",
            input=json.dumps({"seed": SEED, "size_bytes": SIZE}),
        )
        described = wait_until_ended(sfn, started["executionArn"], 180)
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]

    s3 = emu.client("s3")
    stored = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    iam = emu.client("iam")
    workers = outputs["workers"]["payloads"]
    policies = {}
    for name in ("produce", "digest"):
        document = iam.get_role_policy(
            RoleName=workers[name]["role_name"], PolicyName="stepqueue-worker"
        )["PolicyDocument"]
        policies[name] = json.loads(document) if isinstance(document, str) else document
    sqs = emu.client("sqs")
    depths = {
        f"{name} {kind}": queue_depth(sqs, workers[name][kind])
        for name in ("produce", "digest")
        for kind in ("queue_url", "dlq_url")
    }

    assert described["status"] == "SUCCEEDED", [
        {k: v for k, v in e.items() if k.endswith("Details")} for e in history[-3:]
    ]
    data = _expected_blob().encode()
    assert json.loads(described["output"]) == {
        "bytes": SIZE,
        "sha256": hashlib.sha256(data).hexdigest(),
        "intact": True,
    }
    # What Step Functions carried between the two workers was the reference, not the payload.
    (produced,) = [
        json.loads(e["taskSucceededEventDetails"]["output"])
        for e in history
        if e["type"] == "TaskSucceeded"
        and MARKER in e["taskSucceededEventDetails"].get("output", "")
    ]
    ref = produced[MARKER]
    assert ref["bucket"] == bucket and ref["key"].startswith(f"{e2e.prefix}payloads/produce/")
    assert ref["bytes"] > SIZE
    assert [o["Key"] for o in stored] == [ref["key"]]

    (rule,) = encryption["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (expiry,) = lifecycle
    assert expiry["Status"] == "Enabled" and expiry["Expiration"]["Days"] == 7

    bucket_arn = f"arn:aws:s3:::{bucket}"
    for name, policy in policies.items():
        s3_statements = {
            s["Sid"]: (s["Action"], s["Resource"])
            for s in policy["Statement"]
            if "s3" in json.dumps(s["Action"])
        }
        assert s3_statements == {
            # Keys start with the workflow's full name: the deployment's prefix, then its own.
            "StoreOwnPayloads": ("s3:PutObject", f"{bucket_arn}/{e2e.prefix}payloads/{name}/*"),
            "ReadWorkflowPayloads": ("s3:GetObject", f"{bucket_arn}/{e2e.prefix}payloads/*"),
        }
    assert depths == dict.fromkeys(depths, 0), depths
