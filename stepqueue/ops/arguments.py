"""The operator commands' arguments, for `stepqueue --help`: argparse only, so listing them
loads none of the code that runs them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

COST_HELP = (
    "estimate transitions, requests, Lambda and DynamoDB use and the bill per 1,000 "
    "executions, queued and calling Lambda directly, side by side"
)
DRIFT_HELP = (
    "compare the deployment (definitions, mappings, queues, semaphore limits) with what the "
    "specs generate; exit 1 when they differ"
)
REDRIVE_HELP = (
    "move a worker's DLQ messages back to its queue, skipping tasks already closed "
    "(a dry run unless --yes)"
)


def add_commands(
    commands: Any, deployment_flags: Callable[[argparse.ArgumentParser], None]
) -> None:
    cost = commands.add_parser("cost", help=COST_HELP, description=COST_HELP)
    _cost(cost)
    drift = commands.add_parser("drift", help=DRIFT_HELP, description=DRIFT_HELP)
    _workflows_flag(drift)
    drift.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    deployment_flags(drift)
    redrive = commands.add_parser("redrive", help=REDRIVE_HELP, description=REDRIVE_HELP)
    _redrive(redrive)
    deployment_flags(redrive)


def _cost(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "specs", nargs="*", metavar="SPEC", help="workflow spec (YAML); default: the project's"
    )
    sub.add_argument(
        "--executions", type=int, required=True, metavar="N", help="executions to bill"
    )
    sub.add_argument(
        "--wait-seconds",
        type=float,
        default=0.0,
        metavar="W",
        help="how long an execution waits for its semaphore slot (default 0); shown with the "
        "estimate: a waiter parked in the waiting room bills nothing while it waits",
    )
    sub.add_argument(
        "--task-seconds",
        type=float,
        default=1.0,
        metavar="S",
        help="how long each handler runs (default 1), for Lambda GB-s",
    )
    sub.add_argument(
        "--map-items",
        type=int,
        default=1,
        metavar="K",
        help="items each Map iterates (default 1; a Map whose Items is a literal list: that many)",
    )
    sub.add_argument(
        "--branch",
        action="append",
        default=[],
        metavar="STATE=TARGET",
        help="the branch the Choice STATE takes (repeat for several; default: the most "
        "expensive one that can still succeed)",
    )
    sub.add_argument("--json", action="store_true", help="one JSON object instead of tables")


def _workflows_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--workflows",
        type=Path,
        default=None,
        metavar="DIR",
        help="the specs the deployment was made from (default: the project's workflows)",
    )


def _redrive(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("workflow", metavar="WORKFLOW", help="the workflow's name (its spec's name:)")
    sub.add_argument("worker", metavar="WORKER", help="the worker whose DLQ to redrive")
    sub.add_argument(
        "--yes",
        action="store_true",
        help="move the messages (without it: a dry run that only reports what would move)",
    )
    sub.add_argument(
        "--dry-run",
        action="store_true",
        help="report only (the default; given for scripts that want to say so)",
    )
    sub.add_argument(
        "--delete-dead",
        action="store_true",
        help="with --yes: also delete the messages whose task is already closed (by default "
        "they stay in the DLQ)",
    )
    sub.add_argument(
        "--max-messages",
        type=int,
        default=1000,
        metavar="N",
        help="look at most at N messages in one run (default 1000)",
    )
    sub.add_argument("--json", action="store_true", help="one JSON object instead of lines")
