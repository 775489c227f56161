"""A project's Terraform root and the Terraform the installed stepqueue ships (docs/project.md).

`stepqueue init` writes the project's root as a thin wrapper: its `stepqueue.tf` calls the
shipped root as a module, passes every variable through and re-exports every output. Its module
source names the version it was written for, under the project's build directory:

    module "stepqueue" { source = "../build/stepqueue/terraform/0.1.0/terraform" ... }

Before Terraform runs, `prepare()` checks that version is the CLI's (else: a clear message and
the two ways out) and materialises the installed version's root and modules there. So the
modules a project deploys are always exactly those of the CLI that deploys them; upgrading is
`pip install -U stepqueue` and `stepqueue init --upgrade` (which rewrites stepqueue.tf only).
A root without stepqueue.tf (this repository's terraform/, which *is* the shipped root) is used
as it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from stepqueue.deploy.terraform import TerraformError
from stepqueue.paths import MODULES, TERRAFORM_ROOT, version

MANAGED_FILE = "stepqueue.tf"
SOURCE = re.compile(r'source\s*=\s*"([^"]*/stepqueue/terraform/([^/"]+)/terraform)"')
VARIABLE = re.compile(r'^variable "(\w+)"', re.M)
OUTPUT = re.compile(r'^output "(\w+)" \{\n\s*description\s*=\s*("(?:[^"\\]|\\.)*")', re.M)
SHIPPED_DIRS = (("terraform", TERRAFORM_ROOT), ("modules", MODULES))


def _shipped_files() -> list[tuple[str, Path]]:
    files = []
    for name, base in SHIPPED_DIRS:
        for path in sorted(base.rglob("*.tf")):
            if ".terraform" not in path.relative_to(base).parts:
                files.append((f"{name}/{path.relative_to(base).as_posix()}", path))
    return files


def materialise(dest: Path) -> Path:
    """The installed version's root and modules copied to `dest` (terraform/, modules/), done
    again only when their content differs; returns the root's copy."""
    files = _shipped_files()
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode() + b"\0" + path.read_bytes())
    marker = dest / ".stepqueue-digest"
    if marker.is_file() and marker.read_text() == digest.hexdigest():
        return dest / "terraform"
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".materialising-"))
    for name, path in files:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staging / name)
    (staging / marker.name).write_text(digest.hexdigest())
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return dest / "terraform"


def wrapper(terraform_root: Path, shipped: Path) -> str:
    """stepqueue.tf for a project root at `terraform_root` whose shipped copy is at `shipped`."""
    source = os.path.relpath(shipped / "terraform", terraform_root)
    variables_tf = (TERRAFORM_ROOT / "variables.tf").read_text(encoding="utf-8")
    names = VARIABLE.findall(variables_tf)
    width = max(len(n) for n in names)
    lines = [
        f"# Written by `stepqueue init` for stepqueue {version()}; `stepqueue init --upgrade`",
        "# rewrites it for the installed version. Your own Terraform goes in other files of",
        "# this directory. The module is the root shipped with stepqueue, copied under the",
        "# build directory by every stepqueue command that runs Terraform (docs/project.md).",
        "",
        'module "stepqueue" {',
        f'  source = "{source}"',
        "",
        *(f"  {name.ljust(width)} = var.{name}" for name in names),
        "}",
        "",
    ]
    for name, description in OUTPUT.findall((TERRAFORM_ROOT / "outputs.tf").read_text()):
        lines += [
            f'output "{name}" {{',
            f"  description = {description}",
            f"  value       = module.stepqueue.{name}",
            "}",
            "",
        ]
    lines += ["# The shipped root's variables, as it declares them.", variables_tf.rstrip(), ""]
    return "\n".join(lines)


def prepare(terraform_root: Path, shipped: Path) -> Path:
    """The root to run Terraform in, with the shipped Terraform it calls materialised at
    `shipped`; a TerraformError saying what to do when it was written for another version."""
    if not terraform_root.is_dir():
        raise TerraformError(
            f"no Terraform root at {terraform_root}: the project's `terraform` (stepqueue.toml) "
            "names a directory that does not exist; `stepqueue init --upgrade` writes one"
        )
    managed = terraform_root / MANAGED_FILE
    if not managed.is_file():
        return terraform_root  # a root of one's own: used as it is
    match = SOURCE.search(managed.read_text(encoding="utf-8"))
    if match is None:
        raise TerraformError(
            f"{managed} does not call the Terraform shipped with stepqueue (no module source "
            "…/stepqueue/terraform/VERSION/terraform): `stepqueue init --upgrade` rewrites it"
        )
    written_for, installed = match.group(2), version()
    if written_for != installed:
        raise TerraformError(
            f"{managed} uses the Terraform modules of stepqueue {written_for}, but this CLI is "
            f"stepqueue {installed}: run `stepqueue init --upgrade` to deploy with {installed}'s "
            f"modules (it rewrites {MANAGED_FILE} only; read the CHANGELOG first), or install "
            f"stepqueue=={written_for} to keep {written_for}'s"
        )
    expected = os.path.relpath(shipped / "terraform", terraform_root)
    if match.group(1) != expected:
        raise TerraformError(
            f"{managed} calls the shipped root at {match.group(1)}, but this project's build "
            f"directory puts it at {expected}: run `stepqueue init --upgrade`"
        )
    materialise(shipped)
    return terraform_root
