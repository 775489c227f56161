"""plan, apply and destroy, the Terraform way.

- `plan` writes a saved plan, prints its summary and records what it was made from;
- `apply` applies exactly that plan, and refuses when it is missing or stale;
- `destroy` plans the destruction, shows it and, against AWS, asks for the stage's name
  unless told `--yes`; with no terminal to ask and no `--yes` it refuses before doing anything.

Locally (the emulator) nothing asks: `apply` makes a fresh plan and applies it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepqueue import console
from stepqueue.deploy import summary
from stepqueue.deploy.backend import backend_override
from stepqueue.deploy.inputs import DeployInputs
from stepqueue.deploy.progress import apply_with_progress, init_with_progress, plan_with_progress
from stepqueue.deploy.saved_plan import PlanRefused, SavedPlan
from stepqueue.deploy.terraform import Terraform, TerraformError

Ask = Callable[[str], str]


class DestroyRefused(TerraformError):
    """Destroy against AWS was not confirmed."""


@dataclass
class Target:
    """One deployment: the Terraform root with its inputs, where its plan is saved, and how
    to talk about it."""

    terraform: Terraform
    inputs: DeployInputs
    plan_file: Path
    label: str  # "stage 'prod' on AWS"
    plan_command: str  # what the user runs to make the plan `apply` needs
    stage: str  # what a user types to confirm destroy
    backend: str | None = None  # backend type declared while the command runs
    local: bool = False  # the emulator: nothing asks, apply plans for itself
    account: Callable[[], str] | None = None  # the AWS account the credentials act in
    # What the last command did, as `--json` reports it (filled by plan, apply, destroy).
    report: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        account = self.account() if self.account is not None else None
        return self.inputs.fingerprint(self.terraform, account, self.backend)

    @property
    def saved_plan(self) -> SavedPlan:
        return SavedPlan(self.plan_file)


def _say(message: str) -> None:
    console.current().say(message)


def require_saved_plan(plan_file: Path, plan_command: str) -> None:
    """Refuse at once when there is no saved plan: the fix is `plan_command`, whatever else
    (generated inputs, the zip) is missing too."""
    SavedPlan(plan_file).require(plan_command)


def plan(target: Target) -> bool:
    """Write the saved plan and print its summary; True when it changes anything."""
    tf = target.terraform
    target.saved_plan.discard()  # a failed plan must not leave the previous one applicable
    with backend_override(tf.root, target.backend):
        # Inside the override: a leftover of a killed run is removed before it is hashed.
        fingerprint = target.fingerprint()
        init_with_progress(tf)
        plan_with_progress(tf, target.plan_file)
        plan_json = tf.show_plan(target.plan_file)
    target.saved_plan.record(fingerprint)
    _say(summary.render(plan_json, label=target.label))
    _say(f"Saved plan: {target.plan_file}")
    target.report = {
        "command": "plan",
        "target": target.label,
        **summary.as_json(plan_json),
        "plan_file": str(target.plan_file),
    }
    return bool(summary.changes(plan_json))


def apply(target: Target) -> None:
    """Apply the saved plan; locally, plan first when there is no current one."""
    tf = target.terraform
    if target.local:
        try:
            target.saved_plan.check(target.fingerprint(), target.plan_command)
        except PlanRefused:
            plan(target)
    else:
        target.saved_plan.check(target.fingerprint(), target.plan_command)
    with backend_override(tf.root, target.backend):
        init_with_progress(tf)
        try:
            applied = apply_with_progress(tf, target.plan_file, _log_file(target, "apply"))
        finally:
            # Applied, or refused by Terraform as stale: either way it must not be used again.
            target.saved_plan.discard()
    _say(f"Applied the saved plan to {target.label}: {applied.line()}")
    target.report = {"command": "apply", "target": target.label, **applied.as_json()}


def _log_file(target: Target, action: str) -> Path:
    """Where Terraform's whole output of one command goes (the terminal gets a summary)."""
    return target.plan_file.with_name(f"{target.plan_file.stem}.{action}.log")


def confirmation(*, yes: bool, local: bool) -> Ask | None:
    """How destroy will be confirmed: None when it need not be (--yes, or the emulator), the
    terminal otherwise; with no terminal to ask, a refusal before anything is touched."""
    if yes or local:
        return None
    if not sys.stdin.isatty():
        raise DestroyRefused(
            "destroy against AWS needs a confirmation and there is no terminal to ask: run it "
            "in a terminal, or pass --yes"
        )
    return input


def destroy(target: Target, *, ask: Ask | None) -> bool:
    """Plan the destruction, show it, confirm it through `ask` (None: no question), apply it.
    False when the user declined."""
    tf = target.terraform
    destroy_plan = target.plan_file.with_name(target.plan_file.stem + "-destroy.tfplan")
    # `confirmed`: whether the destruction went ahead (a declined one exits 1).
    target.report = {"command": "destroy", "target": target.label, "confirmed": False}
    with backend_override(tf.root, target.backend):
        init_with_progress(tf)
        plan_with_progress(tf, destroy_plan, destroy=True)
        try:
            plan_json = tf.show_plan(destroy_plan)
            _say(summary.render(plan_json, label=target.label))
            target.report.update(summary.as_json(plan_json))
            if not summary.changes(plan_json):
                target.report["confirmed"] = True  # nothing to destroy: nothing to ask
                return True
            if ask is not None:
                try:
                    answer = ask(f"Type the stage name ({target.stage}) to destroy all of this: ")
                except EOFError:  # Ctrl-D: no answer is not a yes
                    answer = ""
                if answer.strip() != target.stage:
                    _say("Not confirmed: nothing destroyed.")
                    return False
            log = _log_file(target, "destroy")
            applied = apply_with_progress(tf, destroy_plan, log, "terraform destroy")
        finally:
            destroy_plan.unlink(missing_ok=True)
    target.saved_plan.discard()  # it planned against resources that are gone
    _say(f"Destroyed {target.label}: {applied.line()}")
    target.report.update(confirmed=True, **applied.as_json())
    return True
