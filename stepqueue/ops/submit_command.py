"""`stepqueue submit WORKFLOW [--input FILE|-] [--name NAME] [--key KEY] [--each FILE|-]`.

Starts executions through the deployment's start queue (docs/design.md §11): the starter
Lambda starts them at a bounded rate, so a burst is absorbed, never refused, and never started
twice. The deployment is found as `stepqueue drift` finds it (its Terraform outputs). Prints one
JSON line per message sent (workflow, name, where it was read, message id), then a summary on
stderr; with --json one document `{"queue_url", "submitted": [those lines]}` instead. Exit
status: 0 all sent, 1 a failure (what was sent is printed), 2 bad input (nothing sent).

Only argparse is imported here at first: `stepqueue --help` loads nothing else.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepqueue import console

if TYPE_CHECKING:
    from stepqueue.deploy.deployed import TargetFor
    from stepqueue.ops.submit import Submission

HELP = (
    "start executions through the start queue, at a bounded rate, with idempotent names "
    "(the same submission twice starts once)"
)


def add_command(commands: Any, deployment_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    sub = commands.add_parser("submit", help=HELP, description=HELP)
    sub.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name (its spec's name:)")
    source = sub.add_mutually_exclusive_group()
    source.add_argument(
        "--input",
        metavar="FILE|-",
        help="the execution's input: one JSON value (default {})",
    )
    source.add_argument(
        "--each",
        metavar="FILE|-",
        help="one execution per line, each line one JSON value (its input); sent 10 at a time",
    )
    sub.add_argument(
        "--name",
        metavar="NAME",
        help="the execution's name (default: derived from the workflow, the input and --key, "
        "so submitting the same thing again never starts it twice)",
    )
    sub.add_argument(
        "--key",
        default="",
        metavar="KEY",
        help="mixed into derived names: the same input with another key is another execution "
        "(e.g. a date, a request id)",
    )
    deployment_flags(sub)


def run(args: argparse.Namespace, target_for: TargetFor) -> int:
    from stepqueue.deploy.deployed import reporting_failures
    from stepqueue.ops.submit import SendError, SubmitInputError

    prog = "stepqueue submit"
    try:
        submissions = _read(args)
    except SubmitInputError as error:
        raise console.usage_error(f"{error}; nothing sent") from None
    return reporting_failures(
        prog, lambda: _submit(args, target_for, submissions, prog), (SendError,)
    )


def _read(args: argparse.Namespace) -> list[Submission]:
    from stepqueue.ops import submit

    submit.check_workflow(args.workflow)
    submit.check_key(args.key)
    if args.each is not None:
        if args.name is not None:
            raise submit.SubmitInputError(
                "--name names one execution: with --each, names are derived (vary them with --key)"
            )
        return [
            submit.submission(args.workflow, text, where, None, args.key)
            for text, where in submit.read_each(args.each)
        ]
    if args.name is not None:
        submit.check_name(args.name)
    text, where = submit.read_input(args.input)
    return [submit.submission(args.workflow, text, where, args.name, args.key)]


def _submit(
    args: argparse.Namespace, target_for: TargetFor, submissions: list[Submission], prog: str
) -> int:
    from stepqueue.ops.submit import send

    outputs, client = _deployment(args, target_for)
    queue_url = outputs.get("start_queue_url")
    if not queue_url:
        from stepqueue.deploy.terraform import TerraformError

        raise TerraformError(
            "the deployment has no start queue: apply it with start_queue_enabled = true"
        )
    known = sorted(outputs.get("state_machine_arns") or {})
    if args.workflow not in known:
        raise console.usage_error(
            f"no workflow {args.workflow!r} in the deployment (deployed: "
            f"{', '.join(known) or 'none'}); nothing sent",
            fix="give one of those",
        )
    out = console.current()
    sent: list[dict[str, str]] = []

    def report(item: Submission, message_id: str) -> None:
        line = {"workflow": item.workflow, "name": item.name, "source": item.source}
        sent.append({**line, "message_id": message_id})
        if not out.json:  # one line per message as it goes; --json: one document at the end
            print(json.dumps(sent[-1], sort_keys=True), flush=True)

    try:
        send(client("sqs"), str(queue_url), submissions, report)
    finally:
        names = {item["name"] for item in sent}
        out.info(
            f"submitted {len(sent)} of {len(submissions)} message(s), {len(names)} "
            f"distinct execution name(s), to {queue_url}"
        )
    out.result({"queue_url": str(queue_url), "submitted": sent})
    return 0


def _deployment(args: argparse.Namespace, target_for: TargetFor) -> tuple[dict[str, Any], Any]:
    """The deployment's Terraform outputs and a client factory (tests replace this)."""
    from stepqueue.deploy.deployed import deployment_outputs
    from stepqueue.deploy.inputs import check_stage
    from stepqueue.deploy.terraform import TerraformError
    from stepqueue.environment import aws_clients, endpoint_for

    check_stage(args.stage)
    endpoint = endpoint_for(args.env, args.project.port_file)
    outputs = deployment_outputs(target_for(endpoint))
    if not outputs.get("state_machine_arns"):
        raise TerraformError(
            "the deployment has no outputs: apply it first (stepqueue plan, then apply)"
        )
    region = outputs.get("region")
    return outputs, aws_clients(endpoint, str(region) if region else None)
