"""A worker's own settings through the root (docs/contracts.md, the worker fields of
workflows.tfvars.json): the root applied on the emulator with a hand-written tfvars whose `rich`
worker uses every field (its own artifact, arm64, environment with references, secrets by ARN,
policy statements with a condition, a managed policy, ephemeral storage, log retention, VPC,
layers, tags) and whose `plain` worker declares nothing (the generator's defaults, written
out), then planned again: nothing to change, and every value known, the policies included.
The resources must hold each setting where AWS reads it: the rendered environment and
STEPQUEUE_SECRETS, the policies' JSON, the architecture, the VPC config and its network
interface permissions, the layers; the plain worker exactly what a worker had before these
fields existed. checkov on that plan: 0 failed. Plus the root's refusals of bad worker fields,
each a plan failing with the message that names the fix."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.terraform import Terraform, TerraformError
from stepqueue.local.emulator import ACCOUNT_ID, Emulator
from tests.system.terraform.support import (
    WORKER_FIELD_DEFAULTS,
    copy_configuration,
    failed_checks,
    run_checkov,
)

PREFIX = "ws-"
WORKFLOW = "media"
REGION = "us-east-1"
RICH = f'module.worker["{WORKFLOW}/rich"]'
PLAIN = f'module.worker["{WORKFLOW}/plain"]'
SSM_ARN = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/media/api-key"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:media/db-AbCdEf"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{PREFIX}imaging:1"
MANAGED = f"arn:aws:iam::{ACCOUNT_ID}:policy/{PREFIX}rekognition-read"
SUBNETS = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
GROUPS = ["sg-0123456789abcdef0"]

# A Task state per worker: the ASL template's only placeholders are the queue URLs.
DEFINITION = {
    "StartAt": "Rich",
    "States": {
        name.capitalize(): {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {
                "QueueUrl": f"${{queue_url.{name}}}",
                "MessageBody": {"TaskToken.$": "$$.Task.Token", "input.$": "$"},
            },
            "TimeoutSeconds": 300,
            **({"Next": "Plain"} if name == "rich" else {"End": True}),
        }
        for name in ("rich", "plain")
    },
}

BASE_WORKER: dict[str, Any] = {
    "batch_size": 1,
    "batching_window_seconds": 0,
    "delay_seconds": 0,
    "max_concurrency": 2,
    "max_receive_count": 3,
    "memory_mb": 256,
    "message_retention_seconds": 1209600,
    "reserved_concurrency": None,
    "timeout_seconds": 60,
    "visibility_timeout_seconds": 120,
}


RICH_FIELDS: dict[str, Any] = {
    "architecture": "arm64",
    "artifact": "workers/media-rich.zip",
    "environment": {
        "BUCKET": "${payload_bucket_name}",
        "OUTPUT_PREFIX": "${prefix}thumbnails/",
        "WHERE": "${partition}:${region}:${account_id}",
        "LITERAL": "$${not_a_reference}",
    },
    "ephemeral_storage_mb": 2048,
    "layers": [LAYER],
    "log_retention_days": 731,
    "managed_policy_arns": [MANAGED],
    "policy_statements": [
        {
            "sid": "ReadOriginals",
            "actions": ["s3:GetObject"],
            "resources": ["${payload_bucket_arn}/originals/*"],
            "conditions": [],
        },
        {
            "sid": "OwnTaggedObjects",
            "actions": ["s3:PutObjectTagging"],
            "resources": ["${payload_bucket_arn}/users/$${aws:username}/*"],
            "conditions": [
                {
                    "test": "StringEquals",
                    "variable": "s3:RequestObjectTag/owner",
                    "values": ["media"],
                }
            ],
        },
    ],
    "secrets": {"API_KEY": SSM_ARN, "DB_PASSWORD": SECRET_ARN},
    "security_group_ids": GROUPS,
    "subnet_ids": SUBNETS,
    "tags": {"team": "imaging"},
}


def _tfvars() -> dict[str, Any]:
    return {
        "semaphores": {},
        "workflows": {
            WORKFLOW: {
                "definition_file": "asl/media.asl.json",
                "semaphore": None,
                "workers": {
                    "rich": {
                        **BASE_WORKER,
                        **RICH_FIELDS,
                        "handler": "examples.media.rich",
                    },
                    "plain": {
                        **BASE_WORKER,
                        **WORKER_FIELD_DEFAULTS,
                        "handler": "examples.media.plain",
                    },
                },
            }
        },
    }


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("examples/media.py", "def rich(payload, ctx):\n    return payload\n")
    return buffer.getvalue()


def _artifact(path: Path) -> str:
    """A worker zip of its own and its base64 SHA-256 written beside it, as the builder does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_zip_bytes())
    digest = base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    path.with_name(path.name + ".sha256").write_text(digest + "\n")
    return digest


