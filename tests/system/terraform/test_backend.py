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
from stepqueue.deploy.saved_plan import PlanRefused
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


ROOT = 'resource "terraform_data" "marker" {\n  input = 42\n}\n' + (
    'output "answer" {\n  value = terraform_data.marker.output\n}\n'
)


def _offline_target(
    tmp_path: Path,
    workspace: str,
    config: Path | None = None,
    account: str | None = None,
) -> commands.Target:
    """A root whose only resource needs Terraform's built-in provider: real plans, applies and
    destroys, offline, in a second."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "main.tf").write_text(ROOT)
    generated = tmp_path / "generated"
    generated.mkdir(exist_ok=True)
    (generated / "workflows.tfvars.json").write_text("{}\n")
    (tmp_path / "z.zip").write_bytes(b"zip")
    return commands.Target(
        terraform=Terraform(root=root, backend_config=config, workspace=workspace),
        inputs=DeployInputs(generated, tmp_path / "z.zip"),
        plan_file=tmp_path / "plans" / f"{workspace}.tfplan",
        label=f"stage '{workspace}'",
        plan_command="stepqueue plan",
        stage=workspace,
        backend=backend_type(config) if config else None,
        account=(lambda: account) if account else None,
    )


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_plan_and_apply_through_a_configured_backend_and_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "team.local.tfbackend").write_text(f'path = "{shared / "stepqueue.tfstate"}"\n')
    # Named relative to where the user stands, as on the command line; Terraform runs elsewhere.
    monkeypatch.chdir(tmp_path)
    config = Path("team.local.tfbackend")
    root = tmp_path / "root"

    def target(workspace: str) -> commands.Target:
        return _offline_target(tmp_path, workspace, config)

    # dev first: creating its workspace selects it in the shared data dir, and the unstaged
    # commands after it must still use the default one (every command names its workspace).
    for workspace in ("dev", "default"):
        commands.plan(target(workspace))
        commands.apply(target(workspace))
        assert not (root / OVERRIDE_FILE).exists()
    # default's state at the configured path; dev's in its own workspace, beside it.
    state = json.loads((shared / "stepqueue.tfstate").read_text())
    assert state["outputs"]["answer"]["value"] == 42
    assert (root / "terraform.tfstate.d" / "dev" / "terraform.tfstate").is_file()
    assert not (root / "terraform.tfstate").exists()


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_a_plan_is_applied_only_in_the_account_it_was_made_for(tmp_path: Path) -> None:
    commands.plan(_offline_target(tmp_path, "default", account="111111111111"))
    with pytest.raises(PlanRefused, match="the AWS account changed"):
        commands.apply(_offline_target(tmp_path, "default", account="222222222222"))
    commands.apply(_offline_target(tmp_path, "default", account="111111111111"))


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_destroy_asks_and_an_eof_is_no(tmp_path: Path) -> None:
    target = _offline_target(tmp_path, "default")
    commands.plan(target)
    commands.apply(target)

    def eof(_: str) -> str:
        raise EOFError

    assert commands.destroy(target, ask=eof) is False
    assert commands.destroy(target, ask=lambda _: "default") is True
    state = json.loads((tmp_path / "root" / "terraform.tfstate").read_text())
    assert state["resources"] == []
