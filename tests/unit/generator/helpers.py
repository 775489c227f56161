"""Shared paths and helpers for the generator tests."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from generator.api import load_and_validate
from generator.errors import Diagnostic

HERE = Path(__file__).parent
REPO = HERE.parents[2]
# workflows/extras/: examples that need a deployment option (the payload bucket) on.
WORKFLOWS = sorted(
    [*(REPO / "workflows").glob("*.yaml"), *(REPO / "workflows" / "extras").glob("*.yaml")]
)
GOLDEN = HERE / "golden"
BAD_SPECS = HERE / "bad_specs"
# Stand-ins for lambda_src/examples, so these tests do not depend on the runtime's progress.
LAMBDA_SRC = HERE / "fixtures" / "lambda_src"
SNAPSHOT = GOLDEN / "bad_specs.txt"


GOOD_SPECS = sorted((HERE / "good_specs").glob("*.yaml"))
ASL_VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"


def asl_validator(files: list[Path]) -> subprocess.CompletedProcess[str]:
    """The npm asl-validator (installed by `make install`) on several files at once."""
    # Part of the project's setup: a missing validator is a broken setup, not a reason to skip.
    assert ASL_VALIDATOR.exists(), "node_modules is missing: run `make install`"
    args = [str(ASL_VALIDATOR)]
    for f in files:
        args += ["--json-path", str(f)]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def bad_cases() -> list[Path]:
    """Each .yaml file is one case; each directory is one case of several specs."""
    return sorted(p for p in BAD_SPECS.iterdir() if p.suffix == ".yaml" or p.is_dir())


def case_files(case: Path) -> list[Path]:
    return sorted(case.glob("*.yaml")) if case.is_dir() else [case]


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def diagnose(case: Path) -> list[Diagnostic]:
    """Validate a case with paths relative to the repository, as the snapshot shows them."""
    _, diagnostics = load_and_validate(
        [relative(p) for p in case_files(case)], lambda_src=LAMBDA_SRC
    )
    return diagnostics


def snapshot_text() -> str:
    blocks = []
    for case in bad_cases():
        lines = [d.format() for d in diagnose(case)]
        blocks.append(f"## {case.name}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def write_spec(tmp: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={"STEPQUEUE_LAMBDA_SRC": str(LAMBDA_SRC), "PATH": "/usr/bin:/bin"},
    )
