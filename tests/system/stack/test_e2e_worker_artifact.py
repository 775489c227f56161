"""End to end on the emulator, a worker a team ships: workflows/extras/thumbnails.yaml as the
stack's `e2e` deployment applied it (payload bucket on, IAM enforced; conftest.py).

Its worker declares Pillow (compiled wheels), pinned: the build put it in the worker's own
artifact, for the local runner's Python, and the runner loads the function from that artifact,
as Lambda would (Pillow is not installed in the development environment: the import can only
come from the artifact, and its __file__ says so). The handler reads THUMBNAIL_BUCKET (a
`${payload_bucket_name}` reference the root filled in) and GetObjects an image under images/,
which only the worker's own statement allows: with that inline policy deleted through the
emulator's IAM, the same call is refused and the task fails with AccessDenied.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import struct
import zlib
from pathlib import Path
from typing import Any

from stepqueue.local.runner import Runner
from tests.support.waiting import wait_until_ended
from tests.system.stack.conftest import Applied, Stack

WIDTH, HEIGHT = 160, 80
EXTRA_POLICY = "stepqueue-worker-extra"  # the worker's own statements (modules/lambda_function)


def png(width: int, height: int) -> bytes:
    """A plain RGB PNG, written by hand: Pillow is the artifact's, not this environment's."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x % 256, y % 256, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _run(e2e: Applied, name: str, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    emu, outputs = e2e.emulator, e2e.outputs
    with Runner(
        emu.endpoint,
        e2e.lambda_zip,
        function_prefix=f"{e2e.prefix}thumbnails-",
        failed_visibility_s=1,
    ):
        sfn = emu.client("stepfunctions")
        started = sfn.start_execution(
            stateMachineArn=outputs["state_machine_arns"]["thumbnails"],
            name=name,
            input=json.dumps({"key": key, "size": 64}),
        )
        described = wait_until_ended(sfn, started["executionArn"], 180)
    history = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    return described, history


def test_the_worker_runs_from_its_own_artifact_with_its_setting_and_permission(
    stack: Stack,
) -> None:
    assert importlib.util.find_spec("PIL") is None, "Pillow must not be in the dev environment"
    e2e = stack.e2e
    emu, outputs = e2e.emulator, e2e.outputs
    bucket = outputs["payload_bucket_name"]
    emu.client("s3").put_object(Bucket=bucket, Key="images/cat.png", Body=png(WIDTH, HEIGHT))
    artifact = e2e.lambda_zip.parent / "workers" / "thumbnails-thumbnail.zip"
    function = emu.client("lambda").get_function_configuration(
        FunctionName=outputs["workers"]["thumbnails"]["thumbnail"]["function_name"]
    )

    described, history = _run(e2e, "thumbnail-allowed", "images/cat.png")

    # Deployed from its own artifact, with the variable the root rendered.
    digest = base64.b64encode(hashlib.sha256(artifact.read_bytes()).digest()).decode()
    assert function["CodeSha256"] == digest
    assert function["Environment"]["Variables"]["THUMBNAIL_BUCKET"] == bucket
    assert described["status"] == "SUCCEEDED", [
        {k: v for k, v in e.items() if k.endswith("Details")} for e in history[-3:]
    ]
    output = json.loads(described["output"])
    assert (output["width"], output["height"], output["format"]) == (64, 32, "PNG")
    assert output["bucket"] == bucket
    # Pillow came from the artifact the runner extracted (its task root), nowhere else.
    pillow = Path(output["pillow"]["file"])
    assert output["pillow"]["version"] == "11.1.0"
    assert pillow.parts[-2:] == ("PIL", "__init__.py")
    assert pillow.parent.parent.name.startswith("task-"), pillow
    assert ".venv" not in pillow.parts and "site-packages" not in pillow.parts


def test_without_its_permission_the_handler_is_refused(stack: Stack) -> None:
    e2e = stack.e2e
    emu, outputs = e2e.emulator, e2e.outputs
    bucket = outputs["payload_bucket_name"]
    emu.client("s3").put_object(Bucket=bucket, Key="images/dog.png", Body=png(WIDTH, HEIGHT))
    iam = emu.client("iam")
    role = outputs["workers"]["thumbnails"]["thumbnail"]["role_name"]
    document = iam.get_role_policy(RoleName=role, PolicyName=EXTRA_POLICY)["PolicyDocument"]
    policy = json.loads(document) if isinstance(document, str) else document
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadImages"]
    assert policy["Statement"][0]["Action"] in ("s3:GetObject", ["s3:GetObject"])
    assert policy["Statement"][0]["Resource"] in (
        f"arn:aws:s3:::{bucket}/images/*",
        [f"arn:aws:s3:::{bucket}/images/*"],
    )
    iam.delete_role_policy(RoleName=role, PolicyName=EXTRA_POLICY)
    try:
        described, history = _run(e2e, "thumbnail-refused", "images/dog.png")
    finally:  # the stack is shared: put the worker's permission back as Terraform left it
        iam.put_role_policy(
            RoleName=role, PolicyName=EXTRA_POLICY, PolicyDocument=json.dumps(policy)
        )

    assert described["status"] == "FAILED"
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert failed, [e["type"] for e in history]
    details = failed[-1]["taskFailedEventDetails"]
    # botocore raises S3's refusal as its modeled error class: the task fails with its name.
    assert details["error"] == "AccessDenied", details
    # The cause is the runtime's Lambda-style JSON of the refusal, where the emulator keeps it.
    causes = [details.get("cause"), described.get("cause")]
    assert all("GetObject" in cause for cause in causes if cause), causes
