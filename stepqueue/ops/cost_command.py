"""`stepqueue cost SPEC... --executions N [--map-items K] [--branch STATE=TARGET]...`: the
estimate of stepqueue.ops.cost, as a table with the path each row priced, or one JSON object.
Specs are validated and rendered in memory (nothing is written); a spec error is printed as the
generator prints it, exit status 1; a --branch naming no Choice or no branch of it, exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stepqueue.ops.cost import (
    Assumptions,
    CostError,
    PathCost,
    WorkflowCost,
    choices_of,
    estimate,
)
from stepqueue.ops.prices import US_EAST_1, render

PROG = "stepqueue cost"
COLUMNS = (
    ("transitions", "transitions"),
    ("sqs_standard_requests", "SQS std"),
    ("sqs_fifo_requests", "SQS FIFO"),
    ("lambda_invocations", "Lambda inv"),
    ("lambda_gb_seconds", "GB-s"),
    ("dynamodb_write_units", "DDB WRU"),
)


def run(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    from generator.api import load_and_validate
    from generator.api import render as render_files

    workflows, diagnostics = load_and_validate(args.specs, check_handlers=False)
    errors = [d for d in diagnostics if d.is_error]
    if workflows is None:
        for d in errors:
            print(d.format(), file=sys.stderr)
        print(f"{PROG}: {len(errors)} error(s) in the specs; nothing estimated", file=sys.stderr)
        return 1
    branches = dict(b.split("=", 1) for b in args.branch)
    problem = check_branches(branches, {wf.name: wf.definition for wf in workflows})
    if problem:
        print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    assumptions = Assumptions(
        executions=args.executions,
        task_seconds=args.task_seconds,
        wait_seconds=args.wait_seconds,
        map_items=args.map_items,
        branches=branches,
    )
    files = render_files(workflows)
    try:
        costs = [
            estimate(wf, json.loads(files[f"asl/{wf.name}.asl.json"]), assumptions)
            for wf in workflows
        ]
    except CostError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(as_json(costs, assumptions), sort_keys=True))
    else:
        print(render_text(costs, assumptions))
    return 0


def _check(args: argparse.Namespace) -> str | None:
    for spec in args.specs:
        if not Path(spec).is_file():
            return f"{spec}: no such file"
    if args.executions < 1:
        return f"--executions {args.executions}: give a number of executions, 1 or more"
    if not 0 <= args.wait_seconds <= 31_536_000:
        return f"--wait-seconds {args.wait_seconds}: 0 to 31,536,000 (an execution's year)"
    if not 0 < args.task_seconds <= 900:
        return f"--task-seconds {args.task_seconds}: more than 0, at most 900 (Lambda's limit)"
    if not 1 <= args.map_items <= 100_000:
        return f"--map-items {args.map_items}: 1 to 100,000"
    for branch in args.branch:
        state, _, target = branch.partition("=")
        if not state or not target:
            return f"--branch {branch}: give STATE=TARGET, a Choice state and the state it goes to"
    return None


def check_branches(branches: dict[str, str], definitions: dict[str, Any]) -> str | None:
    """Each named Choice exists in some spec and the target is one of its branches."""
    found: dict[str, list[str]] = {}
    for definition in definitions.values():
        for name, targets in choices_of(definition):
            found.setdefault(name, []).extend(t for t in targets if t not in found.get(name, []))
    for state, target in branches.items():
        if state not in found:
            known = ", ".join(sorted(found)) or "none"
            return (
                f"--branch {state}={target}: no Choice state {state} in the specs "
                f"(Choices: {known})"
            )
        if target not in found[state]:
            return (
                f"--branch {state}={target}: {target} is not a branch of {state} "
                f"(its branches: {', '.join(found[state])})"
            )
    return None


def as_json(costs: list[WorkflowCost], assumptions: Assumptions) -> dict[str, Any]:
    return {
        "assumptions": asdict(assumptions),
        "prices": US_EAST_1.as_json(),
        "workflows": [c.as_json() for c in costs],
    }


def render_text(costs: list[WorkflowCost], assumptions: Assumptions) -> str:
    head = [
        "path", "calls", *(title for _, title in COLUMNS), "$ / 1,000",
        f"$ / {assumptions.executions:,}",
    ]  # fmt: skip
    rows: list[list[str]] = []
    for cost in costs:
        for path in ("happy", "failing"):
            for calls, paths in (("queued", cost.queued), ("direct", cost.direct)):
                rows.append(_row(f"{cost.workflow} {path}", calls, paths[path]))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        render(),
        f"assumptions: handlers run {assumptions.task_seconds:g} s, a slot is waited for "
        f"{assumptions.wait_seconds:g} s, a Map has {assumptions.map_items} item(s); queued "
        "batches full, every waiting-room message in its own gatekeeper invocation",
        "",
        "  ".join(
            h.ljust(w) if i < 2 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        ),
    ]
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    lines.append(
        "per execution; queued = tasks through SQS workers (and the semaphore), direct = the "
        "same states calling Lambda directly"
    )
    lines += ["", "paths priced:"]
    for cost in costs:
        for path in ("happy", "failing"):
            for calls, paths in (("queued", cost.queued), ("direct", cost.direct)):
                lines += _path_lines(f"{cost.workflow} {path} {calls}", paths[path])
    return "\n".join(lines)


def _path_lines(title: str, cost: PathCost | None) -> list[str]:
    if cost is None:
        return [f"  {title}: no queued task to fail"]
    lines = [f"  {title}: {' → '.join(cost.path)}"]
    lines += [f"    at {c['state']}: {c['took']} ({c['how']})" for c in cost.choices]
    return lines


def _row(path: str, calls: str, cost: PathCost | None) -> list[str]:
    if cost is None:
        return [path, calls, *("-" for _ in COLUMNS), "-", "-"]
    usage = vars(cost.usage)
    cells = [f"{usage[key]:.4g}" for key, _ in COLUMNS]
    return [path, calls, *cells, f"{cost.usd_per_1000:.4f}", f"{cost.usd_for_executions:.2f}"]
