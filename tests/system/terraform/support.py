"""Helpers of the Terraform tests (and of bench/terraform.py): copies of the configuration in a
temp dir and checkov. Terraform itself runs through stepqueue/deploy/terraform.py, the project's one
wrapper around python-terraform."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stepqueue.paths import REPO
from stepqueue.paths import TERRAFORM_ROOT as ROOT

MODULES = REPO / "modules"
MODULE_NAMES = (
    "queue",
    "lambda_function",
    "worker",
    "state_machine",
    "semaphore",
    "gatekeeper",
    "monitoring",
    "payload_bucket",
    "watchdog",
    "start_queue",
)
EXAMPLES = tuple(f"modules/{name}/examples/complete" for name in MODULE_NAMES)
CHECKOV = Path(sys.executable).with_name("checkov")


# The worker fields of docs/contracts.md at the defaults the generator always writes.
WORKER_FIELD_DEFAULTS: dict[str, Any] = {
    "architecture": "x86_64",
    "artifact": None,
    "environment": {},
    "ephemeral_storage_mb": 512,
    "layers": [],
    "log_retention_days": None,
    "managed_policy_arns": [],
    "policy_statements": [],
    "secrets": {},
    "security_group_ids": [],
    "subnet_ids": [],
    "tags": {},
}


def archive_of(commit: str, dest: Path, *paths: str, what: str) -> Path:
    """`paths` of `commit` extracted under `dest`, for the tests that apply an earlier
    deployment; fails (never skips) without the commit, saying `what` it was."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, *paths],
        capture_output=True,
    )
    assert archive.returncode == 0, (
        f"commit {commit} ({what}) is not in this repository: fetch it "
        f"({archive.stderr.decode(errors='replace').strip()})"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def copy_configuration(dest: Path) -> Path:
    """terraform/ and modules/ copied under `dest` (relative sources keep working); init there
    writes its lock files and data dirs into the copy, never into the repository."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan")
    shutil.copytree(ROOT, dest / "terraform", ignore=ignore)
    shutil.copytree(MODULES, dest / "modules", ignore=ignore)
    return dest


def run_checkov(target: Path, *, plan_source: Path | None = None) -> dict[str, Any]:
    """checkov offline on a directory of .tf files, or on a plan JSON file (`plan_source`: the
    directory of the .tf files the plan came from, so inline skips apply to the plan too).
    Returns its JSON report."""
    args = [str(CHECKOV), "--skip-download", "--quiet", "--compact", "-o", "json"]
    if plan_source is None:
        args += ["--framework", "terraform", "-d", str(target)]
    else:
        args += ["--framework", "terraform_plan", "-f", str(target)]
        args += ["--repo-root-for-plan-enrichment", str(plan_source)]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode not in (0, 1):
        raise AssertionError(f"checkov crashed ({result.returncode}): {result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    assert len(reports) == 1, [r.get("check_type") for r in reports]
    return dict(reports[0])


def failed_checks(report: Mapping[str, Any]) -> list[str]:
    return [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range']})"
        for c in report.get("results", {}).get("failed_checks", [])
    ]
