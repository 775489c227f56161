"""modules/start_queue warns, with the number, when its pace is above what one semaphore's
gatekeeper records (its `check` block): planned against the emulator at 300 starts a second
the warning names the pace and the bound; at the root's default 100 there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepqueue.deploy.terraform import Terraform
from stepqueue.local.emulator import Emulator
from tests.system.terraform.support import copy_configuration

ROOT = """
provider "aws" {
  region = "us-east-1"
}

variable "pace" {
  type = number
}

variable "zip" {
  type = string
}

module "start_queue" {
  source = "../modules/start_queue"

  queue_name         = "pace-start"
  function_name      = "pace-starter"
  function = {
    zip_path         = var.zip
    source_code_hash = filebase64sha256(var.zip)
  }
  state_machine_arns = { orders = "arn:aws:states:us-east-1:123456789012:stateMachine:orders" }
  starts_per_second  = var.pace
  max_concurrency    = 5
}
"""


@pytest.fixture(scope="module")
def pace_root(
    emulator: Emulator, lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    config = copy_configuration(tmp_path_factory.mktemp("pace"))
    root = config / "pace"
    root.mkdir()
    (root / "main.tf").write_text(ROOT)
    (root / "versions.tf").write_text(
        (config / "modules" / "start_queue" / "versions.tf").read_text()
    )
    return root


def _plan(root: Path, emulator: Emulator, lambda_zip: Path, pace: int) -> str:
    tf = Terraform(
        root=root,
        work_dir=root / f"data-{pace}",
        env=emulator.env(),
        variables={"pace": pace, "zip": str(lambda_zip)},
    )
    tf.init()
    return " ".join(tf.plan().output.split())


def test_a_pace_above_what_a_gatekeeper_records_is_warned_with_the_number(
    pace_root: Path, emulator: Emulator, lambda_zip: Path
) -> None:
    text = _plan(pace_root, emulator, lambda_zip, 300)
    assert "Check block assertion failed" in text and "Plan:" in text  # warned, not refused
    assert "starts_per_second = 300 is above the 169 acquires a second" in text
    assert "Set starts_per_second to 169 or less" in text


def test_the_default_pace_is_not_warned(
    pace_root: Path, emulator: Emulator, lambda_zip: Path
) -> None:
    text = _plan(pace_root, emulator, lambda_zip, 100)
    assert "Check block assertion failed" not in text
    assert "Plan:" in text  # planned, not refused