class Inputs:
    """The generated dir and lambda build dir of one plan, written by hand."""

    def __init__(self, tmp: Path, lambda_zip: Path, tfvars: dict[str, Any]) -> None:
        self.generated = tmp / "generated"
        (self.generated / "asl").mkdir(parents=True)
        (self.generated / "asl" / "media.asl.json").write_text(json.dumps(DEFINITION, indent=2))
        self.tfvars = self.generated / "workflows.tfvars.json"
        self.tfvars.write_text(json.dumps(tfvars, indent=2, sort_keys=True))
        self.lambda_dir = tmp / "lambda"
        self.lambda_dir.mkdir()
        self.shared_zip = self.lambda_dir / "stepqueue.zip"
        shutil.copy(lambda_zip, self.shared_zip)
        sha = lambda_zip.with_name(lambda_zip.name + ".sha256")
        if sha.exists():
            shutil.copy(sha, self.lambda_dir / "stepqueue.zip.sha256")
        self.rich_hash = _artifact(self.lambda_dir / RICH_FIELDS["artifact"])


def _terraform(
    emulator: Emulator, config: Path, inputs: Inputs, **variables: Any
) -> tuple[Path, Terraform]:
    """The root copied under `config` (once: a second call reuses the copy and its init)."""
    root = config / "terraform"
    if not root.exists():
        copy_configuration(config)
    tf = Terraform(
        root=root,
        work_dir=config / "data",
        var_files=[root / "local.tfvars", inputs.tfvars],
        variables={
            "generated_dir": str(inputs.generated),
            "lambda_zip_path": str(inputs.shared_zip),
            "aws_endpoint_url": emulator.endpoint,
            "name_prefix": PREFIX,
            "payload_bucket_enabled": True,
            "start_queue_enabled": False,
            **variables,
        },
        env=emulator.env(),
    )
    tf.init()
    return root, tf


def _values(module: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{address: values} of every resource of a plan's `planned_values` module, recursively."""
    found = {
        r["address"]: r["values"] for r in module.get("resources", []) if r["mode"] == "managed"
    }
    for child in module.get("child_modules", []):
        found.update(_values(child))
    return found


@pytest.fixture(scope="module")
def planned(
    emulator: Emulator, lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Inputs, Path, Path]:
    """The deployment applied on the emulator, then planned again: that plan's JSON (nothing
    left to change, every value known, the policies included), its inputs, the plan JSON file
    and the root it came from. The layer and the managed policy the worker names exist first,
    as they would on AWS."""
    tmp = tmp_path_factory.mktemp("worker-settings")
    layer = emulator.client("lambda").publish_layer_version(
        LayerName=f"{PREFIX}imaging", Content={"ZipFile": _zip_bytes()}
    )["LayerVersionArn"]
    managed = emulator.client("iam").create_policy(
        PolicyName=f"{PREFIX}rekognition-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "rekognition:DetectLabels", "Resource": "*"}
                ],
            }
        ),
    )["Policy"]["Arn"]
    tfvars = _tfvars()
    rich = tfvars["workflows"][WORKFLOW]["workers"]["rich"]
    assert rich["layers"] == [LAYER] and rich["managed_policy_arns"] == [MANAGED]
    assert (layer, managed) == (LAYER, MANAGED)
    inputs = Inputs(tmp, lambda_zip, tfvars)
    root, tf = _terraform(emulator, tmp / "config", inputs)
    tf.plan_to_file(tmp / "first.bin")
    tf.apply_plan(tmp / "first.bin")
    tf.plan_to_file(tmp / "again.bin")
    plan = json.loads(tf.show_plan(tmp / "again.bin"))
    plan_json = tmp / "plan.json"
    plan_json.write_text(json.dumps(plan))
    return plan, inputs, plan_json, root


