"""Every module's example (modules/*/examples/complete), all at once: one root that calls each
example as a module is initialised, validated, planned against the emulator and its plan JSON
scanned by checkov. One init, one plan, one scan prove for all eleven what eleven of each
would: an example that does not validate, plans nothing, or fails a check fails here, named
by its module address."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.terraform import Terraform
from stepqueue.local.emulator import Emulator
from tests.system.terraform.support import (
    EXAMPLES,
    MODULE_NAMES,
    copy_configuration,
    failed_checks,
    run_checkov,
)


def _examples_root(config: Path, lambda_zip: Path) -> Path:
    """A root beside modules/ whose only content is a call of each example."""
    root = config / "examples"
    root.mkdir()
    calls = []
    for name, example in zip(MODULE_NAMES, EXAMPLES, strict=True):
        arguments = [f'  source = "../{example}"']
        if "lambda_zip_path" in (config / example / "variables.tf").read_text():
            arguments.append(f"  lambda_zip_path = {json.dumps(str(lambda_zip))}")
        calls.append(f'module "{name}" {{\n' + "\n".join(arguments) + "\n}\n")
    (root / "main.tf").write_text("\n".join(calls))
    return root


@pytest.fixture(scope="module")
def examples(
    emulator: Emulator, lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Terraform]:
    config = copy_configuration(tmp_path_factory.mktemp("examples"))
    root = _examples_root(config, lambda_zip)
    tf = Terraform(root=root, work_dir=config / "data", env=emulator.env(), parallelism=64)
    tf.init()
    return config, tf


def test_every_example_validates(examples: tuple[Path, Terraform]) -> None:
    _, tf = examples
    result = tf.validate()
    assert result["valid"] is True, result["diagnostics"]


def _plan(tf: Terraform) -> dict[str, Any]:
    assert tf.work_dir is not None
    plan = tf.work_dir / "plan.bin"
    tf.plan_to_file(plan)
    path = tf.work_dir / "plan.json"
    path.write_text(tf.show_plan(plan))
    return {"path": path, "json": json.loads(path.read_text())}


def test_every_example_plans_and_passes_checkov(examples: tuple[Path, Terraform]) -> None:
    config, tf = examples
    plan = _plan(tf)
    planned = {c["address"] for c in plan["json"]["resource_changes"]}
    for name in MODULE_NAMES:
        assert any(a.startswith(f"module.{name}.") for a in planned), f"{name} plans nothing"
    report = run_checkov(plan["path"], plan_source=config)
    assert report["check_type"] == "terraform_plan"
    assert failed_checks(report) == []
    assert report["summary"]["passed"] > 0
