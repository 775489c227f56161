"""Stage 2: every check on one spec, then the checks across specs (shared names).

Returns diagnostics as data; the caller decides whether to go on (no errors) or stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.asl import AslValidator
from generator.errors import Diagnostic
from generator.handlers import check_handler, find_lambda_src
from generator.loader import Node, load_file
from generator.report import Reporter, join
from generator.rules import check_uses, check_workers
from generator.spec import SpecFacts, check_top


@dataclass(slots=True)
class CheckedSpec:
    file: str
    root: Node
    facts: SpecFacts


def check_spec(
    path: Path, display: str | None = None, lambda_src: Path | None = None, handlers: bool = True
) -> tuple[CheckedSpec | None, list[Diagnostic]]:
    name = display if display is not None else str(path)
    root, diagnostics = load_file(path, name)
    if root is None:
        return None, diagnostics
    r = Reporter(name)
    r.diagnostics.extend(diagnostics)
    facts = check_top(r, root)
    if facts is None:
        return None, r.diagnostics
    asl = AslValidator(r, set(facts.workers), semaphore=facts.has_concurrency)
    asl.machine(root)
    check_workers(r, facts)
    check_uses(r, facts, asl.worker_uses)
    if handlers and facts.handlers:
        _check_handlers(r, facts, lambda_src or find_lambda_src(path))
    return CheckedSpec(name, root, facts), r.diagnostics


def _check_handlers(r: Reporter, facts: SpecFacts, lambda_src: Path | None) -> None:
    for worker, (handler, node) in sorted(facts.handlers.items()):
        path = join(join("workers", worker), "handler")
        if lambda_src is None:
            r.warning(
                node,
                path,
                f"handler {handler!r} not checked: no lambda_src directory found above the spec",
                "run from the project, or set STEPQUEUE_LAMBDA_SRC / --lambda-src",
            )
            continue
        problem = check_handler(lambda_src, handler)
        if problem is not None:
            r.error(node, path, *problem)


def check_across(specs: list[CheckedSpec]) -> list[Diagnostic]:
    """Rules that need several specs: unique workflow names, one limit per shared semaphore."""
    out: list[Diagnostic] = []
    names: dict[str, CheckedSpec] = {}
    semaphores: dict[str, CheckedSpec] = {}
    for spec in specs:
        f = spec.facts
        if f.name is not None:
            node = spec.root.get("name") or spec.root
            if (first := names.get(f.name)) is not None:
                out.append(
                    Diagnostic(
                        spec.file,
                        node.line,
                        node.col,
                        "name",
                        f"workflow name {f.name!r} is also used by {first.file}",
                        "give each workflow a unique name: it names its state machine, queues "
                        "and Lambdas",
                    )
                )
            else:
                names[f.name] = spec
        if f.semaphore is not None and f.limit is not None:
            node = f.semaphore_node or spec.root
            first_sem = semaphores.get(f.semaphore)
            if first_sem is None:
                semaphores[f.semaphore] = spec
            elif first_sem.facts.limit != f.limit:
                out.append(
                    Diagnostic(
                        spec.file,
                        node.line,
                        node.col,
                        "concurrency.limit",
                        f"semaphore {f.semaphore!r} has limit {f.limit} here but "
                        f"{first_sem.facts.limit} in {first_sem.file}",
                        "a shared semaphore has one limit: use the same limit in both specs",
                    )
                )
    return out


def check_specs(
    paths: list[Path], lambda_src: Path | None = None, handlers: bool = True
) -> tuple[list[CheckedSpec], list[Diagnostic]]:
    specs: list[CheckedSpec] = []
    diagnostics: list[Diagnostic] = []
    for path in paths:
        spec, diags = check_spec(path, lambda_src=lambda_src, handlers=handlers)
        diagnostics.extend(diags)
        if spec is not None:
            specs.append(spec)
    diagnostics.extend(check_across(specs))
    return specs, diagnostics
