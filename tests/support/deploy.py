"""A deploy target over any Terraform root, with stand-in inputs (a tfvars file, one ASL file
and a zip) whose changes make a saved plan stale."""

from __future__ import annotations

from pathlib import Path

from stepqueue.deploy import commands
from stepqueue.deploy.inputs import DeployInputs
from stepqueue.deploy.terraform import Terraform


def target(tmp_path: Path, terraform: Terraform, *, local: bool = False) -> commands.Target:
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
