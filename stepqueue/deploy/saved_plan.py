"""A saved Terraform plan and the fingerprint of what it was made from.

`apply` applies exactly the plan that was reviewed: it refuses when the plan is missing, and
when the generated inputs, the zip, the Terraform code, the variables, the backend or the
stage differ from those the plan was made from. (Terraform itself refuses a plan whose state
changed since.)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepqueue.deploy.terraform import TerraformError

FINGERPRINT_VERSION = 2


class PlanRefused(TerraformError):
    """There is no saved plan to apply, or it no longer describes the inputs."""


@dataclass(frozen=True)
class SavedPlan:
    path: Path  # the binary plan; its fingerprint sits beside it

    @property
    def fingerprint_path(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def record(self, fingerprint: dict[str, Any]) -> None:
        """After a successful plan: remember what it was made from (atomically)."""
        document = {"version": FINGERPRINT_VERSION, **fingerprint}
        tmp = self.fingerprint_path.with_name(self.fingerprint_path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.fingerprint_path)

    def discard(self) -> None:
        """A plan is applied once: Terraform would refuse it a second time anyway."""
        for path in (self.path, self.fingerprint_path):
            path.unlink(missing_ok=True)

    def require(self, plan_command: str) -> None:
        """Raise PlanRefused when there is no saved plan (its fix: `plan_command`)."""
        if not self.path.is_file() or not self.fingerprint_path.is_file():
            raise PlanRefused(
                f"no saved plan at {self.path}: run `{plan_command}`, review it, then apply"
            )

    def check(self, current: dict[str, Any], plan_command: str) -> None:
        """Raise PlanRefused unless the saved plan exists and matches `current`."""
        self.require(plan_command)
        try:
            saved = json.loads(self.fingerprint_path.read_text())
        except (OSError, ValueError):
            saved = {}
        if saved.get("version") != FINGERPRINT_VERSION:
            raise PlanRefused(f"{self.fingerprint_path} is unreadable: run `{plan_command}` again")
        changed = stale_parts(saved, current)
        if changed:
            raise PlanRefused(
                f"the saved plan {self.path} is stale: {', '.join(changed)} changed since it "
                f"was made; run `{plan_command}` again and review it"
            )


def stale_parts(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Human names of what differs, most specific first (which generated file, ...)."""
    changed: list[str] = []
    saved_files = saved.get("generated", {})
    current_files = current.get("generated", {})
    for name in sorted(set(saved_files) | set(current_files)):
        if saved_files.get(name) != current_files.get(name):
            changed.append(f"the generated {name}")
    labels = {
        "lambda_zip": "the Lambda zip",
        "terraform_code": "the Terraform code",
        "variables": "the variables",
        "backend_config": "the backend config",
        "backend_type": "the backend type",
        "workspace": "the stage",
        "account": "the AWS account",
    }
    changed += [label for key, label in labels.items() if saved.get(key) != current.get(key)]
    return changed
