"""Where a work dir's state lives, with the Terraform CLI itself (offline: outputs only).

A root that declares `backend "local"` (as the repository's does) gets its state placed by
`init -backend-config=path=...`, so no command passes the deprecated `-state` flag and
Terraform prints no deprecation warning; the state stays at work_dir/terraform.tfstate, where
the -state flag put it before, so an existing deployment's state is found, not lost."""

from __future__ import annotations

import json
from pathlib import Path

from stepqueue.deploy import terraform as tf

OUTPUT = 'variable "v" {\n  type = string\n}\n\noutput "v" {\n  value = var.v\n}\n'
LOCAL_BACKEND = 'terraform {\n  backend "local" {}\n}\n'


def _apply(run: tf.Terraform, plan: Path) -> str:
    run.init()
    run.plan_to_file(plan)
    return run.apply_plan(plan)


def test_a_local_backend_root_needs_no_state_flag(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(OUTPUT)
    (root / "versions.tf").write_text(LOCAL_BACKEND)
    run = tf.Terraform(root=root, work_dir=tmp_path / "work", variables={"v": "one"})
    assert run.local_backend
    text = _apply(run, tmp_path / "plan.bin")
    assert "Deprecated" not in text and "-state" not in text
    state = tmp_path / "work" / "terraform.tfstate"
    assert json.loads(state.read_text())["outputs"]["v"]["value"] == "one"
    assert not (root / "terraform.tfstate").exists()  # nothing written beside the code
    assert run.output() == {"v": "one"}


def test_existing_state_of_the_state_flag_is_kept(tmp_path: Path) -> None:
    """A work dir deployed before the root declared its backend (with -state): after the
    change, the same state file is read and written, and nothing is re-created."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(OUTPUT)
    before = tf.Terraform(root=root, work_dir=tmp_path / "work", variables={"v": "kept"})
    assert not before.local_backend
    _apply(before, tmp_path / "plan.bin")
    state = tmp_path / "work" / "terraform.tfstate"
    serial = json.loads(state.read_text())["serial"]

    (root / "versions.tf").write_text(LOCAL_BACKEND)
    after = tf.Terraform(root=root, work_dir=tmp_path / "work", variables={"v": "kept"})
    after.init()
    assert after.output() == {"v": "kept"}
    assert after.plan().changes is False  # the same state: nothing to do
    assert json.loads(state.read_text())["serial"] == serial
    text = _apply(after, tmp_path / "plan2.bin")
    assert "Deprecated" not in text
    assert not (root / "terraform.tfstate").exists()
