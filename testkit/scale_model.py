"""The semaphore's throughput on AWS, modelled from the gatekeeper's call ledger.

The gatekeeper's cost per batch is the time between two batches of one FIFO group plus the
round trips it waits for one after another (testkit/gatekeeper_ledger.json, measured and
asserted by tests/emulator/semaphore/test_call_ledger.py), each priced with a latency table.
AWS does not publish these latencies: three sets are assumed (edit LATENCY_MS). The quotas
are AWS's published ones (docs/design.md §4, "Throughput", cites each).

A burst is simulated event by event: executions start as StartExecution's token bucket
allows, each acquire joins the semaphore's one message group, the gatekeeper takes up to 10
messages at a time in order, grants free slots to the head of the line when the batch is
decided, a granted body runs `body_s` and its release joins the same group behind whatever
is waiting there. A waiter still waiting after `max_wait_s` has timed out: skipped (a dead
waiter) when it reaches the head.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from stepqueue.ops.prices import US_EAST_1 as PRICES
from testkit.ledger import recorded

# Milliseconds. `between`: from the end of one batch of a group to the start of the next
# (Lambda's poller: delete, receive, invoke). Assumptions, not measurements.
LATENCY_MS: dict[str, dict[str, float]] = {
    "optimistic": {
        "between": 20,
        "GetItem": 2,
        "BatchGetItem": 3,
        "TransactWriteItems": 8,
        "SendTaskSuccess": 15,
        "DescribeExecution": 15,
        "SendMessage": 8,
    },
    "central": {
        "between": 40,
        "GetItem": 4,
        "BatchGetItem": 6,
        "TransactWriteItems": 15,
        "SendTaskSuccess": 25,
        "DescribeExecution": 25,
        "SendMessage": 15,
    },
    "pessimistic": {
        "between": 80,
        "GetItem": 8,
        "BatchGetItem": 12,
        "TransactWriteItems": 30,
        "SendTaskSuccess": 50,
        "DescribeExecution": 50,
        "SendMessage": 30,
    },
}

# AWS's published quotas (us-east-1, Standard workflows; docs/design.md §4 cites them).
# SQS FIFO scans the first 120,000 messages of a queue for available groups: messages of other
# groups sent behind a larger backlog wait until it drains ("Avoid large message backlogs with
# the same message group ID", SQS Developer Guide).
FIFO_SCAN = 120_000
START_QUEUE_PER_S = 100  # the start queue's pace in the paced scenario
START_BUCKET = 1_300  # StartExecution: bucket size
START_REFILL_PER_S = 300  # ... and refill per second
SEND_TASK_SUCCESS_PER_S = 500  # shared with the workers' callbacks
FIFO_BATCH = 10  # Lambda's batch from a FIFO queue
FIFO_SEND_PER_S = 300  # SendMessage calls per second per FIFO queue, no high throughput
MAX_WAIT_DEFAULT_S = 3_600  # the generator's default max_wait_seconds
ARRIVALS_WARM = "arrivals_wait_warm:arrivals"
ARRIVALS_WAKE = "arrivals_wake:arrivals"
GRANTS_PER_INVOCATION = (
    25 * 8
)  # decide.py: GRANTS_PER_ROUND x ROUNDS_PER_INVOCATION  # the generator's default max_wait_seconds

# Prices: the table `stepqueue cost` bills with; reads are not in it (on-demand, a consistent
# read of up to 4 KB is one read unit).
USD_PER_READ_UNIT = 0.125 / 1_000_000
USD_PER_WRITE_UNIT = PRICES.usd_per_million_write_units / 1_000_000
USD_PER_FIFO_REQUEST = PRICES.usd_per_million_sqs_fifo / 1_000_000
USD_PER_TRANSITION = PRICES.usd_per_1000_transitions / 1000
GATEKEEPER_GB = 0.25
# Items a granted execution has written for it: waiter put and delete, holder put, the holder
# becoming its record; each 2 units (transactional) per KB, ~1-2 KB each.
WRITE_UNITS_PER_EXECUTION_ITEMS = 2 * (2 + 1 + 1 + 1)
COUNTER_WRITE_UNITS = 2 * 1  # the counter (~1 KB), once per transaction


@dataclass(frozen=True)
class Design:
    """A batch's cost in round trips, read off the ledger."""

    name: str
    ledger: dict[str, Any]

    def _calls(self, scenario: str, op: str) -> int:
        return int(self.ledger[scenario]["serial"].get(op, 0))

    @property
    def split(self) -> bool:
        """Acquires recorded in their own group (arrivals.py), beside the semaphore's."""
        return ARRIVALS_WARM in self.ledger

    def batch_ms(
        self,
        lat: dict[str, float],
        releases: int,
        grants: int,
        dead: int,
        looks: bool = False,
        fresh: int = 0,
    ) -> float:
        """One batch of the semaphore's group: `releases` slots freed, `grants` waiters
        granted, `dead` skipped (their rounds settled, then granted again); `looks`: it ends
        with a free slot and nobody in line, so a split design reads the arrivals' tails;
        `fresh`: how many of the grants went to acquires of this same batch (the serial
        design has their items in hand and reads only their records)."""
        if self.split:
            return self._split_batch_ms(lat, grants, dead, looks)
        ms = lat["between"]
        # Reads: the serial design reads one item at a time, per release, per grant and per
        # dead waiter; the batched one reads what it needs in a fixed number of batches.
        reads = "GetItem" if self._calls("balanced_batch", "GetItem") > 1 else "BatchGetItem"
        first = self._calls("acquires_wait", reads)
        if reads == "GetItem":
            per_release = self._calls("release_alone", reads) - first
            per_grant = self._calls("release_grants", reads) - self._calls("release_alone", reads)
            per_dead = self._calls("dead_waiter", reads) - self._calls("release_grants", reads)
            per_fresh = self._calls("acquire_granted", reads) - first
            queued = grants - fresh + dead
            ms += (first + releases * per_release + queued * per_grant) * lat[reads]
            ms += fresh * per_fresh * lat[reads]
            ms += dead * per_dead * lat[reads]
        else:
            ms += self._calls("balanced_batch", reads) * lat[reads]
        ms += self.transactions(bool(grants), dead) * lat["TransactWriteItems"]
        waves = (1 if grants or dead else 0) + (1 if dead else 0)
        return ms + waves * lat["SendTaskSuccess"]

    def _split_batch_ms(self, lat: dict[str, float], grants: int, dead: int, looks: bool) -> float:
        """The semaphore's group beside an arrivals group (`split_batch` of the ledger): the
        waiters it grants were recorded by the other group's container, so their items are
        read here (testkit/scale_proof.py found the balanced batch, its acquires decided in the
        same group, one BatchGetItem too few for a burst)."""
        scenario = "split_batch" if grants or dead else "release_alone"
        reads = self._calls(scenario, "BatchGetItem")
        ms = lat["between"] + reads * lat["BatchGetItem"]
        ms += self.transactions(bool(grants), dead) * lat["TransactWriteItems"]
        ms += (1 if looks else 0) * self._calls("release_alone", "GetItem") * lat["GetItem"]
        waves = (1 if grants or dead else 0) + (1 if dead else 0)
        return ms + waves * lat["SendTaskSuccess"]

    def transactions(self, grants: bool, dead: int) -> int:
        base = self._calls("acquires_wait", "TransactWriteItems")
        if not grants and not dead:
            return base
        grant = self._calls("release_grants", "TransactWriteItems")
        extra = self._calls("dead_waiter", "TransactWriteItems") - grant
        return grant + (extra if dead else 0)

    def arrivals_ms(self, lat: dict[str, float], wake: bool) -> float:
        """One batch of the arrivals group (a warm container); `wake`: a slot was free."""
        scenario = ARRIVALS_WAKE if wake else ARRIVALS_WARM
        ms = lat["between"]
        for op, n in self.ledger[scenario]["serial"].items():
            if wake or op != "BatchGetItem":
                ms += n * lat[op]
        return ms