def test_a_second_plan_changes_nothing(planned: tuple[dict[str, Any], Inputs, Path, Path]) -> None:
    """No setting makes a perpetual diff (a block AWS fills in, a list it reorders)."""
    changes = [
        (c["address"], c["change"]["actions"])
        for c in planned[0]["resource_changes"]
        if c["change"]["actions"] != ["no-op"]
    ]
    assert changes == []


@pytest.fixture(scope="module")
def resources(planned: tuple[dict[str, Any], Inputs, Path, Path]) -> dict[str, dict[str, Any]]:
    """{address: values} of every resource of the deployment."""
    return _values(planned[0]["planned_values"]["root_module"])


def _function(resources: dict[str, dict[str, Any]], worker: str) -> dict[str, Any]:
    return resources[f"{worker}.module.function.aws_lambda_function.this"]


def _statements(policy: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in json.loads(policy)["Statement"]}


def test_the_rich_worker_runs_its_own_artifact_on_arm64(
    resources: dict[str, dict[str, Any]], planned: tuple[dict[str, Any], Inputs, Path, Path]
) -> None:
    inputs = planned[1]
    rich, plain = _function(resources, RICH), _function(resources, PLAIN)
    assert rich["architectures"] == ["arm64"]
    assert Path(rich["filename"]).resolve() == (inputs.lambda_dir / RICH_FIELDS["artifact"])
    assert rich["source_code_hash"] == inputs.rich_hash
    assert plain["architectures"] == ["x86_64"]
    assert Path(plain["filename"]).resolve() == inputs.shared_zip
    assert plain["source_code_hash"] != inputs.rich_hash


def test_the_environment_is_rendered_and_secrets_travel_by_arn(
    resources: dict[str, dict[str, Any]],
) -> None:
    bucket = resources["module.payload_bucket[0].aws_s3_bucket.this"]["bucket"]
    environment = _function(resources, RICH)["environment"][0]["variables"]
    assert environment["BUCKET"] == bucket
    assert environment["OUTPUT_PREFIX"] == f"{PREFIX}thumbnails/"
    assert environment["WHERE"] == f"aws:{REGION}:{ACCOUNT_ID}"
    assert environment["LITERAL"] == "${not_a_reference}"
    assert json.loads(environment["STEPQUEUE_SECRETS"]) == RICH_FIELDS["secrets"]
    # Only ARNs: no secret value has a name of its own in the configuration.
    assert "API_KEY" not in environment and "DB_PASSWORD" not in environment
    assert environment["STEPQUEUE_HANDLER"] == "examples.media.rich"
    assert environment["STEPQUEUE_MAX_RECEIVE_COUNT"] == "3"


def test_settings_reach_the_function(resources: dict[str, dict[str, Any]]) -> None:
    rich = _function(resources, RICH)
    assert rich["ephemeral_storage"] == [{"size": 2048}]
    assert rich["layers"] == [LAYER]
    assert rich["vpc_config"][0]["subnet_ids"] == sorted(SUBNETS)
    assert rich["vpc_config"][0]["security_group_ids"] == GROUPS
    assert rich["tags"] == {"team": "imaging"}
    log_group = resources[f"{RICH}.module.function.aws_cloudwatch_log_group.this"]
    assert log_group["retention_in_days"] == 731
    assert log_group["tags"] == {"team": "imaging"}
    assert resources[f"{RICH}.module.function.aws_iam_role.this"]["tags"] == {"team": "imaging"}


