"""The two inputs every deployment needs: the generator's output and the Lambda zip.

The CLI, the tests and the benchmarks build them through these functions, so there is one way
to build each.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from stepqueue.paths import LAMBDA_SRC

if TYPE_CHECKING:
    from stepqueue.project import Project

# Callers that name no handlers (the tests and benchmarks of this checkout) get this checkout's
# lambda_src; the commands always pass their project's.


def generate(
    specs: Sequence[Path], out_dir: Path, lambda_src: Path = LAMBDA_SRC, name_prefix: str = ""
) -> Path:
    """Validate and render `specs` into `out_dir` (all or nothing); returns `out_dir`.
    `name_prefix` is the root's effective prefix (a stage's `prod-`): the generator checks
    every derived AWS name with it."""
    from generator.api import generate as _generate

    _generate(specs, out_dir, lambda_src=lambda_src, name_prefix=name_prefix)
    return out_dir


def local_python_version() -> str:
    """The Python the local runner runs handlers with: a local deployment declares it as the
    functions' runtime, and worker artifacts are built for it."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


class BuildFailed(Exception):
    """The Lambda build refused (e.g. a worker's dependency has no wheel): its message."""


def build_lambda_zip(
    out_dir: Path,
    lambda_src: Path = LAMBDA_SRC,
    generated_dir: Path | None = None,
    python_version: str | None = None,
    cache: Path | None = None,
) -> Path:
    """The reproducible Lambda zip in `out_dir`, and with `generated_dir` the worker artifacts
    its artifacts.json lists, for `python_version` (default: the root's default runtime);
    returns the shared zip's path.

    A separate interpreter: the build may pip-install the pinned dependencies into its cache,
    which must not disturb the caller's imports."""
    command = [
        *(sys.executable, "-m", "stepqueue.deploy.lambda_zip"),
        *("--out", str(out_dir), "--lambda-src", str(lambda_src)),
    ]
    if cache is not None:
        command += ["--cache", str(cache)]
    if generated_dir is not None:
        command += ["--generated", str(generated_dir)]
    if python_version is not None:
        command += ["--python-version", python_version]
    proc = subprocess.run(command, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildFailed(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed")
    return out_dir / "stepqueue.zip"


class SpecsInvalid(Exception):
    """The specs have errors; `diagnostics_text` lists every one."""

    def __init__(self, diagnostics_text: str) -> None:
        super().__init__("the specs have errors; nothing was built")
        self.diagnostics_text = diagnostics_text


def build_all(
    project: Project,
    name_prefix: str = "",
    spec_dir: Path | None = None,
    python_version: str | None = None,
) -> tuple[Path, Path]:
    """Every spec of the project's workflows (or `spec_dir`) into its build/generated, and the
    zips of its handlers into build/lambda (worker artifacts for `python_version`, default the
    root's runtime): what `plan` and `demo` start from. Both are reproducible, so unchanged
    sources give unchanged bytes and a saved plan stays current."""
    from generator.errors import GeneratorError

    spec_dir = spec_dir or project.workflows
    specs = sorted(spec_dir.glob("*.yaml"))
    if not specs:
        raise SpecsInvalid(f"{spec_dir}: no workflow specs (*.yaml)")
    try:
        generate(specs, project.generated, project.handlers, name_prefix=name_prefix)
    except GeneratorError as error:
        raise SpecsInvalid("\n".join(d.format() for d in error.diagnostics)) from None
    try:
        zip_path = build_lambda_zip(
            project.lambda_dir,
            project.handlers,
            generated_dir=project.generated,
            python_version=python_version,
            cache=project.deps_cache,
        )
    except BuildFailed as error:
        raise SpecsInvalid(str(error)) from None
    return project.generated, zip_path
