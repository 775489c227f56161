"""`stepqueue init`: a project that validates and whose handler test passes, written all or
nothing, never into a directory holding anything; the Terraform wrapper it writes calls the
shipped root of this version, and another version is refused with the way out."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator.api import load_and_validate
from stepqueue import cli
from stepqueue.deploy import shipped
from stepqueue.deploy.terraform import TerraformError
from stepqueue.paths import MODULES, TERRAFORM_ROOT, version
from stepqueue.project import find_project


def _init(directory: Path) -> int:
    return cli.main(["init", str(directory)])


def test_a_new_project_validates_and_its_test_passes(tmp_path: Path) -> None:
    assert _init(tmp_path / "My App") == 0
    root = tmp_path / "My App"
    project = find_project(root)
    [spec] = project.specs()
    assert spec.name == "my-app.yaml"
    workflows, diagnostics = load_and_validate([spec], lambda_src=project.handlers)
    assert workflows is not None, [d.format() for d in diagnostics]
    assert [d for d in diagnostics if d.is_error] == []
    assert workflows[0].concurrency is not None and len(workflows[0].workers) == 1
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "3 passed" in tests.stdout
    for expected in (".gitignore", ".github/workflows/stepqueue.yml", "terraform/stepqueue.tf"):
        assert (root / expected).is_file(), expected
    ci = (root / ".github/workflows/stepqueue.yml").read_text()
    assert "stepqueue validate" in ci and "checkov" in ci and "pytest" in ci


def test_an_empty_directory_is_used_and_anything_else_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert _init(tmp_path / "empty") == 0
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert _init(taken) == 2
    assert "not an empty directory" in capsys.readouterr().err
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
    assert _init(tmp_path / "empty") == 2  # now it holds a project
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging


def test_the_wrapper_passes_every_variable_and_output_of_the_shipped_root(tmp_path: Path) -> None:
    text = shipped.wrapper(tmp_path / "terraform", tmp_path / "build" / "x" / version())
    variables = re.findall(
        r'^variable "(\w+)"', (TERRAFORM_ROOT / "variables.tf").read_text(), re.M
    )
    outputs = re.findall(r'^output "(\w+)"', (TERRAFORM_ROOT / "outputs.tf").read_text(), re.M)
    for name in variables:
        assert re.search(rf"^  {name} +=  ?var\.{name}$", text, re.M), name
    for name in outputs:
        assert f"value       = module.stepqueue.{name}\n" in text, name


def test_prepare_materialises_this_version_and_refuses_another(tmp_path: Path) -> None:
    assert _init(tmp_path / "app") == 0
    project = find_project(tmp_path / "app")
    root = shipped.prepare(project.terraform_root, project.shipped_terraform)
    assert root == project.terraform_root
    copied = project.shipped_terraform
    assert (copied / "terraform" / "main.tf").read_bytes() == (
        TERRAFORM_ROOT / "main.tf"
    ).read_bytes()
    assert (copied / "modules" / "worker" / "main.tf").read_bytes() == (
        MODULES / "worker" / "main.tf"
    ).read_bytes()
    wrapper = project.terraform_root / shipped.MANAGED_FILE
    wrapper.write_text(wrapper.read_text().replace(f"/{version()}/", "/0.0.1/"))
    with pytest.raises(TerraformError) as error:
        shipped.prepare(project.terraform_root, project.shipped_terraform)
    message = str(error.value)
    assert "stepqueue 0.0.1" in message and f"stepqueue {version()}" in message
    assert "stepqueue init --upgrade" in message and "stepqueue==0.0.1" in message
    assert cli.main(["init", "--upgrade", str(tmp_path / "app")]) == 0
    assert shipped.prepare(project.terraform_root, project.shipped_terraform) == root


def test_a_root_of_ones_own_is_used_as_it_is(tmp_path: Path) -> None:
    assert shipped.prepare(TERRAFORM_ROOT, tmp_path / "unused") == TERRAFORM_ROOT
    assert not (tmp_path / "unused").exists()
    with pytest.raises(TerraformError, match="does not exist"):
        shipped.prepare(tmp_path / "missing", tmp_path / "unused")
