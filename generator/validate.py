"""Every check on one spec, then the checks across specs (shared names); the typed model.

Diagnostics are data; the caller decides whether to go on (no errors) or stop. A spec without
errors also yields its `Workflow`, built here from the values the checks read, so rendering
gets exactly what was validated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator import names, queue_wait
from generator.asl.machine import check_machine
from generator.errors import Diagnostic, has_errors
from generator.handlers import check_handler, find_lambda_src
from generator.loader import Node, load_file, to_plain
from generator.model import Workflow
from generator.report import Reporter, join
from generator.spec import SpecFacts, check_top
from generator.vocabulary import MACHINE_FIELDS
from generator.worker_deps import check_imports
from generator.worker_tasks import WorkerTasks
from generator.workers import check_settings


@dataclass(slots=True)
class CheckedSpec:
    file: str
    root: Node
    facts: SpecFacts
    workflow: Workflow | None  # None when the spec itself has errors


def check_spec(
    path: Path, display: str | None = None, lambda_src: Path | None = None, handlers: bool = True
) -> tuple[CheckedSpec | None, list[Diagnostic]]:
    name = display if display is not None else str(path)
    root, diagnostics = load_file(path, name)
    if root is None:
        return None, diagnostics
    r = Reporter(name)
    r.diagnostics.extend(diagnostics)
    facts = check_top(r, root, path)
    if facts is None:
        return None, r.diagnostics
    tasks = WorkerTasks(r, facts.workers)
    check_machine(
        r, root, semaphore=facts.has_concurrency, worker_task=tasks.check_task, source=path
    )
    for worker in facts.workers.values():
        check_settings(r, worker)
    tasks.check_uses()
    if facts.has_concurrency and facts.limit is not None:
        queue_wait.check(r, root, facts.limit, facts.workers, tasks.uses)
    if handlers and any(w.handler for w in facts.workers.values()):
        _check_handlers(r, facts, lambda_src or find_lambda_src(path))
    workflow = None if has_errors(r.diagnostics) else _workflow(name, root, facts, tasks)
    return CheckedSpec(name, root, facts, workflow), r.diagnostics


def _workflow(file: str, root: Node, facts: SpecFacts, tasks: WorkerTasks) -> Workflow:
    assert facts.name is not None
    return Workflow(
        name=facts.name,
        source=file,
        workers=tuple(w.model() for _, w in sorted(facts.workers.items())),
        concurrency=facts.concurrency(),
        definition={k: to_plain(root.mapping[k]) for k in MACHINE_FIELDS if k in root.mapping},
        worker_tasks=tasks.model(),
    )


def _check_handlers(r: Reporter, facts: SpecFacts, lambda_src: Path | None) -> None:
    for name, worker in sorted(facts.workers.items()):
        if worker.handler is None or worker.handler_node is None:
            continue
        path = join(join("workers", name), "handler")
        if lambda_src is None:
            r.warning(
                worker.handler_node,
                path,
                f"handler {worker.handler!r} not checked: no lambda_src directory found above "
                "the spec",
                "run from the project, or set STEPQUEUE_LAMBDA_SRC / --lambda-src",
            )
            continue
        problem = check_handler(lambda_src, worker.handler)
        if problem is not None:
            r.error(worker.handler_node, path, *problem)
        else:
            pins = worker.deployment.dependencies
            r.diagnostics.extend(check_imports(lambda_src, worker.handler, name, pins))


def check_across(specs: list[CheckedSpec]) -> list[Diagnostic]:
    """Rules that need several specs: unique workflow names, one limit per shared semaphore."""
    out: list[Diagnostic] = []
    names: dict[str, CheckedSpec] = {}
    semaphores: dict[str, CheckedSpec] = {}

    def error(spec: CheckedSpec, node: Node, path: str, message: str, fix: str) -> None:
        out.append(Diagnostic(spec.file, node.line, node.col, path, message, fix))

    for spec in specs:
        f = spec.facts
        if f.name is not None and (first := names.setdefault(f.name, spec)) is not spec:
            error(
                spec,
                spec.root.get("name") or spec.root,
                "name",
                f"workflow name {f.name!r} is also used by {first.file}",
                "give each workflow a unique name: it names its state machine, queues and Lambdas",
            )
        if f.semaphore is not None and f.limit is not None:
            first = semaphores.setdefault(f.semaphore, spec)
            if first.facts.limit != f.limit:
                error(
                    spec,
                    f.semaphore_node or spec.root,
                    "concurrency.limit",
                    f"semaphore {f.semaphore!r} has limit {f.limit} here but "
                    f"{first.facts.limit} in {first.file}",
                    "a shared semaphore has one limit: use the same limit in both specs",
                )
            elif first.facts.admission.rules() != f.admission.rules() or (
                first.facts.admission.key is None
            ) != (f.admission.key is None):
                error(
                    spec,
                    f.admission_node or f.semaphore_node or spec.root,
                    "concurrency",
                    f"semaphore {f.semaphore!r} has other admission rules here than in "
                    f"{first.file} (per_key, rate, aging_seconds)",
                    "a shared semaphore has one set of rules: write the same per_key limit, "
                    "rate and aging_seconds in both specs (each spec keeps its own key and "
                    "priority paths)",
                )
    return out


def check_specs(
    paths: list[Path], lambda_src: Path | None = None, handlers: bool = True, name_prefix: str = ""
) -> tuple[list[CheckedSpec], list[Diagnostic]]:
    """Every spec, then the rules across them; `name_prefix` as in `check_aws_names`."""
    specs: list[CheckedSpec] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        spec, diags = check_spec(path, lambda_src=lambda_src, handlers=handlers)
        diagnostics.extend(diags)
        if spec is not None:
            specs.append(spec)
    diagnostics.extend(check_across(specs))
    diagnostics.extend(check_aws_names(specs, name_prefix))
    return specs, diagnostics


def check_aws_names(specs: list[CheckedSpec], name_prefix: str) -> list[Diagnostic]:
    """The AWS names every spec derives, with the root's effective prefix (`name_prefix` +
    `stage-`): unique across the specs and the deployment's own, and within AWS's limits."""
    problems = names.check_prefix(name_prefix)
    if problems:
        return problems
    derived = names.deployment_names()
    taken: set[str] = set()
    for spec in specs:
        f = spec.facts
        if f.name is None or f.name in taken:
            continue  # an invalid or duplicate workflow name is reported already
        taken.add(f.name)
        derived += names.spec_names(spec.file, f.name, spec.root, f.workers)
    return names.check_names(derived, name_prefix)
