"""stepqueue.deploy.terraform with the Terraform CLI itself, offline: fmt and validate. (The
wrapper's logic without Terraform: tests/unit/deploy/test_terraform.py; apply, plan and destroy
through the shims: test_commands.py.)"""

from __future__ import annotations

from pathlib import Path

from stepqueue.deploy import terraform as tf


def test_fmt_check_reports_the_diff(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "main.tf").write_text('variable "x" {\n  type = string\n}\n')
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "main.tf").write_text('variable "x" {\ntype=string\n}\n')
    assert tf.fmt_check(tmp_path, "ok") == (True, "")
    clean, diff = tf.fmt_check(tmp_path, "ok", "bad")
    assert not clean and "type = string" in diff


def test_validate_returns_the_diagnostics(tmp_path: Path) -> None:
    # No provider: init and validate work offline, without the mirror.
    (tmp_path / "main.tf").write_text('output "y" {\n  value = var.undeclared\n}\n')
    run = tf.Terraform(root=tmp_path, work_dir=tmp_path / "work")
    run.init()
    result = run.validate()
    assert result["valid"] is False
    assert any("undeclared" in d.get("detail", "") for d in result["diagnostics"])
    (tmp_path / "main.tf").write_text('output "y" {\n  value = 1\n}\n')
    assert tf.Terraform(root=tmp_path, work_dir=tmp_path / "work2").validate()["valid"] is True
