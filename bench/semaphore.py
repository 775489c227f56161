"""Stress proof of the concurrency semaphore:

    python -m bench.semaphore --threads 32 --cycles 5000 [--limit 5] [--no-atomic-shim]

The workload, the faults it injects and the invariants it checks are described in
`stepqueue/local/scenarios/semaphore_stress.py` (also `--help`). Prints ONE JSON object as its
last stdout line; exits non-zero on any violation, leak or protocol error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stepqueue.local.emulator import Emulator
from stepqueue.local.scenarios import semaphore_stress
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
        description=semaphore_stress.__doc__,
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