def designs() -> list[Design]:
    data = recorded()
    return [Design(name, data["designs"][name]) for name in ("serial", "batched")]


def ceiling_per_s(design: Design, lat: dict[str, float]) -> float:
    """Executions a second one semaphore serves in steady state: balanced batches of 5
    acquires and 5 releases, each release granting the next waiter; and never more than
    the quotas every design shares allow (StartExecution; SendTaskSuccess, half of it for
    the workers' callbacks of a one-task body)."""
    if design.split:
        # Two groups at once: arrivals recorded 10 a batch, releases granting 10 a batch.
        record = FIFO_BATCH / (design.arrivals_ms(lat, False) / 1000)
        grant = FIFO_BATCH / (design.batch_ms(lat, FIFO_BATCH, FIFO_BATCH, 0) / 1000)
        own = min(record, grant)
    else:
        per_batch = FIFO_BATCH // 2
        own = per_batch / (design.batch_ms(lat, per_batch, per_batch, 0) / 1000)
    return min(own, START_REFILL_PER_S, SEND_TASK_SUCCESS_PER_S / 2)


def _starts(n: int) -> list[float]:
    """When each execution starts: StartExecution's bucket, full at first."""
    return [
        0.0 if i < START_BUCKET else (i - START_BUCKET + 1) / START_REFILL_PER_S for i in range(n)
    ]


