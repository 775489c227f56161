"""Safe deploys: apply applies exactly the saved plan and refuses a missing or stale one;
destroy asks for the stage's name and, with no terminal and no --yes, refuses before touching
anything. Against the emulator with a small root (a queue, its DLQ, a role, a state machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stepqueue.deploy import commands
from stepqueue.deploy.saved_plan import PlanRefused
from stepqueue.deploy.terraform import Terraform
from stepqueue.paths import REPO
from tests.support.deploy import target


def test_apply_without_a_saved_plan_refuses(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    deploy = target(tmp_path, Terraform(root=root, work_dir=tmp_path / "work"))
    with pytest.raises(PlanRefused, match=r"no saved plan .*stepqueue plan --stage test"):
        commands.apply(deploy)


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
