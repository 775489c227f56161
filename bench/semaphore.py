"""Stress proof of the concurrency semaphore (docs/design.md §4).

    python -m bench.semaphore --threads 32 --cycles 5000 [--limit 5] [--no-atomic-shim]

T threads each run C cycles of acquire → hold briefly → release against DynamoDB on the local
emulator, sending the exact acquire/release requests of a generated definition
(stepqueue/local/scenarios/semaphore_requests.py), with faults injected at random (seeded):

- ``retried_acquire``: the acquire is sent twice (a Task retry whose first attempt succeeded);
  the second must succeed even when the semaphore is full and must not add a holder;
- ``duplicate_release``: the release is sent twice; the second must succeed;
- ``die``: the execution ends FAILED / TIMED_OUT / ABORTED between acquire and release; half of
  the time its EventBridge event is "delivered" (``reclaim_execution`` runs), otherwise only the
  sweep can find it;
- ``late_acquire``: the execution is marked dead and its one-shot cleanup runs first, then its
  in-flight acquire lands: only the sweep can release that slot.

A sweeper thread runs the real ``sweep`` periodically, as the scheduled rule does in production
(without it, dead holders would fill the semaphore and stall the run).

Invariants, checked continuously:

- the real one: every thread that got a successful acquire registers in a Python-side set
  (under a lock) before its body and leaves it before it releases; the set may never hold more
  than L executions. The item alone cannot show every over-grant: two conditional writes can
  both pass the check while one overwrites the other (the item says L, L + 1 proceed), and an
  over-grant can come and go between two reads of the monitor;
- a monitor thread reads the item (strongly consistent GetItem) and records ``len(holders)``:
  never above L; the count is ``size(holders)`` by contract, and a stored ``count`` attribute,
  should one appear, must equal it.

After the run, one final sweep; then no holder may belong to a dead execution, and no holder may
be left at all (every live execution released). The last stdout line is one JSON object; the
exit status is non-zero on any violation, leak or protocol error.

Execution status: ``--executions real`` starts a real Step Functions execution per cycle on the
emulator (a machine that waits; dying = StopExecution); ``--executions standin`` (the default
above 2,000 cycles in total, and the only affordable choice for 32 × 5,000) hands the sweep a
stand-in ``sfn`` client whose ``describe_execution`` answers from an in-memory status table. The
sweep's logic is the same function either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stepqueue.local.emulator import Emulator
from stepqueue.local.scenarios.semaphore_stress import (
    STANDIN_ABOVE,
    TABLE,
    Config,
    failed,
    load_requests,
    run_stress,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.semaphore",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--hold-ms",
        type=float,
        default=2.0,
        help="longest hold between acquire and release (uniform from 0); longer holds widen the "
        "window in which the Python-side holder set can see an over-grant",
    )
    parser.add_argument(
        "--no-atomic-shim",
        dest="atomic_shim",
        action="store_false",
        help="run moto without the DynamoDB atomicity shim: the stress should catch the race",
    )
    parser.add_argument(
        "--executions",
        choices=("auto", "real", "standin"),
        default="auto",
        help=f"execution status source (auto: real up to {STANDIN_ABOVE} cycles in total)",
    )
    parser.add_argument(
        "--definition",
        type=Path,
        help="stress this generated ASL (template or rendered) instead of generating one",
    )
    parser.add_argument("--endpoint", help="use a running emulator instead of starting one")
    args = parser.parse_args(argv)

    config = Config(
        threads=args.threads,
        cycles=args.cycles,
        limit=args.limit,
        seed=args.seed,
        hold_max_s=args.hold_ms / 1000,
        executions=args.executions,
    )
    requests = load_requests(args.limit, TABLE, args.definition)
    config.limit = requests.limit  # a given definition decides its own limit
    if args.endpoint:
        result = run_stress(args.endpoint, config, requests=requests)
    else:
        with Emulator(atomic_dynamodb=args.atomic_shim) as emu:
            result = run_stress(emu.endpoint, config, requests=requests)
    # With --endpoint the server's shims are whatever that server was started with.
    result["atomic_shim"] = None if args.endpoint else args.atomic_shim
    result["ok"] = not failed(result)
    for key in ("protocol_error_examples", "over_grant_examples", "failure_examples"):
        for line in result[key]:
            print(f"{key}: {line}", file=sys.stderr)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
