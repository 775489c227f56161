"""A remote state backend for the root, chosen per command.

The root declares no backend, so state is local unless the user passes a backend config file
(`terraform init -backend-config=FILE`, e.g. an S3 bucket, key and lock table). Terraform only
reads such a file when the configuration declares a backend of that type, so for the length of
one command an override file declaring it (`backend "s3" {}`) sits in the root: Terraform
merges `*_override.tf` files into the configuration. The file carries a header, and only a file
with that header is ever replaced or removed.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from stepqueue.console import BadInput
from stepqueue.deploy.terraform import BACKEND_OVERRIDE_FILE as OVERRIDE_FILE
from stepqueue.deploy.terraform import TerraformError

HEADER = "# Written by `stepqueue` for one command and removed after it: do not edit.\n"
# Terraform's own naming convention for backend config files: NAME.TYPE.tfbackend.
_TYPED_NAME = re.compile(r"\.([a-z0-9]+)\.tfbackend$")
BACKEND_TYPES = (
    "s3",
    "gcs",
    "azurerm",
    "http",
    "consul",
    "pg",
    "kubernetes",
    "oss",
    "cos",
    "local",
)


class BackendConfigInvalid(TerraformError, BadInput):
    """--backend-config / --backend cannot be used as given (bad input, exit 2)."""


def backend_type(config_file: Path, explicit: str | None = None) -> str:
    """The backend's type: `--backend TYPE`, else from the file name (prod.s3.tfbackend)."""
    if not config_file.is_file():
        raise BackendConfigInvalid(f"{config_file}: no such backend config file")
    kind = explicit
    if kind is None:
        match = _TYPED_NAME.search(config_file.name)
        kind = match.group(1) if match else None
    if kind is None:
        raise BackendConfigInvalid(
            f"{config_file}: cannot tell the backend type; name the file NAME.TYPE.tfbackend "
            "(e.g. prod.s3.tfbackend) or pass --backend s3"
        )
    if kind not in BACKEND_TYPES:
        raise BackendConfigInvalid(
            f"{config_file}: unknown backend type {kind!r}; one of {', '.join(BACKEND_TYPES)}"
        )
    return kind


def _owned(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.read(len(HEADER)) == HEADER
    except OSError:
        return False


@contextlib.contextmanager
def backend_override(root: Path, kind: str | None) -> Iterator[None]:
    """Declare `backend "<kind>" {}` in `root` while the block runs; nothing when kind is None.

    Refuses to touch an override file it did not write."""
    path = root / OVERRIDE_FILE
    if path.exists() and not _owned(path):
        raise TerraformError(f"{path} exists and was not written by stepqueue: move it away")
    if kind is None:
        path.unlink(missing_ok=True)  # a leftover of an interrupted run, proven ours above
        yield
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f'{HEADER}terraform {{\n  backend "{kind}" {{}}\n}}\n', encoding="utf-8")
    os.replace(tmp, path)
    try:
        yield
    finally:
        if _owned(path):
            path.unlink()
