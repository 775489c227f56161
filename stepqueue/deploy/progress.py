"""Terraform's long commands with progress instead of silence, and a summary instead of its
output: `apply` counts the resources Terraform reports complete against those the plan
changes; the whole output goes to a log file (and to stderr with -v).

Why: a local apply of the repository's root takes minutes, and its end is a dump of every
output, which a user reads with `terraform output` when needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepqueue import console
from stepqueue.deploy import summary
from stepqueue.deploy.terraform import Terraform, TerraformError

# One line per resource Terraform is done with (create, update, replace, destroy).
_DONE = re.compile(r": (Creation|Modifications|Destruction) complete after ")
_TOTALS = re.compile(
    r"(?:Apply|Destroy) complete! Resources: (\d+) added, (\d+) changed, (\d+) destroyed"
)


@dataclass(frozen=True)
class Applied:
    added: int
    changed: int
    destroyed: int
    log: Path | None

    def line(self) -> str:
        where = f" (Terraform's output: {self.log})" if self.log else ""
        return f"{self.added} added, {self.changed} changed, {self.destroyed} destroyed{where}"

    def as_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "changed": self.changed,
            "destroyed": self.destroyed,
            "log": str(self.log) if self.log else None,
        }


def _echo(tf: Terraform) -> None:
    tf.stream = console.current().verbose  # -v: Terraform's own lines on stderr, live


def init_with_progress(tf: Terraform) -> None:
    _echo(tf)
    with console.current().step("terraform init"):
        tf.init()


def plan_with_progress(tf: Terraform, plan_file: Path, *, destroy: bool = False) -> None:
    _echo(tf)
    with console.current().step("terraform plan" + (" (destroy)" if destroy else "")):
        tf.plan_to_file(plan_file, destroy=destroy)


def apply_with_progress(
    tf: Terraform, plan_file: Path, log: Path | None, label: str = "terraform apply"
) -> Applied:
    """Apply a saved plan, counting resources done out of those it changes; its whole output
    is written to `log` (also when it fails: the error names it)."""
    total = len(summary.changes(tf.show_plan(plan_file)))
    _echo(tf)
    with console.current().step(label, total=total) as progress:

        def on_line(line: str) -> None:
            if _DONE.search(line):
                progress.advance()

        tf.on_line = on_line
        try:
            text = tf.apply_plan(plan_file)
        except TerraformError as error:
            if log is not None:
                _write(log, str(error))
            raise
        finally:
            tf.on_line = None
    if log is not None:
        _write(log, text)
    found = _TOTALS.search(text)
    added, changed, destroyed = (int(n) for n in found.groups()) if found else (0, 0, 0)
    return Applied(added, changed, destroyed, log)


def _write(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(text, encoding="utf-8")
