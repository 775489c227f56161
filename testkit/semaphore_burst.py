"""Waiting well: `python -m bench.burst --executions N --limit L --work-seconds W`.

A workflow generated from a temporary spec with `concurrency: {limit: L}` whose body is a Wait
state of W seconds (the slot is held exactly that long, no worker noise), created with boto3 on
a fresh emulator (no Terraform: the table and item of docs/contracts.md, the state machine from
`generator.render_definition`). N executions start at once.

- efficiency = ceil(N / L) × W ÷ wall, wall = first execution start → last execution stop.
- transitions_per_execution: billed state transitions, from GetExecutionHistory. Step Functions
  Standard bills one transition per state entered and one per retry attempt. Each
  `*StateEntered` event is one state entered; a Task's retry attempts show as extra
  `TaskScheduled` events inside one `TaskStateEntered`, so
  transitions = (# *StateEntered) + (# TaskScheduled − # TaskStateEntered).
- peak_holders: the semaphore item's holders, sampled every 0.1 s throughout.

Prints ONE JSON object as its last stdout line.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stepqueue.local.burst import (
    START_THREADS,
    TERMINAL,
    HolderMonitor,
    wait_until_ended,
)
from stepqueue.local.emulator import ACCOUNT_ID, Emulator
from stepqueue.local.runner import percentile
from testkit.semaphore_requests import generate_definition_template, render

WORKFLOW = "burstbench"
TABLE = "stepqueue-semaphores"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/stepqueue-burst"


def render_workflow(limit: int, work_seconds: int) -> str:
    """The generated ASL (templatefile placeholders substituted) for the temporary spec."""
    spec = (
        f"name: {WORKFLOW}\n"
        f"concurrency: {{limit: {limit}, mode: polling}}\n"
        "StartAt: Hold\n"
        "States:\n"
        f"  Hold: {{Type: Wait, Seconds: {work_seconds}, End: true}}\n"
    )
    return json.dumps(render(generate_definition_template(spec), TABLE))


def transitions(history: list[dict[str, Any]]) -> int:
    kinds = Counter(event["type"] for event in history)
    entered = sum(n for kind, n in kinds.items() if kind.endswith("StateEntered"))
    retries = max(0, kinds["TaskScheduled"] - kinds["TaskStateEntered"])
    return entered + retries


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    return events


def run(executions: int, limit: int, work_seconds: int, timeout_s: float) -> dict[str, Any]:
    definition = render_workflow(limit, work_seconds)
    with Emulator(atomic_dynamodb=True) as emu:
        ddb, sfn = emu.client("dynamodb"), emu.client("stepfunctions")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName=TABLE, Item={"id": {"S": WORKFLOW}, "holders": {"M": {}}})
        machine = sfn.create_state_machine(name=WORKFLOW, definition=definition, roleArn=ROLE)[
            "stateMachineArn"
        ]
        with (
            HolderMonitor(emu, TABLE, WORKFLOW, limit) as monitor,
            ThreadPoolExecutor(START_THREADS) as starters,
            ThreadPoolExecutor(16) as pool,
        ):
            arns = list(
                starters.map(
                    lambda i: sfn.start_execution(stateMachineArn=machine, name=f"e{i:05d}")[
                        "executionArn"
                    ],
                    range(executions),
                )
            )
            deadline = time.monotonic() + timeout_s
            described = wait_until_ended(sfn, machine, arns, deadline, pool)
            held_at_end = monitor.holders()
        histories = list(pool_map_history(sfn, arns))
    succeeded = [d for d in described.values() if d["status"] == "SUCCEEDED"]
    starts = [d["startDate"].timestamp() for d in succeeded]
    stops = [d["stopDate"].timestamp() for d in succeeded]
    wall = max(stops) - min(starts) if succeeded else math.inf
    ideal = math.ceil(executions / limit) * work_seconds
    counts = [transitions(h) for h in histories]
    return {
        "executions": executions,
        "limit": limit,
        "work_seconds": work_seconds,
        "succeeded": len(succeeded),
        "lost": executions - sum(1 for d in described.values() if d["status"] in TERMINAL),
        "wall_seconds": round(wall, 3),
        "ideal_seconds": ideal,
        "efficiency": round(ideal / wall, 3) if succeeded else 0.0,
        "peak_holders": monitor.peak,
        "holder_violations": monitor.violations,
        "holders_at_end": held_at_end,
        "transitions_per_execution": round(sum(counts) / len(counts), 2) if counts else 0.0,
        "transitions_max": max(counts, default=0),
        "transitions_p95": percentile([float(c) for c in counts], 0.95),
    }


def pool_map_history(sfn: Any, arns: list[str]) -> list[list[dict[str, Any]]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda arn: _history(sfn, arn), arns))
