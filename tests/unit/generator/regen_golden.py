"""Rewrite the golden files: `make regen` (python -m tests.unit.generator.regen_golden).

Golden ASL, tfvars and diagrams for every spec in workflows/, and the snapshot of the messages
for the bad-spec corpus. Review the diff before committing it.
"""

from __future__ import annotations

import os

from generator.api import load_and_validate, render
from generator.diagram import diagram
from tests.unit.generator.helpers import (
    GOLDEN,
    LAMBDA_SRC,
    REPO,
    SNAPSHOT,
    WORKFLOWS,
    snapshot_text,
)


def main() -> None:
    os.chdir(REPO)  # diagnostics name files relative to the repository
    workflows, diagnostics = load_and_validate(WORKFLOWS, lambda_src=LAMBDA_SRC)
    if workflows is None:
        raise SystemExit("\n".join(d.format() for d in diagnostics))
    for old in GOLDEN.rglob("*"):
        if old.is_file():
            old.unlink()
    for relative, text in render(workflows).items():
        target = GOLDEN / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for wf in workflows:
        (GOLDEN / "diagrams").mkdir(exist_ok=True)
        (GOLDEN / "diagrams" / f"{wf.name}.mmd").write_text(diagram(wf), encoding="utf-8")
    SNAPSHOT.write_text(snapshot_text(), encoding="utf-8")
    print(f"rewrote golden files in {GOLDEN.relative_to(REPO)}")


if __name__ == "__main__":
    main()
