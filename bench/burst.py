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

import argparse
import json
import math
import sys

from stepqueue.local.scenarios.semaphore_burst import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst")
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--work-seconds", type=int, default=2, help="whole seconds (a Wait)")
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args(argv)
    timeout = args.timeout or 120 + 5 * math.ceil(args.executions / args.limit) * args.work_seconds
    result = run(args.executions, args.limit, args.work_seconds, timeout)
    print(json.dumps(result))
    ok = (
        result["lost"] == 0
        and result["succeeded"] == args.executions
        and result["peak_holders"] <= args.limit
        and result["holder_violations"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
