"""Remote state and stages: a backend config file reaches `terraform init`, the override that
declares the backend exists only while a command runs and only ours is ever touched, and each
stage keeps its state in its own workspace. Offline: a root without providers and the `local`
backend type stand in for S3 (the mechanism is the same)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stepqueue.deploy import commands
from stepqueue.deploy.backend import HEADER, OVERRIDE_FILE, backend_override, backend_type
from stepqueue.deploy.inputs import DeployInputs, check_stage
from stepqueue.deploy.terraform import Terraform, TerraformError


def test_backend_type_from_the_file_name_or_the_flag(tmp_path: Path) -> None:
    typed = tmp_path / "prod.s3.tfbackend"
    typed.write_text('bucket = "b"\n')
    assert backend_type(typed) == "s3"
    plain = tmp_path / "backend.hcl"
    plain.write_text('bucket = "b"\n')
    assert backend_type(plain, "s3") == "s3"
    with pytest.raises(TerraformError, match=r"NAME\.TYPE\.tfbackend .* --backend s3"):
        backend_type(plain)
    with pytest.raises(TerraformError, match="unknown backend type 'nfs'"):
        backend_type(plain, "nfs")
    with pytest.raises(TerraformError, match="no such backend config file"):
        backend_type(tmp_path / "missing.s3.tfbackend")


def test_override_exists_only_during_the_command(tmp_path: Path) -> None:
    override = tmp_path / OVERRIDE_FILE
    with backend_override(tmp_path, "s3"):
        assert override.read_text().startswith(HEADER)
        assert 'backend "s3" {}' in override.read_text()
    assert not override.exists()
    with pytest.raises(RuntimeError), backend_override(tmp_path, "s3"):
        raise RuntimeError("terraform failed")
    assert not override.exists()
    override.write_text(HEADER + "# left by an interrupted run\n")
    with backend_override(tmp_path, None):
        assert not override.exists()


def test_a_foreign_override_file_is_never_touched(tmp_path: Path) -> None:
    override = tmp_path / OVERRIDE_FILE
    override.write_text('terraform {\n  backend "s3" {}\n}\n')  # the user's own
    for kind in ("s3", None):
        with (
            pytest.raises(TerraformError, match="not written by stepqueue"),
            backend_override(tmp_path, kind),
        ):
            pass
    assert override.read_text().startswith("terraform {")


def test_stage_names() -> None:
    for good in ("dev", "prod", "qa2", None):
        check_stage(good)
    for bad in ("Prod", "2dev", "dev-1", "a" * 11, "", "default"):
        with pytest.raises(TerraformError, match="prefixes every resource"):
            check_stage(bad)


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_plan_and_apply_through_a_configured_backend_and_workspace(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text('output "answer" {\n  value = 42\n}\n')
    shared = tmp_path / "shared"
    shared.mkdir()
    config = tmp_path / "team.local.tfbackend"
    config.write_text(f'path = "{shared / "stepqueue.tfstate"}"\n')
    generated = tmp_path / "generated"
    generated.mkdir()
    (generated / "workflows.tfvars.json").write_text("{}\n")
    (tmp_path / "z.zip").write_bytes(b"zip")

    def target(workspace: str) -> commands.Target:
        return commands.Target(
            terraform=Terraform(root=root, backend_config=config, workspace=workspace),
            inputs=DeployInputs(generated, tmp_path / "z.zip"),
            plan_file=tmp_path / "plans" / f"{workspace}.tfplan",
            label=f"stage '{workspace}'",
            plan_command="stepqueue plan",
            stage=workspace,
            backend=backend_type(config),
        )

    for workspace in ("default", "dev"):
        commands.plan(target(workspace))
        commands.apply(target(workspace))
        assert not (root / OVERRIDE_FILE).exists()
    # default's state at the configured path; dev's in its own workspace, beside it.
    state = json.loads((shared / "stepqueue.tfstate").read_text())
    assert state["outputs"]["answer"]["value"] == 42
    assert (root / "terraform.tfstate.d" / "dev" / "terraform.tfstate").is_file()
    assert not (root / "terraform.tfstate").exists()
