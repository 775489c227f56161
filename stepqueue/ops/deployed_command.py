"""`stepqueue drift` and `stepqueue redrive`: the commands that read a deployment.

The deployment is found as `stepqueue semaphore` finds it: its Terraform outputs (`--env
aws|local`, `--stage`, the backend flags). Exit status: 0 done (drift: no difference), 1 a
difference (drift) or a failure, 2 bad input (docs/cli.md).
"""

from __future__ import annotations

import argparse
from typing import Any

from stepqueue import console
from stepqueue.console import BadInput
from stepqueue.deploy.deployed import TargetFor, deployment_outputs, reporting_failures
from stepqueue.deploy.terraform import TerraformError
from stepqueue.environment import aws_clients, endpoint_for
from stepqueue.ops.redrive import Place, RedriveError

MAX_MESSAGES = 100_000


def run(args: argparse.Namespace, target_for: TargetFor) -> int:
    return reporting_failures(
        f"stepqueue {args.command}", lambda: _run(args, target_for), (RedriveError, SpecsError)
    )


def _run(args: argparse.Namespace, target_for: TargetFor) -> int:
    if args.command == "redrive":
        if args.yes and args.dry_run:
            raise console.usage_error("--yes and --dry-run contradict each other: give one")
        if not 1 <= args.max_messages <= MAX_MESSAGES:
            raise console.usage_error(f"--max-messages {args.max_messages}: 1 to {MAX_MESSAGES:,}")
    outputs, client = _deployment(args, target_for)
    if args.command == "drift":
        return _drift(args, outputs, client)
    return _redrive(args, outputs, client)


class SpecsError(RuntimeError, BadInput):
    """The specs cannot be rendered (bad input, exit 2)."""


def _deployment(args: argparse.Namespace, target_for: TargetFor) -> tuple[dict[str, Any], Any]:
    from stepqueue.deploy.inputs import check_stage

    check_stage(args.stage)
    endpoint = endpoint_for(args.env, args.project.port_file)
    outputs = deployment_outputs(target_for(endpoint))
    if not outputs.get("state_machine_arns") and not outputs.get("workers"):
        raise TerraformError(
            "the deployment has no outputs: apply it first (stepqueue plan, then apply)"
        )
    region = outputs.get("region")
    return outputs, aws_clients(endpoint, str(region) if region else None)


def _drift(args: argparse.Namespace, outputs: dict[str, Any], client: Any) -> int:
    from generator.api import load_and_validate, render
    from stepqueue.ops.drift import compare

    spec_dir = args.workflows or args.project.workflows
    specs = sorted(spec_dir.glob("*.yaml"))
    if not specs:
        raise SpecsError(f"no specs (*.yaml) in {spec_dir}: give the directory with --workflows")
    workflows, diagnostics = load_and_validate(specs, check_handlers=False)
    if workflows is None:
        errors = [d for d in diagnostics if d.is_error]
        raise console.invalid_specs(
            f"the specs in {spec_dir} have errors; nothing compared", errors
        )
    differences = compare(render(workflows), outputs, client)
    lines = [difference.line() for difference in differences]
    lines.append(f"{len(differences)} difference(s) between the deployment and {spec_dir}")
    console.current().result({"differences": [d.as_json() for d in differences]}, "\n".join(lines))
    return 1 if differences else 0


def _redrive(args: argparse.Namespace, outputs: dict[str, Any], client: Any) -> int:
    from stepqueue.ops.redrive import redrive

    workers = (outputs.get("workers") or {}).get(args.workflow)
    if workers is None:
        known = ", ".join(sorted(outputs.get("workers") or {})) or "none"
        raise RedriveError(f"no workflow {args.workflow!r} in the deployment (deployed: {known})")
    settings = workers.get(args.worker)
    if settings is None:
        raise RedriveError(
            f"workflow {args.workflow} has no worker {args.worker!r} "
            f"(its workers: {', '.join(sorted(workers))})"
        )
    place = Place(args.workflow, args.worker, settings["queue_url"], settings["dlq_url"])
    report = redrive(
        client("sqs"),
        client("stepfunctions"),
        place,
        move=args.yes,
        delete_dead=args.delete_dead,
        max_messages=args.max_messages,
    )
    text = f"redrive {place.dlq_url} -> {place.queue_url}\n{report.summary()}"
    console.current().result(report.as_json(), text)
    return 0