def simulate(
    design: Design,
    lat: dict[str, float],
    n: int,
    limit: int,
    body_s: float,
    max_wait_s: float | None,
    start_times: list[float] | None = None,
) -> dict[str, Any]:
    """The burst, event by event; see the module's docstring."""
    starts = start_times if start_times is not None else _starts(n)
    group: deque[tuple[float, int, int]] = deque()  # (enqueued at, kind 0 acquire/1 release, exec)
    releases: list[tuple[float, int]] = []  # heap of (release enqueued at, execution)
    line: deque[int] = deque()
    held = 0
    t = 0.0
    next_start = 0
    waits: list[float] = []
    release_delays: list[float] = []
    done = succeeded = timed_out = batches = transactions = 0
    finished_at = 0.0
    while done < n:
        while next_start < n and starts[next_start] <= t:
            group.append((starts[next_start], 0, next_start))
            next_start += 1
        while releases and releases[0][0] <= t:
            at, ex = heapq.heappop(releases)
            _merge(group, (at, 1, ex))
        if not group:
            upcoming = [starts[next_start]] if next_start < n else []
            if releases:
                upcoming.append(releases[0][0])
            t = min(upcoming)
            continue
        batch = [group.popleft() for _ in range(min(FIFO_BATCH, len(group)))]
        arrived = {ex for _, kind, ex in batch if kind == 0}
        freed = 0
        for at, kind, ex in batch:
            if kind == 0:
                line.append(ex)
            else:
                held -= 1
                freed += 1
                release_delays.append(t - at)
                done += 1
                succeeded += 1
                finished_at = max(finished_at, at)
        grants, dead = _grant(line, limit - held, t, starts, max_wait_s)
        held += len(grants)
        timed_out += dead
        done += dead
        fresh = sum(1 for ex in grants if ex in arrived)
        cost = design.batch_ms(lat, freed, len(grants), dead, fresh=fresh) / 1000
        transactions += design.transactions(bool(grants), dead)
        t += cost
        batches += 1
        for ex in grants:
            waits.append(t - starts[ex])
            heapq.heappush(releases, (t + body_s, ex))
        if next_start >= n and not releases and not group and line:
            # Nothing left to free a slot: whoever is still in line has timed out.
            done += len(line)
            line.clear()
    return _summary(
        n,
        limit,
        body_s,
        max(finished_at, t),
        waits,
        release_delays,
        succeeded,
        batches,
        transactions,
    )


def simulate_split(
    design: Design,
    lat: dict[str, float],
    n: int,
    limit: int,
    body_s: float,
    max_wait_s: float | None,
    start_times: list[float] | None = None,
) -> dict[str, Any]:
    """The burst with acquires recorded in their own group: two serial servers at once. The
    arrivals group records up to 10 acquires a batch (they join the line when its commit
    lands) and wakes the semaphore's group when a slot is free; the semaphore's group takes
    releases and wake-ups, 10 a batch, and grants from the line as recorded by then."""
    starts = start_times if start_times is not None else _starts(n)
    line: deque[tuple[float, int]] = deque()  # (recorded at, execution)
    control: list[tuple[float, int]] = []  # heap: (enqueued at, execution; -1 a wake-up)
    ta = tc = 0.0
    next_start = held = done = succeeded = batches = transactions = 0
    waits: list[float] = []
    delays: list[float] = []
    finished_at = 0.0
    while done < n:
        a_at = max(ta, starts[next_start]) if next_start < n else math.inf
        c_at = max(tc, control[0][0]) if control else math.inf
        blocked = c_at < math.inf and bisect.bisect_right(starts, c_at) - next_start >= FIFO_SCAN
        if blocked:  # behind the arrivals' backlog in the same queue: not seen until it shrinks
            tc = max(tc, a_at)
        if a_at == math.inf and c_at == math.inf:
            done += len(line)  # nobody left to free a slot: the rest time out
            break
        if blocked or a_at <= c_at:
            take: list[int] = []
            while next_start < n and starts[next_start] <= a_at and len(take) < FIFO_BATCH:
                take.append(next_start)
                next_start += 1
            wake = held < limit
            ta = a_at + design.arrivals_ms(lat, wake) / 1000
            line.extend((ta, ex) for ex in take)
            transactions += 1
            batches += 1
            if wake:
                heapq.heappush(control, (ta, -1))
            continue
        freed = 0
        while control and control[0][0] <= c_at and freed < FIFO_BATCH:
            at, ex = heapq.heappop(control)
            if ex >= 0:
                held -= 1
                freed += 1
                done += 1
                succeeded += 1
                delays.append(c_at - at)
                finished_at = max(finished_at, at)
        grants, dead = _grant_recorded(line, limit - held, c_at, starts, max_wait_s)
        held += len(grants)
        done += dead
        looks = held < limit and not (line and line[0][0] <= c_at)
        tc = c_at + design.batch_ms(lat, freed, len(grants), dead, looks) / 1000
        transactions += design.transactions(bool(grants), dead)
        batches += 1
        for ex in grants:
            waits.append(tc - starts[ex])
            heapq.heappush(control, (tc + body_s, ex))
    return _summary(
        n, limit, body_s, max(finished_at, ta, tc), waits, delays, succeeded, batches, transactions
    )


