"""Stress proof of the concurrency semaphore:

    python -m bench.semaphore [--mode waiting_room] --threads 32 --cycles 50 [--limit 5]
    python -m bench.semaphore --mode polling --threads 32 --cycles 5000 [--no-atomic-shim]

The workloads, the faults they inject and the invariants they check are described in
`testkit/waiting_room_stress.py` (the waiting room, the default) and
`testkit/semaphore_stress.py` (the polling acquire). Prints ONE JSON object
as its last stdout line; exits non-zero on any violation, leak or protocol error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stepqueue.local.emulator import Emulator
from testkit import semaphore_stress, waiting_room_stress
from testkit.semaphore_stress import (
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
        description=f"{waiting_room_stress.__doc__}\n{semaphore_stress.__doc__}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--mode",
        choices=("waiting_room", "polling"),
        default="waiting_room",
        help="which semaphore to stress (default: the waiting room)",
    )
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument(
        "--cycles", type=int, default=None, help="per thread (default: 50, polling 200)"
    )
    parser.add_argument(
        "--race-rounds",
        type=int,
        default=40,
        help="waiting room: rounds of two invocations of one group at once (0: skip)",
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
    if args.mode == "waiting_room":
        return _waiting_room(args)
    args.cycles = args.cycles or 200
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


def _waiting_room(args: argparse.Namespace) -> int:
    config = waiting_room_stress.Config(
        threads=args.threads,
        cycles=args.cycles or 50,
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
