"""Where `stepqueue semaphore` finds the table and the queue, and how it reports.

Either the deployment's Terraform outputs (`--env aws|local`, `--stage`, the backend flags, the
same target `plan` and `apply` use), or `--table` / `--queue-url` given outright (Terraform is
then not run at all). Every failure is one error (docs/cli.md), exit status 1 (2: bad input).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepqueue import console
from stepqueue.deploy.deployed import TargetFor, deployment_outputs, reporting_failures
from stepqueue.deploy.semaphore_admin import (
    QUEUE_OUTPUT,
    TABLE_OUTPUT,
    AdminError,
    LimitPosted,
    render_table,
    set_limit,
    status,
)
from stepqueue.environment import aws_clients, endpoint_for


@dataclass
class Place:
    table: str
    queue_url: str | None
    client: Callable[[str], Any]  # service name -> boto3 client


def run(args: argparse.Namespace, target_for: TargetFor) -> int:
    return reporting_failures(
        f"stepqueue semaphore {args.semaphore_command}",
        lambda: _run(args, target_for),
        (AdminError,),
    )


def _run(args: argparse.Namespace, target_for: TargetFor) -> int:
    place = locate(args, target_for)
    ddb = place.client("dynamodb")
    out = console.current()
    if args.semaphore_command == "status":
        found = status(ddb, place.table, args.name)
        text = render_table(found) if found else f"no semaphore in table {place.table}"
        out.result([s.as_json() for s in found], text)
        return 0
    if place.queue_url is None:
        raise console.usage_error(
            "--queue-url is needed with --table (the gatekeeper's FIFO queue)"
        )
    posted = set_limit(
        ddb, place.client("sqs"), place.table, place.queue_url, args.name, args.limit
    )
    out.result(_posted_json(args, place, posted), posted.describe())
    return 0


def _posted_json(args: argparse.Namespace, place: Place, posted: LimitPosted) -> dict[str, Any]:
    return {
        "semaphore": args.name,
        "table": place.table,
        "limit_before": posted.before.limit,
        "limit": posted.limit,
        "held": posted.before.held,
        "waiting": posted.before.waiting,
        "message_id": posted.message_id,
        "message": posted.describe(),
    }


def locate(args: argparse.Namespace, target_for: TargetFor) -> Place:
    from stepqueue.deploy.inputs import check_stage

    endpoint = endpoint_for(args.env, args.project.port_file)
    if args.table or args.queue_url:
        if not args.table:
            raise console.usage_error("--queue-url needs --table (the semaphore table's name)")
        return Place(args.table, args.queue_url, aws_clients(endpoint, None))
    check_stage(args.stage)
    outputs = deployment_outputs(target_for(endpoint))
    table = outputs.get(TABLE_OUTPUT)
    if not table:
        raise AdminError(
            f"the deployment has no output {TABLE_OUTPUT}: apply it first (stepqueue plan, "
            "then apply), or give --table"
        )
    queue_url = outputs.get(QUEUE_OUTPUT) or None
    if queue_url is None and args.semaphore_command == "set":
        raise AdminError(
            f"the deployment has no output {QUEUE_OUTPUT}: it has no waiting room (apply a "
            "version that deploys the gatekeeper), or give --table and --queue-url"
        )
    region = outputs.get("region")
    return Place(str(table), queue_url, aws_clients(endpoint, str(region) if region else None))
