"""Waiting well, the semaphore alone:

    python -m bench.burst --executions N --limit L --work-seconds W

The workload (a Wait body behind the waiting room, the real gatekeeper deciding every batch) is
`testkit/waiting_room.py` `burst`; billed transitions are counted as `testkit/semaphore_burst.py`
describes. Prints ONE JSON object as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from testkit import waiting_room


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst")
    parser.add_argument("--executions", type=int, default=50)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--work-seconds", type=int, default=2, help="whole seconds (a Wait)")
    parser.add_argument("--timeout", type=float, default=None)
    args = parser.parse_args(argv)
    timeout = args.timeout or 120 + 5 * math.ceil(args.executions / args.limit) * args.work_seconds
    result = waiting_room.burst(args.executions, args.limit, args.work_seconds, timeout)
    print(json.dumps(result))
    ok = (
        result["lost"] == 0
        and result["succeeded"] == args.executions
        and result["peak_holders"] <= args.limit
        and result["holder_violations"] == 0
        and result.get("fifo_inversions", 0) == 0
        and result.get("stuck_waiters", 0) == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
