"""Static checks of terraform/ and modules/: fmt, validate (the root; every module example in
test_examples.py), checkov with zero failures, every skip inline with a reason, and the
conventions of the modules (file layout, typed and described variables, try() in outputs only
where a resource may be absent), one semaphore limit in the generator and both Terraform
validations, and one validation of a Lambda's settings through every wrapper module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stepqueue.deploy.terraform import Terraform, TerraformError, fmt_check
from tests.system.terraform.readme import documented_dirs, rendered
from tests.system.terraform.support import (
    MODULE_NAMES,
    MODULES,
    REPO,
    ROOT,
    copy_configuration,
    failed_checks,
    run_checkov,
)


def test_fmt() -> None:
    clean, diff = fmt_check(REPO, "terraform", "modules")
    assert clean, f"terraform fmt would change:\n{diff}"


def test_validate_root(tmp_path: Path) -> None:
    """The root (each module example: test_examples.py)."""
    copy = copy_configuration(tmp_path) / "terraform"
    tf = Terraform(root=copy)
    tf.init()
    result = tf.validate()
    assert result["valid"] is True, result["diagnostics"]


def test_start_queue_pace_is_refused_at_the_root(tmp_path: Path) -> None:
    """Settings the start queue module would refuse (a batch cannot fit a starter's time at its
    pace) are refused by the root's own variables, in the root's terms, before any resource."""
    copy = copy_configuration(tmp_path) / "terraform"
    offline = {
        "AWS_ACCESS_KEY_ID": "unused",
        "AWS_SECRET_ACCESS_KEY": "unused",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "us-east-1",
    }
    pace = {"start_queue_starts_per_second": 100}
    tf = Terraform(root=copy, env=offline, variables={**pace, "start_queue_max_concurrency": 451})
    tf.init()
    with pytest.raises(TerraformError) as refused:
        tf.plan()
    text = " ".join(str(refused.value).split())
    assert "Invalid value for variable" in text
    assert "start_queue_max_concurrency must be at most start_queue_starts_per_second × 4.5" in text


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
    # The main resource is `this`; where it is the shared Lambda function, the call of that
    # module is `function`.
    assert re.search(r'^resource "[a-z0-9_]+" "this" \{', main, re.M) or re.search(
        r'^module "function" \{\n\s+source\s*=\s*"\.\./lambda_function"', main, re.M
    ), "no main resource `this`"

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
        # try() only where the resource may be absent (an instance of a conditional count);
        # elsewhere it would hide a wrong attribute name behind a null.
        conditional = re.search(r"\baws_[a-z0-9_]+\.[a-z0-9_]+\[0\]", text)
        if conditional:
            assert "try(" in text, f"{module}: output {name} reads a maybe-absent resource bare"
        else:
            assert "try(" not in text, f"{module}: output {name} uses try() on what always exists"

    readme = (base / "README.md").read_text()
    assert readme.index("## Usage") < readme.index("## Inputs") < readme.index("## Outputs")
    for name, _ in blocks:
        assert f"`{name}`" in readme, f"{module}: README does not document var.{name}"


@pytest.mark.parametrize("directory", documented_dirs(), ids=lambda p: p.name)
def test_readme_tables_are_current(directory: Path) -> None:
    readme = directory / "README.md"
    assert readme.read_text() == rendered(readme), (
        f"{readme} is stale: run .venv/bin/python -m tests.system.terraform.readme"
    )


def _generator_semaphore_limit() -> int:
    """The generator's maximum semaphore limit (the waiting room's, the only mode)."""
    from generator import vocabulary

    return int(vocabulary.WAITING_ROOM_LIMIT_MAX)


@pytest.mark.parametrize(
    "path",
    [ROOT / "variables.tf", MODULES / "semaphore" / "variables.tf"],
    ids=["root", "semaphore"],
)
def test_semaphore_limits_are_the_generators(path: Path) -> None:
    text = path.read_text()
    # The rule: `s.limit >= 1 && s.limit <= TOP ...`, the same for every semaphore.
    bounds = re.findall(r"\b[a-z]+\.limit >= 1 && [a-z]+\.limit <= ([0-9]+)\b", text)
    assert bounds, f"{path}: no limit validation"
    assert {int(b) for b in bounds} == {_generator_semaphore_limit()}, f"{path}: {bounds}"


def test_gatekeeper_limit_is_the_generators() -> None:
    text = (MODULES / "gatekeeper" / "variables.tf").read_text()
    bounds = re.findall(r"\b[a-z]+\.limit <= ([0-9]+)\b", text)
    assert {int(b) for b in bounds} == {_generator_semaphore_limit()}


# Each wrapper's required inputs besides `function` (any valid values: the plan stops at the
# settings' validation, before any resource or API call).
_WRAPPER_INPUTS = {
    "worker": {
        "function_name": '"w"',
        "handler": '"examples.orders.enrich"',
        "queue_arn": '"arn:aws:sqs:us-east-1:123456789012:q"',
    },
    "gatekeeper": {
        "name": '"g"',
        "table_name": '"tbl"',
        "table_arn": '"arn:aws:dynamodb:us-east-1:123456789012:table/tbl"',
        "semaphores": "{ s = { limit = 1, state_machine_arns = [] } }",
    },
    "start_queue": {
        "queue_name": '"q"',
        "function_name": '"s"',
        "state_machine_arns": '{ a = "arn:aws:states:us-east-1:123456789012:stateMachine:a" }',
    },
    "watchdog": {
        "function_name": '"w"',
        "state_machine_arns": '["arn:aws:states:us-east-1:123456789012:stateMachine:a"]',
    },
}
_OFFLINE_PROVIDER = """
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "unused"
  secret_key                  = "unused"
  max_retries                 = 0
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  endpoints {
    sts = "http://127.0.0.1:9"
  }
}
"""


@pytest.mark.parametrize("wrapper", sorted(_WRAPPER_INPUTS))
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("memroy_mb = 512", "A function setting is misspelt or unknown (given: memroy_mb"),
        ("memory_mb = 64", "settings.memory_mb must be a whole number from 128 to 10240."),
    ],
    ids=["misspelt", "out-of-range"],
)
def test_every_wrapper_refuses_a_bad_setting_the_same_way(
    tmp_path: Path, wrapper: str, setting: str, message: str
) -> None:
    """One shape, one validation: a setting modules/lambda_function refuses is refused through
    every wrapper with the same message, and a misspelt one is not silently dropped."""
    config = copy_configuration(tmp_path)
    root = config / "caller"
    root.mkdir()
    inputs = "\n".join(f"  {k} = {v}" for k, v in _WRAPPER_INPUTS[wrapper].items())
    (root / "main.tf").write_text(
        _OFFLINE_PROVIDER
        + f'module "{wrapper}" {{\n  source = "../modules/{wrapper}"\n{inputs}\n'
        + '  function = {\n    zip_path = "x.zip"\n'
        + '    source_code_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="\n'
        + f"    {setting}\n  }}\n}}\n"
    )
    tf = Terraform(root=root, work_dir=tmp_path / "data")
    tf.init()
    with pytest.raises(TerraformError) as refused:
        tf.plan()
    assert message in " ".join(str(refused.value).split())