def test_the_rich_workers_extra_permissions_are_its_own(
    resources: dict[str, dict[str, Any]],
) -> None:
    extra = resources[f"{RICH}.module.function.aws_iam_role_policy.extra[0]"]
    assert extra["name"] == "stepqueue-worker-extra"
    statements = _statements(extra["policy"])
    assert set(statements) == {"ReadOriginals", "OwnTaggedObjects"}
    bucket = resources["module.payload_bucket[0].aws_s3_bucket.this"]["bucket"]
    assert statements["ReadOriginals"]["Action"] == "s3:GetObject"
    assert statements["ReadOriginals"]["Resource"] == f"arn:aws:s3:::{bucket}/originals/*"
    tagged = statements["OwnTaggedObjects"]
    # An IAM policy variable, escaped in the spec, stays a policy variable.
    assert tagged["Resource"] == f"arn:aws:s3:::{bucket}/users/${{aws:username}}/*"
    assert tagged["Condition"] == {"StringEquals": {"s3:RequestObjectTag/owner": "media"}}
    attachment = resources[
        f'{RICH}.module.function.aws_iam_role_policy_attachment.managed["{MANAGED}"]'
    ]
    assert attachment["policy_arn"] == MANAGED
    assert attachment["role"] == f"{PREFIX}{WORKFLOW}-rich"

    own = _statements(resources[f"{RICH}.module.function.aws_iam_role_policy.this"]["policy"])
    assert own["ReadOwnParameters"]["Action"] == "ssm:GetParameter"
    assert own["ReadOwnParameters"]["Resource"] == SSM_ARN
    assert own["ReadOwnSecrets"]["Action"] == "secretsmanager:GetSecretValue"
    assert own["ReadOwnSecrets"]["Resource"] == SECRET_ARN
    assert "DecryptOwnSecrets" not in own  # no customer key configured
    network = f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:network-interface/*"
    create = own["VpcCreateNetworkInterfaces"]
    assert create["Action"] == "ec2:CreateNetworkInterface"
    assert sorted(create["Resource"]) == sorted(
        [network]
        + [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:subnet/{s}" for s in SUBNETS]
        + [f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:security-group/{g}" for g in GROUPS]
    )
    assert own["VpcManageNetworkInterfaces"]["Resource"] == network
    assert own["VpcDescribe"]["Resource"] == "*"


def test_the_dashboard_lists_each_workers_extra_permissions(
    resources: dict[str, dict[str, Any]],
) -> None:
    dashboard = resources["module.monitoring[0].aws_cloudwatch_dashboard.this"]
    texts = [
        w["properties"]["markdown"]
        for w in json.loads(dashboard["dashboard_body"])["widgets"]
        if w["type"] == "text"
    ]
    assert len(texts) == 1, texts
    rows = [line for line in texts[0].splitlines() if line.startswith(f"| {WORKFLOW}/")]
    bucket = resources["module.payload_bucket[0].aws_s3_bucket.this"]["bucket"]
    key = f"{WORKFLOW}/rich"
    assert rows == [
        f"| {key} | statement `ReadOriginals` | `s3:GetObject` | "
        f"`arn:aws:s3:::{bucket}/originals/*` |",
        f"| {key} | statement `OwnTaggedObjects` | `s3:PutObjectTagging` | "
        f"`arn:aws:s3:::{bucket}/users/${{aws:username}}/*` |",
        f"| {key} | managed policy | (the policy's) | `{MANAGED}` |",
        # By ARN, sorted.
        f"| {key} | secret (STEPQUEUE_SECRETS) | read | `{SECRET_ARN}` |",
        f"| {key} | secret (STEPQUEUE_SECRETS) | read | `{SSM_ARN}` |",
    ]


def test_a_worker_that_declares_nothing_is_what_it_was(
    resources: dict[str, dict[str, Any]],
) -> None:
    plain = _function(resources, PLAIN)
    assert set(plain["environment"][0]["variables"]) == {
        "STEPQUEUE_HANDLER",
        "STEPQUEUE_MAX_RECEIVE_COUNT",
        "STEPQUEUE_PAYLOAD_BUCKET",
        "STEPQUEUE_PAYLOAD_READ_PREFIX",
        "STEPQUEUE_PAYLOAD_WRITE_PREFIX",
        "STEPQUEUE_PAYLOAD_THRESHOLD_BYTES",
        "STEPQUEUE_PAYLOAD_MAX_BYTES",
    }
    assert plain["vpc_config"] == [] and plain["layers"] in ([], None)
    assert plain["ephemeral_storage"] in ([], None) or plain["ephemeral_storage"] == [{"size": 512}]
    assert plain["tags"] in ({}, None)
    owned = [a for a in resources if a.startswith(f"{PLAIN}.")]
    assert not [a for a in owned if ".extra" in a or ".managed" in a], owned
    own = _statements(resources[f"{PLAIN}.module.function.aws_iam_role_policy.this"]["policy"])
    assert not [sid for sid in own if sid.startswith(("Vpc", "ReadOwnP", "ReadOwnS"))], own
    log_group = resources[f"{PLAIN}.module.function.aws_cloudwatch_log_group.this"]
    assert log_group["retention_in_days"] == 365


def test_checkov_passes_the_plan(planned: tuple[dict[str, Any], Inputs, Path, Path]) -> None:
    _, _, plan_json, root = planned
    report = run_checkov(plan_json, plan_source=root)
    assert report["summary"]["passed"] > 0
    assert failed_checks(report) == []


def _rich_with(**fields: Any) -> dict[str, Any]:
    tfvars = _tfvars()
    rich = tfvars["workflows"][WORKFLOW]["workers"]["rich"]
    rich.update(copy.deepcopy(fields))
    return tfvars


REFUSED = [
    pytest.param(
        _rich_with(architecture="sparc"), {}, "architecture must be x86_64 or arm64", id="arch"
    ),
    pytest.param(
        _rich_with(ephemeral_storage_mb=256), {}, "ephemeral_storage_mb a whole number", id="tmp"
    ),
    pytest.param(
        _rich_with(environment={"STEPQUEUE_HANDLER": "x"}), {}, "neither STEPQUEUE_*", id="env"
    ),
    pytest.param(
        _rich_with(secrets={"AWS_REGION": SSM_ARN}), {}, "a name Lambda reserves", id="reserved"
    ),
    pytest.param(_rich_with(secrets={"KEY": "hunter2"}), {}, "never to a value", id="secret"),
    pytest.param(
        _rich_with(
            policy_statements=[{"sid": "Bad-Sid", "actions": ["s3:GetObject"], "resources": ["*"]}]
        ),
        {},
        "letters and digits only",
        id="sid",
    ),
    pytest.param(
        _rich_with(
            policy_statements=[{"sid": "All", "actions": ["*"], "resources": ["arn:aws:s3:::b"]}]
        ),
        {},
        '"*" alone is refused',
        id="star",
    ),
    pytest.param(
        _rich_with(subnet_ids=SUBNETS, security_group_ids=[]), {}, "go together", id="vpc"
    ),
    pytest.param(_rich_with(layers=[LAYER] * 6), {}, "at most 5 layer", id="layers"),
    pytest.param(
        _rich_with(managed_policy_arns=["AdministratorAccess"]),
        {},
        "must be IAM policy ARNs",
        id="managed",
    ),
    pytest.param(
        _tfvars(),
        {"payload_bucket_enabled": False},
        "but this deployment has no payload bucket",
        id="bucket",
    ),
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the configuration (one init) for every refusal."""
    return tmp_path_factory.mktemp("worker-settings-refused")


@pytest.mark.parametrize(("tfvars", "variables", "message"), REFUSED)
def test_bad_worker_fields_are_refused_with_the_fix(
    emulator: Emulator,
    lambda_zip: Path,
    config: Path,
    tmp_path: Path,
    tfvars: dict[str, Any],
    variables: dict[str, Any],
    message: str,
) -> None:
    inputs = Inputs(tmp_path, lambda_zip, tfvars)
    _, tf = _terraform(emulator, config, inputs, **variables)
    with pytest.raises(TerraformError) as refused:
        tf.plan()
    text = " ".join(str(refused.value).split())
    assert "Invalid value for variable" in text, text[-2000:]
    assert message in text, text[-2000:]
