"""Safe deploys: apply applies exactly the saved plan and refuses a missing or stale one;
destroy asks for the stage's name and, with no terminal and no --yes, refuses before touching
anything. Against the emulator with a small root (a queue, its DLQ, a role, a state machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stepqueue.deploy import commands
from stepqueue.deploy.inputs import DeployInputs
from stepqueue.deploy.saved_plan import PlanRefused
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO
from tests.deploy.roots import SHIM_ROOT
from tests.markers import terraform_on_emulator


def _target(tmp_path: Path, terraform: Terraform, *, local: bool = False) -> commands.Target:
    generated = tmp_path / "generated"
    generated.mkdir(exist_ok=True)
    (generated / "workflows.tfvars.json").write_text("{}\n")
    (generated / "asl").mkdir(exist_ok=True)
    (generated / "asl" / "a.asl.json").write_text("{}\n")
    zip_path = tmp_path / "lambda.zip"
    if not zip_path.exists():
        zip_path.write_bytes(b"zip v1")
    return commands.Target(
        terraform=terraform,
        inputs=DeployInputs(generated, zip_path),
        plan_file=tmp_path / "plans" / "aws-test.tfplan",
        label="stage 'test'",
        plan_command="stepqueue plan --stage test",
        stage="test",
        local=local,
    )


def _small_root(tmp_path: Path, emulator: Emulator, name: str) -> Terraform:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "main.tf").write_text(SHIM_ROOT)
    return Terraform(
        root=root,
        work_dir=tmp_path / "work",
        variables={"aws_endpoint_url": emulator.endpoint, "max_retries": 1, "name": name},
        env=emulator.env(),
    )


def test_apply_without_a_saved_plan_refuses(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = _target(tmp_path, Terraform(root=root, work_dir=tmp_path / "work"))
    with pytest.raises(PlanRefused, match=r"no saved plan .*stepqueue plan --stage test"):
        commands.apply(target)


def test_destroy_without_yes_and_without_a_terminal_refuses_before_anything() -> None:
    # A fresh process with no terminal and no AWS at all: the refusal must come first.
    env = {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-m", "stepqueue", "destroy", "--stage", "prod"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "needs a confirmation" in result.stderr and "--yes" in result.stderr
    assert "Traceback" not in result.stderr and "credentials" not in result.stderr
    assert commands.confirmation(yes=True, local=False) is None
    assert commands.confirmation(yes=False, local=True) is None


@terraform_on_emulator
def test_plan_apply_stale_and_confirmed_destroy(
    emulator: Emulator, tmp_path: Path, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _target(tmp_path, _small_root(tmp_path, emulator, unique_name))
    sqs = emulator.client("sqs")

    assert commands.plan(target) is True
    out = capsys.readouterr().out
    assert "Plan for stage 'test': 5 to add, 0 to change, 0 to destroy" in out
    assert "+ aws_sqs_queue.this" in out and target.plan_file.is_file()
    saved = json.loads(target.saved_plan.fingerprint_path.read_text())
    assert saved["workspace"] == "default" and "asl/a.asl.json" in saved["generated"]

    # The zip changes after the plan was reviewed: refused, nothing applied.
    target.inputs.lambda_zip.write_bytes(b"zip v2")
    with pytest.raises(PlanRefused, match="stale: the Lambda zip changed"):
        commands.apply(target)
    assert not sqs.list_queues(QueueNamePrefix=unique_name).get("QueueUrls")
    # So does a generated file.
    commands.plan(target)
    (target.inputs.generated_dir / "asl" / "a.asl.json").write_text('{"changed": true}\n')
    with pytest.raises(PlanRefused, match=r"stale: the generated asl/a\.asl\.json changed"):
        commands.apply(target)

    commands.plan(target)
    commands.apply(target)
    assert len(sqs.list_queues(QueueNamePrefix=unique_name)["QueueUrls"]) == 2
    assert not target.plan_file.exists()  # applied once, then gone
    with pytest.raises(PlanRefused, match="no saved plan"):
        commands.apply(target)

    assert commands.destroy(target, ask=lambda _: "prod") is False  # the wrong stage's name
    assert len(sqs.list_queues(QueueNamePrefix=unique_name)["QueueUrls"]) == 2
    assert commands.destroy(target, ask=lambda question: "test") is True
    assert not sqs.list_queues(QueueNamePrefix=unique_name).get("QueueUrls")
