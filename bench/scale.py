"""The semaphore at scale, modelled (no emulator): `python -m bench.scale`.

For bursts of 1,000 to 1,000,000 executions, limits 10 to 1,000 and bodies of 5 to 60 s, what
each execution costs and how hot the hottest DynamoDB item runs, for the waiting room and, for
comparison, the first version's polling acquire (retired: the model is the record of why).
Transitions come from the generated definition (a one-state body, walked from StartAt; the
polling acquire had the same happy path, acquire, body, release, plus its retries); prices and
limits are AWS's published ones, named below.

`model` (testkit/scale_model.py): the gatekeeper's throughput built on its call ledger, for each
latency set, and the 1,000,000-execution / limit 500 / 5-s burst simulated, for the deployed
design (`batched_split_queues`: each semaphore's arrivals in a FIFO queue of their own) beside
the same gatekeeper in one shared queue (`batched`) and the serial one before it (`serial`);
each burst with the bound an ideal gatekeeper sets on `succeeded_fraction`, each queue's backlog
and SendMessage calls against the quota, and a small semaphore's waits beside the burst
(`neighbour`); `model.targets` are the throughput targets, met or not, and the exit status
says whether all are. testkit/scale_proof.py checks the gatekeeper's part against both
gatekeepers run on the emulator. Prints ONE JSON object as its last stdout line.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from generator.api import render_paths
from stepqueue.ops.prices import US_EAST_1 as PRICES
from testkit import scale_model

# -- AWS's published numbers: prices from the one table `stepqueue cost` bills with ---------
USD_PER_TRANSITION = PRICES.usd_per_1000_transitions / 1000  # Standard, per state transition
USD_PER_WRITE_UNIT = PRICES.usd_per_million_write_units / 1_000_000  # DynamoDB on-demand
USD_PER_FIFO_REQUEST = PRICES.usd_per_million_sqs_fifo / 1_000_000  # per request (64 KB)
USD_PER_LAMBDA_REQUEST = PRICES.usd_per_million_lambda_requests / 1_000_000
USD_PER_LAMBDA_GB_S = PRICES.usd_per_lambda_gb_second
ITEM_WCU_PER_S_MAX = 1000  # one partition (and so one item) serves at most 1,000 WCU/s
FIFO_GROUP_MSGS_PER_S = 300  # a FIFO queue without high-throughput mode, per group
LAMBDA_FIFO_BATCH = 10  # SQS FIFO event source mappings deliver at most 10 per batch
HISTORY_EVENTS_MAX = 25_000  # events in one execution's history; ~3 per retried attempt

# -- measured or designed here ----------------------------------------------------------------
GATEKEEPER_INVOCATION_S = 0.1  # one batch: 2 transactions + parallel SendTaskSuccess
GATEKEEPER_MEMORY_GB = 0.25
USD_PER_LAMBDA_INVOCATION = USD_PER_LAMBDA_GB_S * GATEKEEPER_MEMORY_GB * GATEKEEPER_INVOCATION_S
WAITER_ITEM_KB = 1.3  # execution ARN + acquire id + task token (<= 1024 characters)
HOLDER_ITEM_KB = 0.4
COUNTER_ITEM_KB = 1.0  # limit, held, head, tail, version, the last 20 message ids
TRANSACTION_FACTOR = 2  # a transactional write costs two write units per KB
HOLDER_BYTES_POLLING = 138  # one holder in the polling item (ARN + start time)
POLLING_ITEM_BASE_BYTES = 200
POLLING_MEAN_RETRY_S = 2.0  # FULL jitter capped at 4 s: a 2 s mean between attempts

CASES = [
    (1_000, 10, 60),
    (10_000, 10, 60),
    (1_000, 100, 60),
    (100_000, 100, 5),
    (1_000_000, 500, 5),
    (1_000_000, 1_000, 5),
    (1_000_000, 1_000, 60),
]


def _wcu(kb: float) -> int:
    return max(1, math.ceil(kb))


def happy_path_states() -> int:
    """States entered by one successful execution of a one-Wait body, from the generator."""
    spec = (
        "name: scale\nconcurrency: {limit: 10}\n"
        "StartAt: Body\nStates:\n  Body: {Type: Wait, Seconds: 1, End: true}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.yaml"
        path.write_text(spec)
        files, _ = render_paths([path], check_handlers=False)
    states = json.loads(files["asl/scale.asl.json"])["States"]
    name: str | None = json.loads(files["asl/scale.asl.json"])["StartAt"]
    count = 0
    while name is not None:
        count += 1
        state = states[name]
        name = state.get("Next")
    return count


def waiting_room(n: int, limit: int, body_s: int, states: int) -> dict[str, Any]:
    transitions = states  # no retries while waiting: the wait is one Task, parked
    per_execution_wcu = (
        TRANSACTION_FACTOR * _wcu(WAITER_ITEM_KB)  # arrival: waiter put
        + TRANSACTION_FACTOR * _wcu(HOLDER_ITEM_KB)  # grant: holder put
        + TRANSACTION_FACTOR * _wcu(WAITER_ITEM_KB)  # granted: waiter delete
        + TRANSACTION_FACTOR * _wcu(HOLDER_ITEM_KB)  # release: holder delete
    )
    grant_rate = limit / body_s  # slots freed (and granted) per second, steady state
    capacity = min(FIFO_GROUP_MSGS_PER_S, LAMBDA_FIFO_BATCH / GATEKEEPER_INVOCATION_S)
    # Releases arriving faster than one invocation share batches; slower ones each wake it.
    per_batch = min(LAMBDA_FIFO_BATCH, max(1.0, 2 * grant_rate * GATEKEEPER_INVOCATION_S))
    invocations = math.ceil(n / LAMBDA_FIFO_BATCH) + math.ceil(n / per_batch)
    counter_writes = 2 * invocations  # apply + settle, one counter write each
    counter_wcu = TRANSACTION_FACTOR * _wcu(COUNTER_ITEM_KB)
    per_execution_wcu_total = per_execution_wcu + counter_writes * counter_wcu / n
    # The counter is the hottest item: at most 2 commits per invocation, one invocation at a time.
    hottest = min(2 / GATEKEEPER_INVOCATION_S, 2 * max(grant_rate, 1)) * counter_wcu
    fifo_requests = 2 + 2 * (invocations / n)  # two sends; receives and deletes per batch
    usd = (
        transitions * USD_PER_TRANSITION
        + per_execution_wcu_total * USD_PER_WRITE_UNIT
        + fifo_requests * USD_PER_FIFO_REQUEST
        + (invocations / n)
        * (
            USD_PER_LAMBDA_REQUEST
            + USD_PER_LAMBDA_GB_S * GATEKEEPER_MEMORY_GB * GATEKEEPER_INVOCATION_S
        )
    )
    return {
        "executions": n,
        "limit": limit,
        "body_seconds": body_s,
        "transitions_per_execution": transitions,
        "wcu_per_execution": round(per_execution_wcu_total, 2),
        "hottest_item_wcu_per_s": round(hottest, 1),
        "gatekeeper_invocations": invocations,
        "grant_rate_needed_per_s": round(grant_rate, 1),
        "group_messages_per_s": round(capacity, 1),
        "keeps_up": 2 * grant_rate <= capacity,
        "usd_per_1000_executions": round(1000 * usd, 4),
    }


def polling(n: int, limit: int, body_s: int, states: int) -> dict[str, Any]:
    """The retired polling acquire (one holders map per semaphore, the acquire retried with
    FULL jitter), modelled from AWS's rules: what the waiting room replaced."""
    rounds = math.ceil(n / limit)
    mean_wait = (rounds - 1) * body_s / 2
    attempts = mean_wait / POLLING_MEAN_RETRY_S
    item_kb = (limit * HOLDER_BYTES_POLLING + POLLING_ITEM_BASE_BYTES) / 1024
    wcu = _wcu(item_kb)
    waiting = max(0, n - limit)
    hottest = waiting / POLLING_MEAN_RETRY_S * wcu + 2 * limit / body_s * wcu
    transitions = states + attempts
    return {
        "executions": n,
        "limit": limit,
        "body_seconds": body_s,
        "transitions_per_execution": round(transitions, 1),
        "wcu_per_execution": round((attempts + 2) * wcu, 1),
        "hottest_item_wcu_per_s": round(hottest, 1),
        "gatekeeper_invocations": 0,
        "throttles": hottest > ITEM_WCU_PER_S_MAX,
        "longest_wait_within_history": (rounds * body_s / POLLING_MEAN_RETRY_S) * 3
        < HISTORY_EVENTS_MAX,
        "usd_per_1000_executions": round(
            1000 * (transitions * USD_PER_TRANSITION + (attempts + 2) * wcu * USD_PER_WRITE_UNIT),
            2,
        ),
    }


def main() -> int:
    room_states = happy_path_states()
    polling_states = room_states  # acquire, body, release: its waits are the retries
    room = [waiting_room(n, lim, b, room_states) for n, lim, b in CASES]
    poll = [polling(n, lim, b, polling_states) for n, lim, b in CASES]
    result = {
        "cases": [{"waiting_room": r, "polling": p} for r, p in zip(room, poll, strict=True)],
        "body_transitions": 1,
        "max_hottest_item_wcu_per_s": max(r["hottest_item_wcu_per_s"] for r in room),
        "max_extra_transitions": max(r["transitions_per_execution"] for r in room) - 1,
        # The same limit and body with bursts 10x apart (waits 10x apart): the same price.
        "cost_independent_of_wait": room[0]["usd_per_1000_executions"]
        == room[1]["usd_per_1000_executions"],
    }
    result["model"] = scale_model.model()
    print(json.dumps(result))
    ok = (
        result["max_hottest_item_wcu_per_s"] < ITEM_WCU_PER_S_MAX
        and result["max_extra_transitions"] <= 3
        and all(t["met"] for t in result["model"]["targets"].values())
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
