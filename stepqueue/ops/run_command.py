"""`stepqueue run WORKFLOW --input JSON|@FILE [--no-wait] [--json]`: one execution, waited for.

Starts the workflow's state machine directly (StartExecution; `submit` is the bounded-rate
path through the start queue), waits until it ends, and prints its status, its output or its
error and cause, and the states it passed through (its history's StateEntered events, in
order). The deployment is found as `submit` finds it (its Terraform outputs), locally or on
AWS. Exit status: 0 succeeded (or started, with --no-wait), 1 failed, timed out or aborted (or
a failure to reach it), 2 bad input.

Only argparse is imported here at first: `stepqueue --help` loads nothing else.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stepqueue import console

if TYPE_CHECKING:
    from stepqueue.deploy.deployed import TargetFor

HELP = "start one execution, wait for it, print its result and the states it passed through"
# Step Functions' own limit on an execution's input.
MAX_INPUT_BYTES = 256 * 1024
POLL_S = 0.5
MAX_HISTORY_EVENTS = 25_000


class RunInputError(ValueError):
    """Bad --input (exit 2)."""


def add_command(commands: Any, deployment_flags: Callable[[argparse.ArgumentParser], None]) -> None:
    sub = commands.add_parser("run", help=HELP, description=HELP)
    sub.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name (its spec's name:)")
    sub.add_argument(
        "--input",
        default="{}",
        metavar="JSON|@FILE",
        help="the execution's input: JSON text, or @FILE to read it from FILE (default {})",
    )
    sub.add_argument("--name", metavar="NAME", help="the execution's name (default: run-<random>)")
    sub.add_argument("--no-wait", action="store_true", help="start it and return at once")
    sub.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="stop waiting after this long (exit 1; the execution goes on); default 3600",
    )
    deployment_flags(sub)


def read_input(value: str) -> str:
    """The input as compact JSON text; RunInputError naming what is wrong."""
    where = "--input"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        where = str(path)
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_INPUT_BYTES + 1)
        except OSError as error:
            raise RunInputError(f"{path}: cannot read it ({error.strerror})") from None
        if len(raw) > MAX_INPUT_BYTES:
            raise RunInputError(
                f"{path}: more than {MAX_INPUT_BYTES} bytes (Step Functions' limit)"
            )
        text = raw.decode("utf-8", errors="replace")
    if len(text.encode()) > MAX_INPUT_BYTES:
        raise RunInputError(f"{where}: more than {MAX_INPUT_BYTES} bytes (Step Functions' limit)")
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise RunInputError(
            f"{where}: not JSON ({error}); give JSON text such as '{{}}', or @FILE"
        ) from None
    return json.dumps(parsed, separators=(",", ":"))


def run(args: argparse.Namespace, target_for: TargetFor) -> int:
    from stepqueue.deploy.deployed import reporting_failures

    prog = "stepqueue run"
    try:
        payload = read_input(args.input)
        if args.timeout <= 0:
            raise RunInputError("--timeout must be positive")
    except RunInputError as error:
        raise console.usage_error(str(error)) from None
    return reporting_failures(prog, lambda: _run(args, target_for, payload, prog), ())


def _run(args: argparse.Namespace, target_for: TargetFor, payload: str, prog: str) -> int:
    from stepqueue.ops.submit_command import _deployment

    outputs, client = _deployment(args, target_for)
    machines = outputs.get("state_machine_arns") or {}
    if args.workflow not in machines:
        known = ", ".join(sorted(machines)) or "none"
        raise console.usage_error(
            f"no workflow {args.workflow!r} in the deployment (deployed: {known})",
            fix="name one of the deployed workflows, or plan and apply the one you meant",
        )
    sfn = client("stepfunctions")
    name = args.name or f"run-{uuid.uuid4().hex[:16]}"
    arn = sfn.start_execution(stateMachineArn=machines[args.workflow], name=name, input=payload)[
        "executionArn"
    ]
    if args.no_wait:
        _show({"workflow": args.workflow, "execution_arn": arn, "status": "RUNNING"})
        return 0
    described = _wait(sfn, arn, args.timeout)
    result: dict[str, Any] = {
        "workflow": args.workflow,
        "execution_arn": arn,
        "status": described["status"],
        "states": states_passed(sfn, arn),
    }
    if described["status"] == "SUCCEEDED":
        result["output"] = json.loads(described.get("output") or "null")
    elif described["status"] != "RUNNING":
        result["error"] = described.get("error")
        result["cause"] = described.get("cause")
    _show(result)
    return 0 if described["status"] == "SUCCEEDED" else 1


def _wait(sfn: Any, arn: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() >= deadline:
            return described
        time.sleep(POLL_S)


def states_passed(sfn: Any, arn: str) -> list[str]:
    """The names of the states the execution entered, in order (from its history)."""
    names: list[str] = []
    seen = 0
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            seen += 1
            details = event.get("stateEnteredEventDetails")
            if details:
                names.append(str(details["name"]))
        if seen >= MAX_HISTORY_EVENTS:  # a runaway loop: its first states say enough
            break
    return names


def _show(result: dict[str, Any]) -> None:
    lines = [f"{result['workflow']}: {result['status']}  ({result['execution_arn']})"]
    if result.get("states"):
        lines.append(f"states: {' -> '.join(result['states'])}")
    if "output" in result:
        lines.append(f"output: {json.dumps(result['output'], sort_keys=True)}")
    for key in ("error", "cause"):
        if result.get(key):
            lines.append(f"{key}: {result[key]}")
    if result["status"] == "RUNNING" and "states" in result:
        lines.append("still running: stopped waiting (--timeout); it goes on")
    console.current().result(result, "\n".join(lines))
