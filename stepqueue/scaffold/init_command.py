"""`stepqueue init DIR`: a new project (docs/project.md); `stepqueue init --upgrade [DIR]`:
its Terraform wrapper rewritten for the installed version.

All or nothing: the project is written in a staging directory beside DIR and moved into place,
so a failure leaves nothing behind. DIR must not exist or be empty: init never writes into a
directory holding anything (it did not create it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from stepqueue import console

HELP = (
    "create a project in DIR: stepqueue.toml, a workflow with a worker and a semaphore, its "
    "handler and test, a Terraform root using the installed version's modules, .gitignore, CI"
)
NAME = re.compile(r"[^a-z0-9]+")


def add_command(commands: Any) -> None:
    sub = commands.add_parser("init", help=HELP, description=HELP)
    sub.add_argument("dir", metavar="DIR", nargs="?", help="the new project's directory")
    sub.add_argument(
        "--upgrade",
        action="store_true",
        help="in an existing project (DIR, default: the current one): rewrite "
        "the Terraform root's stepqueue.tf for the installed stepqueue's modules, nothing else",
    )


class InitError(Exception):
    """A refusal: the message says why and what to do."""


def workflow_name(directory: Path) -> str:
    """The first workflow's name, from the directory's: lowercase letters, digits and dashes."""
    name = NAME.sub("-", directory.resolve().name.lower()).strip("-")[:40].strip("-")
    return name if name and name[0].isalpha() else "hello"


def run(args: argparse.Namespace) -> int:
    try:
        if args.upgrade:
            return _upgrade(Path(args.dir) if args.dir else None)
        if not args.dir:
            raise InitError("init needs DIR, the new project's directory")
        return _init(Path(args.dir))
    except InitError as error:
        raise console.usage_error(str(error)) from None


def _init(directory: Path) -> int:
    from stepqueue.deploy.shipped import wrapper
    from stepqueue.project import load
    from stepqueue.scaffold.files import files

    directory = Path(os.path.abspath(directory))
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InitError(
            f"{directory} exists and is not an empty directory: init writes a new project only; "
            "give a new or empty directory (or `stepqueue init --upgrade` in an existing project)"
        )
    name = workflow_name(directory)
    package = name.replace("-", "_")
    parent = directory.parent
    if not parent.is_dir():
        raise InitError(f"{parent} does not exist: create it first, or give another DIR")
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{directory.name}-init-"))
    try:
        for relative, text in files(name, package).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        project = load(staging / "stepqueue.toml")
        final = directory
        shipped = final / project.shipped_terraform.relative_to(staging)
        (staging / "terraform" / "stepqueue.tf").write_text(
            wrapper(final / "terraform", shipped), encoding="utf-8"
        )
        if directory.exists():
            directory.rmdir()
        staging.rename(directory)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise InitError(f"cannot write {directory}: {error.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    console.current().result(
        {"created": str(directory), "workflow": name},
        f"created {directory}: workflow {name} ({directory}/workflows/{name}.yaml)\n"
        f"next: cd {directory} && stepqueue validate (its README.md shows the rest)",
    )
    return 0


def _upgrade(directory: Path | None) -> int:
    from stepqueue.deploy.shipped import MANAGED_FILE, wrapper
    from stepqueue.paths import version
    from stepqueue.project import find_project

    project = find_project(explicit=directory)
    root = project.terraform_root
    root.mkdir(parents=True, exist_ok=True)
    target = root / MANAGED_FILE
    tmp = target.with_suffix(".tf.tmp")
    tmp.write_text(wrapper(root, project.shipped_terraform), encoding="utf-8")
    tmp.replace(target)
    console.current().result(
        {"rewrote": str(target), "version": version()},
        f"rewrote {target} for stepqueue {version()}: plan to see what changes",
    )
    return 0
