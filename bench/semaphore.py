"""Stress proof of the concurrency semaphore (the waiting room):

    python -m bench.semaphore --threads 32 --cycles 50 [--limit 5] [--no-atomic-shim]

The workloads, the faults they inject and the invariants they check are described in
`testkit/waiting_room_stress.py`. Prints ONE JSON object as its last stdout line; exits
non-zero on any violation, leak or protocol error.
"""

from __future__ import annotations

import argparse
import json
import sys

from stepqueue.local.emulator import Emulator
from testkit import waiting_room_stress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.semaphore",
        description=waiting_room_stress.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # The waiting room is the only semaphore (polling was retired); the flag stays accepted so
    # the command lines written before keep working.
    parser.add_argument(
        "--mode", choices=("waiting_room",), default="waiting_room", help=argparse.SUPPRESS
    )
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--cycles", type=int, default=50, help="per thread")
    parser.add_argument(
        "--race-rounds",
        type=int,
        default=40,
        help="rounds of two invocations of one group at once (0: skip)",
    )
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
        help="run moto without the DynamoDB atomicity shim: the concurrent invocations should "
        "then show the race the version check exists for",
    )
    parser.add_argument("--endpoint", help="use a running emulator instead of starting one")
    args = parser.parse_args(argv)
    config = waiting_room_stress.Config(
        threads=args.threads,
        cycles=args.cycles,
        limit=args.limit,
        seed=args.seed,
        hold_max_s=args.hold_ms / 1000,
    )
    if args.endpoint:
        result = waiting_room_stress.run_stress(args.endpoint, config)
        race = waiting_room_stress.concurrent_invocations(args.endpoint, rounds=args.race_rounds)
    else:
        with Emulator(atomic_dynamodb=args.atomic_shim) as emu:
            result = waiting_room_stress.run_stress(emu.endpoint, config)
            race = waiting_room_stress.concurrent_invocations(emu.endpoint, rounds=args.race_rounds)
    # With --endpoint the server's shims are whatever that server was started with.
    result["atomic_shim"] = None if args.endpoint else args.atomic_shim
    # Serialised, the gatekeeper needs no atomicity from the store; two invocations of one
    # group at once rely on the version check, which needs atomic transactions.
    result["concurrent_invocations"] = race
    result["ok"] = not waiting_room_stress.failed(result) and race["violations"] == 0
    for key in ("failure_examples", "violation_examples"):
        for line in result[key] + race.get(key, []):
            print(f"{key}: {line}", file=sys.stderr)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
