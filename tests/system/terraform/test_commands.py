"""Safe deploys, on the smallest root that shows them (offline: Terraform's built-in provider):
apply applies exactly the saved plan and refuses a missing or stale one, a second plan is
empty, and destroy asks for the stage's name, then leaves nothing. (Refusals that need no
Terraform: tests/unit/deploy/test_commands.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepqueue.deploy import commands
from stepqueue.deploy.saved_plan import PlanRefused
from stepqueue.deploy.terraform import Terraform
from tests.support.deploy import target

# Two resources of Terraform's built-in provider: real plans, applies and destroys, offline. What
# the AWS provider needs from the emulator to plan, apply and destroy is proven on the test
# stack (tests/system/stack: a second plan is empty, destroy leaves nothing).
# It declares its backend as the repository's root does: state placed by init, no -state flag.
ROOT = """
terraform {
  backend "local" {}
}
variable "name" { type = string }
resource "terraform_data" "queue" { input = var.name }
resource "terraform_data" "dlq" { input = "${var.name}-dlq" }
output "queue_url" { value = "https://queue.example/${terraform_data.queue.output}" }
"""


def _small_root(tmp_path: Path, name: str) -> Terraform:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "main.tf").write_text(ROOT)
    return Terraform(root=root, work_dir=tmp_path / "work", variables={"name": name})


def _resources(tf: Terraform) -> list[str]:
    if not tf.state_path.exists():  # nothing was ever applied
        return []
    values = tf.show_json().get("values") or {}
    return sorted(r["address"] for r in values.get("root_module", {}).get("resources", []))


def test_plan_apply_stale_and_confirmed_destroy(
    tmp_path: Path, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tf = _small_root(tmp_path, unique_name)
    tf.init()
    tf.init()  # idempotent: the marker makes it a no-op
    deploy = target(tmp_path, tf)
    applied = ["terraform_data.dlq", "terraform_data.queue"]

    assert commands.plan(deploy) is True
    out = capsys.readouterr().out
    assert "Plan for stage 'test': 2 to add, 0 to change, 0 to destroy" in out
    assert "+ terraform_data.queue" in out and deploy.plan_file.is_file()
    saved = json.loads(deploy.saved_plan.fingerprint_path.read_text())
    assert saved["workspace"] == "default" and "asl/a.asl.json" in saved["generated"]

    # The zip changes after the plan was reviewed: refused, nothing applied.
    deploy.inputs.lambda_zip.write_bytes(b"zip v2")
    with pytest.raises(PlanRefused, match="stale: the Lambda zip changed"):
        commands.apply(deploy)
    assert _resources(tf) == []
    # So does a generated file.
    commands.plan(deploy)
    (deploy.inputs.generated_dir / "asl" / "a.asl.json").write_text('{"changed": true}\n')
    with pytest.raises(PlanRefused, match=r"stale: the generated asl/a\.asl\.json changed"):
        commands.apply(deploy)
    assert _resources(tf) == []

    commands.plan(deploy)
    capsys.readouterr()
    commands.apply(deploy)
    assert _resources(tf) == applied
    out, err = capsys.readouterr()
    # Progress in a log: plain lines (no \r), resources done out of those planned; then one
    # line of counts instead of Terraform's output, which is kept in a file.
    assert "\r" not in err and "terraform apply: 2/2" in err and err.rstrip().endswith("done")
    assert "2 added, 0 changed, 0 destroyed" in out and "Outputs:" not in out + err
    log = deploy.plan_file.with_name(f"{deploy.plan_file.stem}.apply.log")
    assert "Apply complete!" in log.read_text() and "Deprecated" not in log.read_text()
    assert deploy.report["added"] == 2
    assert tf.output()["queue_url"].endswith(f"/{unique_name}")
    assert not deploy.plan_file.exists()  # applied once, then gone
    with pytest.raises(PlanRefused, match="no saved plan"):
        commands.apply(deploy)
    assert not tf.plan().changes

    assert commands.destroy(deploy, ask=lambda _: "prod") is False  # the wrong stage's name
    assert _resources(tf) == applied
    assert commands.destroy(deploy, ask=lambda question: "test") is True
    assert _resources(tf) == []
