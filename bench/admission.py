"""Admission controls on the emulator: per-key limits, a rate, priorities, the start queue.

    python -m bench.admission [--submissions N] [--seed S]

What each part runs and how it is measured: `testkit/admission.py`. Prints
ONE JSON object as its last stdout line; exits 1 when a promise is broken.
"""

from __future__ import annotations

import argparse
import json
import sys

from testkit.admission import Config, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.admission")
    parser.add_argument("--submissions", type=int, default=Config.submissions)
    parser.add_argument("--repeats", type=int, default=Config.repeats)
    parser.add_argument("--seed", type=int, default=Config.seed)
    args = parser.parse_args(argv)
    result = run(Config(submissions=args.submissions, repeats=args.repeats, seed=args.seed))
    print(json.dumps(result))
    ok = (
        result["max_holders_per_key"] <= result["per_key_limit"]
        and result["max_holders"] <= result["global_limit"]
        and result["max_grants_in_any_second"] <= result["rate_per_second"] + result["rate_burst"]
        and result["priority_inversions"] == 0
        and result["started"] == result["distinct_submissions"]
        # Every submission accounted for: started once, or a repeat the starter recognised.
        and result["started"] + result["recognised_duplicates"] == result["submitted"]
        and result["dead_lettered"] == 0
        and result["succeeded"] == result["executions"]
        and result["duplicate_starts"] == 0
        and result["lost"] == 0
        and result["holder_violations"] == 0
        and not result["pump_errors"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
