"""The Terraform root `stepqueue init` writes is a root Terraform accepts as written: formatted
as `terraform fmt` would, and valid (init offline from the mirror, then validate) once the
installed version's root and modules are materialised where it points."""

from __future__ import annotations

from pathlib import Path

from stepqueue import cli
from stepqueue.deploy import shipped
from stepqueue.deploy import terraform as tf
from stepqueue.project import find_project


def test_the_scaffolded_root_is_formatted_and_valid(tmp_path: Path) -> None:
    assert cli.main(["init", str(tmp_path / "app")]) == 0
    project = find_project(tmp_path / "app")
    root = shipped.prepare(project.terraform_root, project.shipped_terraform)
    assert tf.fmt_check(project.root, "terraform") == (True, "")
    run = tf.Terraform(root=root, work_dir=tmp_path / "work")
    run.init()
    result = run.validate()
    assert result["valid"] is True, result["diagnostics"]
