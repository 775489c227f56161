"""The generator as a library: what the CLI, the tests and other benches call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.errors import Diagnostic, GeneratorError, has_errors
from generator.model import Workflow
from generator.validate import check_specs
from generator.vocabulary import WAITING_ROOM

TFVARS_FILE = "workflows.tfvars.json"
# What the Lambda build reads to build each worker's own artifact (stepqueue/deploy/worker_zip.py).
ARTIFACTS_FILE = "artifacts.json"


def load_and_validate(
    paths: Sequence[str | Path],
    lambda_src: Path | None = None,
    check_handlers: bool = True,
    name_prefix: str = "",
) -> tuple[list[Workflow] | None, list[Diagnostic]]:
    """The workflows (sorted by name) when every spec is valid, else None; all diagnostics.

    `name_prefix` is the Terraform root's effective prefix, `name_prefix` + `stage-` (see
    terraform/main.tf): every AWS name derived from the specs is checked with it (collisions
    and AWS's length limits are errors), and warned about when a further stage of up to 10
    characters would push it over a limit.
    """
    specs, diagnostics = check_specs(
        [Path(p) for p in paths], lambda_src, check_handlers, name_prefix
    )
    diagnostics.sort(key=Diagnostic.sort_key)
    if has_errors(diagnostics):
        return None, diagnostics
    workflows = [s.workflow for s in specs if s.workflow is not None]
    return sorted(workflows, key=lambda w: w.name), diagnostics


def render(workflows: Sequence[Workflow]) -> dict[str, str]:
    """Every output file (relative path -> text), in memory."""
    from generator.expand import expand
    from generator.render import renderer as get_renderer

    renderer = get_renderer()
    files: dict[str, str] = {}
    tf_workflows: dict[str, Any] = {}
    semaphores: dict[str, Any] = {}
    artifacts: dict[str, Any] = {}
    for wf in workflows:
        artifacts.update(_artifacts(wf))
        definition_file = f"asl/{wf.name}.asl.json"
        files[definition_file] = renderer.text("asl.json.j2", definition=expand(wf, renderer))
        tf_workflows[wf.name] = {
            "definition_file": definition_file,
            "semaphore": wf.concurrency.semaphore if wf.concurrency else None,
            "workers": {w.name: w.tfvars(wf.name) for w in wf.workers},
        }
        if wf.concurrency is not None:
            c = wf.concurrency
            semaphores[c.semaphore] = {"limit": c.limit, "mode": WAITING_ROOM}
            if rules := c.admission.rules():
                semaphores[c.semaphore]["admission"] = rules
    tfvars = {"workflows": tf_workflows, "semaphores": semaphores}
    files[TFVARS_FILE] = renderer.text("tfvars.json.j2", tfvars=tfvars)
    files[ARTIFACTS_FILE] = renderer.text("tfvars.json.j2", tfvars={"artifacts": artifacts})
    return files


def _artifacts(wf: Workflow) -> dict[str, Any]:
    """Each worker artifact to build: its pins and platform (the Python version is the
    build's: it is the deployment's runtime)."""
    found: dict[str, Any] = {}
    for w in wf.workers:
        if (artifact := w.artifact(wf.name)) is not None:
            found[artifact] = {
                "workflow": wf.name,
                "worker": w.name,
                # The spec's file name, for the build's messages: not its absolute path, so
                # the output is the same bytes wherever the project is checked out.
                "source": Path(wf.source).name,
                "architecture": w.deployment.architecture,
                "dependencies": list(w.deployment.dependencies),
                "layers": len(w.deployment.layers),
            }
    return found


def render_paths(
    paths: Sequence[str | Path],
    lambda_src: Path | None = None,
    check_handlers: bool = True,
    name_prefix: str = "",
) -> tuple[dict[str, str], list[Diagnostic]]:
    """Validate and render in memory; raises GeneratorError when any spec has an error."""
    workflows, diagnostics = load_and_validate(paths, lambda_src, check_handlers, name_prefix)
    if workflows is None:
        raise GeneratorError(diagnostics)
    return render(workflows), diagnostics


def generate(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    lambda_src: Path | None = None,
    check_handlers: bool = True,
    name_prefix: str = "",
) -> list[Diagnostic]:
    """Validate, render and replace `out_dir` atomically; nothing is written on any error.

    Returns the warnings; raises GeneratorError (carrying every diagnostic) on errors, and its
    subclass OutputRefused when `out_dir` holds anything but a previous output (nothing is
    deleted, nothing written).
    """
    from generator.output import write_tree

    files, diagnostics = render_paths(paths, lambda_src, check_handlers, name_prefix)
    write_tree(files, Path(out_dir))
    return diagnostics