def _grant_recorded(
    line: deque[tuple[float, int]],
    free: int,
    t: float,
    starts: list[float],
    max_wait_s: float | None,
) -> tuple[list[int], int]:
    """_grant over a line of (recorded at, execution): only waiters recorded by `t`."""
    grants: list[int] = []
    dead = 0
    while line and line[0][0] <= t and len(grants) < min(free, GRANTS_PER_INVOCATION):
        _, ex = line.popleft()
        if max_wait_s is not None and t - starts[ex] > max_wait_s:
            dead += 1
        else:
            grants.append(ex)
    return grants, dead


def _summary(
    n: int,
    limit: int,
    body_s: float,
    seconds: float,
    waits: list[float],
    delays: list[float],
    succeeded: int,
    batches: int,
    transactions: int,
) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 1),
        "efficiency": round(n * body_s / limit / seconds, 3),
        "wait_p50_s": round(_pct(waits, 50), 1),
        "wait_p99_s": round(_pct(waits, 99), 1),
        "release_delay_p99_s": round(_pct(delays, 99), 2),
        # The p99 is of every release, most of them after any backlog drained: the worst is
        # what a release waits behind one.
        "release_delay_max_s": round(max(delays, default=0.0), 1),
        "succeeded_fraction": round(succeeded / n, 4),
        "gatekeeper_invocations": batches,
        "transactions": transactions,
        "usd_per_million": round(_usd_per_million(n, batches, transactions), 2),
    }


def _grant(
    line: deque[int], free: int, t: float, starts: list[float], max_wait_s: float | None
) -> tuple[list[int], int]:
    """The waiters granted at the end of a batch, and how many dead ones were skipped."""
    grants: list[int] = []
    dead = 0
    while line and len(grants) < min(free, GRANTS_PER_INVOCATION):
        ex = line.popleft()
        if max_wait_s is not None and t - starts[ex] > max_wait_s:
            dead += 1
        else:
            grants.append(ex)
    return grants, dead


def _merge(group: deque[tuple[float, int, int]], message: tuple[float, int, int]) -> None:
    """A message joins the group in the order it was sent (releases sent during a batch land
    behind what was already there)."""
    group.append(message)


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def _usd_per_million(n: int, batches: int, transactions: int) -> float:
    """The semaphore's part: two billed transitions (acquire, release), two FIFO sends, a
    receive and a delete per batch, one Lambda request per batch at its modelled length, the
    items' write units and the counter's per transaction, one read unit per item read."""
    mean_batch_s = 0.1
    usd = n * 2 * USD_PER_TRANSITION
    usd += (2 * n + 2 * batches) * USD_PER_FIFO_REQUEST
    usd += batches * (
        PRICES.usd_per_million_lambda_requests / 1_000_000
        + PRICES.usd_per_lambda_gb_second * GATEKEEPER_GB * mean_batch_s
    )
    usd += (
        n * WRITE_UNITS_PER_EXECUTION_ITEMS + transactions * COUNTER_WRITE_UNITS
    ) * USD_PER_WRITE_UNIT
    usd += (batches + 3 * n) * USD_PER_READ_UNIT
    return usd * 1_000_000 / n


def model(n: int = 1_000_000, limit: int = 500, body_s: float = 5.0) -> dict[str, Any]:
    """Every design at every latency set: its ceiling, and the burst without and with the
    default max_wait_seconds."""
    out: dict[str, Any] = {"burst": {"executions": n, "limit": limit, "body_seconds": body_s}}
    for design in designs():
        entry: dict[str, Any] = {
            "ceiling_executions_per_s": {},
            "burst": {},
            "start_queue_burst": {},  # started through the start queue at START_QUEUE_PER_S
        }
        for name, lat in LATENCY_MS.items():
            entry["ceiling_executions_per_s"][name] = round(ceiling_per_s(design, lat), 1)
            run = simulate_split if design.split else simulate
            burst = run(design, lat, n, limit, body_s, None)
            timed = run(design, lat, n, limit, body_s, MAX_WAIT_DEFAULT_S)
            burst["succeeded_fraction"] = timed["succeeded_fraction"]
            entry["burst"][name] = burst
            paced = [i / START_QUEUE_PER_S for i in range(n)]
            through = run(design, lat, n, limit, body_s, None, paced)
            timed = run(design, lat, n, limit, body_s, MAX_WAIT_DEFAULT_S, paced)
            through["succeeded_fraction"] = timed["succeeded_fraction"]
            entry["start_queue_burst"][name] = through
        out[design.name] = entry
    return out
