"""Static checks of terraform/ and modules/: fmt, validate (root and every module example),
checkov with zero failures, every skip inline with a reason, and the conventions of the
modules (file layout, typed and described variables, outputs through try())."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stepqueue.deploy.terraform import Terraform, fmt_check
from tests.terraform.readme import documented_dirs, rendered
from tests.terraform.support import (
    EXAMPLES,
    MODULE_NAMES,
    MODULES,
    REPO,
    ROOT,
    copy_configuration,
    failed_checks,
    run_checkov,
)

pytestmark = pytest.mark.terraform


def test_fmt() -> None:
    clean, diff = fmt_check(REPO, "terraform", "modules")
    assert clean, f"terraform fmt would change:\n{diff}"


@pytest.mark.parametrize("config", ["terraform", *EXAMPLES])
def test_validate(config: str, tmp_path: Path) -> None:
    copy = copy_configuration(tmp_path) / config
    tf = Terraform(root=copy)
    tf.init()
    result = tf.validate()
    assert result["valid"] is True, result["diagnostics"]


@pytest.mark.parametrize("directory", [ROOT, MODULES], ids=["terraform", "modules"])
def test_checkov_directories(directory: Path) -> None:
    report = run_checkov(directory)
    assert failed_checks(report) == []
    summary = report["summary"]
    assert summary["passed"] > 0


def test_every_checkov_skip_is_inline_with_a_reason() -> None:
    skip = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(.*)$")
    found = 0
    for path in [*ROOT.rglob("*.tf"), *MODULES.rglob("*.tf")]:
        if ".terraform" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = skip.search(line)
            if match:
                found += 1
                reason = match.group(2).lstrip(":").strip()
                assert len(reason) >= 20, f"{path}:{number}: checkov skip without a reason"
    assert found > 0


@pytest.mark.parametrize("module", MODULE_NAMES)
def test_module_conventions(module: str) -> None:
    base = MODULES / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (base / name).is_file(), f"{module}: {name} missing"
    assert (base / "examples" / "complete" / "main.tf").is_file()
    main = "\n".join(p.read_text() for p in base.glob("*.tf"))
    assert re.search(r'^resource "[a-z0-9_]+" "this" \{', main, re.M), "no main resource `this`"

    variables = (base / "variables.tf").read_text()
    blocks = re.findall(r'^variable "([a-z0-9_]+)" \{(.*?)^\}', variables, re.M | re.S)
    assert blocks
    for name, body in blocks:
        assert re.search(r"^\s+description\s*=", body, re.M), f"{module}: var.{name} undescribed"
        assert re.search(r"^\s+type\s*=", body, re.M), f"{module}: var.{name} untyped"

    outputs = (base / "outputs.tf").read_text()
    for name, body in re.findall(r'^output "([a-z0-9_]+)" \{(.*?)^\}', outputs, re.M | re.S):
        value = re.search(r"^\s+value\s*=\s*(.*)", body, re.M | re.S)
        assert value, f"{module}: output {name} has no value"
        text = value.group(1)
        # A resource attribute is read through try(); plain variables and locals need none.
        if re.search(r"\baws_[a-z0-9_]+\.", text):
            assert "try(" in text, f"{module}: output {name} reads a resource without try()"

    readme = (base / "README.md").read_text()
    assert readme.index("## Usage") < readme.index("## Inputs") < readme.index("## Outputs")
    for name, _ in blocks:
        assert f"`{name}`" in readme, f"{module}: README does not document var.{name}"


@pytest.mark.parametrize("directory", documented_dirs(), ids=lambda p: p.name)
def test_readme_tables_are_current(directory: Path) -> None:
    readme = directory / "README.md"
    assert readme.read_text() == rendered(readme), (
        f"{readme} is stale: run .venv/bin/python -m tests.terraform.readme"
    )
