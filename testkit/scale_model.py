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

The batched gatekeeper records acquires in a group of their own (`simulate_split`), and where
the groups are is part of the design: one FIFO queue for every group of every semaphore
(`batched`, before the split), or each semaphore's arrivals in a queue of their own and the
control groups (releases, ticks, reclaims, limit changes) in one shared queue
(`batched_split_queues`, deployed). SQS FIFO finds available groups only in the first 120,000
messages of a queue, so in one queue the arrivals' backlog hides the control group behind it;
split, the arrivals' backlog is alone in its queue and the control queue's backlog is the
releases in flight (at most the limits), so nothing is hidden. Each queue's SendMessage calls
per second are counted against the quota; a neighbour (a small semaphore of the same
deployment) is simulated beside the burst, in the queues it shares with it; and
`ideal_succeeded` is the bound any in-order gatekeeper meets for a given max_wait_seconds.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from generator import semaphore
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
CURRENT = "batched_split_queues"  # the design deployed: modules/gatekeeper, lambda_src
ARRIVALS_WARM = "arrivals_wait_warm:arrivals"
ARRIVALS_WAKE = "arrivals_wake:arrivals"
GRANTS_PER_INVOCATION = 25 * 8  # decide.py: GRANTS_PER_ROUND x ROUNDS_PER_INVOCATION

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
    """A batch's cost in round trips, read off the ledger; and where its groups are:
    `shared_queue`, one FIFO queue per deployment holding every group of every semaphore
    (the design before the split); otherwise each semaphore's arrivals group has a
    queue of its own and the control groups share one (modules/gatekeeper)."""

    name: str
    ledger: dict[str, Any]
    shared_queue: bool = True

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
    """The serial gatekeeper and the batched one in the shared queue (before the split), and
    the batched one with each semaphore's arrivals in a queue of their own (current)."""
    data = recorded()["designs"]
    return [
        Design("serial", data["serial"]),
        Design("batched", data["batched"]),
        Design(CURRENT, data["batched"], shared_queue=False),
    ]


def ceiling_per_s(design: Design, lat: dict[str, float]) -> float:
    """Executions a second one semaphore serves in steady state: balanced batches of 5
    acquires and 5 releases, each release granting the next waiter; and never more than
    the quotas allow (StartExecution; SendTaskSuccess, half of it for the workers' callbacks
    of a one-task body; SendMessage per FIFO queue: a shared queue takes each execution's
    acquire and release, split queues one each)."""
    if design.split:
        # Two groups at once: arrivals recorded 10 a batch, releases granting 10 a batch.
        record = FIFO_BATCH / (design.arrivals_ms(lat, False) / 1000)
        grant = FIFO_BATCH / (design.batch_ms(lat, FIFO_BATCH, FIFO_BATCH, 0) / 1000)
        own = min(record, grant)
    else:
        per_batch = FIFO_BATCH // 2
        own = per_batch / (design.batch_ms(lat, per_batch, per_batch, 0) / 1000)
    sends = FIFO_SEND_PER_S / (2 if design.shared_queue else 1)
    return min(own, START_REFILL_PER_S, SEND_TASK_SUCCESS_PER_S / 2, sends)


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
    costs: dict[tuple[int, int, int, int], tuple[float, int]] = {}  # a batch's, by its shape
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
        shape = (freed, len(grants), dead, fresh)
        if shape not in costs:
            costs[shape] = (
                design.batch_ms(lat, freed, len(grants), dead, fresh=fresh) / 1000,
                design.transactions(bool(grants), dead),
            )
        cost, commits = costs[shape]
        transactions += commits
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


@dataclass(frozen=True)
class Hidden:
    """When a queue this semaphore shares had its scan window full of another semaphore's
    backlog: a message sent then is received only once the window has room (SQS FIFO's
    120,000-message scan). `arrivals` for the queue holding its arrivals group, `control`
    for the one holding its control group; intervals [from, to), in order."""

    arrivals: tuple[tuple[float, float], ...] = ()
    control: tuple[tuple[float, float], ...] = ()


def _received_from(full: tuple[tuple[float, float], ...], sent: float) -> float:
    """When a message sent at `sent` can first be received, given the queue's full windows."""
    i = bisect.bisect_right(full, (sent, math.inf)) - 1
    return full[i][1] if i >= 0 and sent < full[i][1] else sent


@dataclass
class Seen:
    """What a simulated burst's queues saw, for a neighbour sharing them: when the queue
    holding the control group had its scan window full (intervals [from, to))."""

    control_queue_full: list[tuple[float, float]] = field(default_factory=list)


class _Window:
    """One queue's backlog over time: its largest, and when it filled the scan window."""

    def __init__(self) -> None:
        self.max = 0
        self.full: list[tuple[float, float]] = []
        self._since: float | None = None

    def note(self, t: float, backlog: int) -> None:
        self.max = max(self.max, backlog)
        if backlog >= FIFO_SCAN:
            if self._since is None:
                self._since = t
        elif self._since is not None:
            self.full.append((self._since, t))
            self._since = None

    def close(self, t: float) -> None:
        if self._since is not None:
            self.full.append((self._since, t))
            self._since = None


class _Split:
    """The state of simulate_split: two serial servers (the arrivals group and the control
    group) and the queues between them. The line is the executions recorded and neither
    granted nor skipped, [head, taken); `recorded_at[i]` when execution i's record landed.
    Releases wait as (sent, receivable, how many): one entry per granting batch, whose grants
    all release `body_s` after it."""

    def __init__(
        self,
        design: Design,
        lat: dict[str, float],
        limit: int,
        body_s: float,
        max_wait_s: float | None,
        starts: list[float],
        hidden: Hidden,
    ) -> None:
        self.design, self.lat, self.limit, self.body_s = design, lat, limit, body_s
        self.max_wait_s, self.starts, self.hidden = max_wait_s, starts, hidden
        self.receivable = (
            [_received_from(hidden.arrivals, s) for s in starts] if hidden.arrivals else starts
        )
        self.n = len(starts)
        self.arrivals_s = {w: design.arrivals_ms(lat, w) / 1000 for w in (False, True)}
        self.batch_s: dict[tuple[bool, bool, bool], float] = {}
        self.recorded_at: list[float] = []
        self.ticks: deque[float] = deque()  # receivable at
        self.releases: deque[list[float]] = deque()  # [sent, receivable, count]
        self.control_sends: Counter[int] = Counter()
        self.windows = {"arrivals": _Window(), "control": _Window()}
        self.ta = self.tc = self.finished_at = 0.0
        self.taken = self.head = self.held = self.done = self.succeeded = 0
        self.batches = self.transactions = self.ticks_sent = 0
        self.waits: list[float] = []
        self.delays: list[float] = []

    def next_arrival(self) -> float:
        return max(self.ta, self.receivable[self.taken]) if self.taken < self.n else math.inf

    def next_control(self) -> float:
        first = min(
            self.ticks[0] if self.ticks else math.inf,
            self.releases[0][1] if self.releases else math.inf,
        )
        return max(self.tc, first) if first < math.inf else math.inf

    def arrivals_waiting(self, t: float) -> int:
        """Acquires sent and receivable by `t`, not yet taken by the arrivals group."""
        return bisect.bisect_right(self.receivable, t, self.taken, self.n) - self.taken

    def blocked(self, c_at: float) -> bool:
        """One queue for both groups: the control group is not seen while the arrivals'
        backlog fills the scan window ahead of it."""
        return (
            self.design.shared_queue
            and c_at < math.inf
            and self.arrivals_waiting(c_at) >= FIFO_SCAN
        )

    def arrivals(self, at: float) -> None:
        """One batch of the arrivals group: up to 10 acquires recorded, a tick if a slot is
        free."""
        first = self.taken
        self.windows["arrivals"].note(at, self.arrivals_waiting(at))
        end = bisect.bisect_right(self.receivable, at, first, min(first + FIFO_BATCH, self.n))
        wake = self.held < self.limit
        self.ta = at + self.arrivals_s[wake]
        self.recorded_at.extend([self.ta] * (end - first))
        self.taken = end
        self.transactions += 1
        self.batches += 1
        if wake:
            self.ticks.append(_received_from(self.hidden.control, self.ta))
            self.control_sends[int(self.ta)] += 1
            self.ticks_sent += 1

    def control(self, at: float) -> None:
        """One batch of the control group: up to 10 releases, then grants from the line as
        recorded by `at`."""
        if not self.design.shared_queue:
            self.windows["control"].note(at, self._control_waiting(at))
        freed = self._take_releases(at)
        self.held -= freed
        first, granted, dead = self._grant(at)
        self.held += granted
        self.done += dead
        looks = self.held < self.limit and not (
            self.head < self.taken and self.recorded_at[self.head] <= at
        )
        key = (bool(granted), bool(dead), looks)
        if key not in self.batch_s:  # the split batch's cost depends on these alone
            self.batch_s[key] = self.design.batch_ms(self.lat, freed, granted, dead, looks) / 1000
        self.tc = at + self.batch_s[key]
        self.transactions += self.design.transactions(bool(granted), dead)
        self.batches += 1
        if granted:
            tc = self.tc
            self.waits.extend(tc - s for s in self.starts[first : first + granted])
            sent = tc + self.body_s
            self.releases.append([sent, _received_from(self.hidden.control, sent), granted])
            self.control_sends[int(sent)] += granted

    def _control_waiting(self, t: float) -> int:
        """Control messages receivable by `t` and not yet taken (its queue's backlog)."""
        waiting = 0
        for _, receivable, count in self.releases:
            if receivable > t:
                break
            waiting += int(count)
        for receivable in self.ticks:
            if receivable > t:
                break
            waiting += 1
        return waiting

    def _take_releases(self, at: float) -> int:
        """Up to 10 releases receivable by `at`, in the order they were sent; ticks ahead of
        them are taken too (a wake-up carries nothing to apply)."""
        freed = 0
        while freed < FIFO_BATCH:
            tick = self.ticks[0] if self.ticks else math.inf
            release = self.releases[0][1] if self.releases else math.inf
            if tick <= release:
                if tick > at:
                    break
                self.ticks.popleft()
                continue
            if release > at:
                break
            entry = self.releases[0]
            take = min(int(entry[2]), FIFO_BATCH - freed)
            self.delays.extend([at - entry[0]] * take)
            self.finished_at = max(self.finished_at, entry[0])
            freed += take
            if take == entry[2]:
                self.releases.popleft()
            else:
                entry[2] -= take
        self.done += freed
        self.succeeded += freed
        return freed

    def _grant(self, at: float) -> tuple[int, int, int]:
        """The waiters recorded by `at` granted in order (first, how many) and how many dead
        ones were skipped: past max_wait_s, a prefix of the line since starts are in order."""
        free = self.limit - self.held
        if free <= 0:
            return self.head, 0, 0
        recorded = bisect.bisect_right(self.recorded_at, at, self.head, self.taken)
        dead = 0
        if self.max_wait_s is not None:
            while self.head < recorded and at - self.starts[self.head] > self.max_wait_s:
                self.head += 1
                dead += 1
        first = self.head
        granted = min(free, GRANTS_PER_INVOCATION, recorded - first)
        self.head += granted
        return first, granted, dead

    def queues(self) -> dict[str, Any]:
        """Each queue's largest backlog and its SendMessage calls per second against the
        quota: acquires are sent as executions start, releases when bodies end, ticks by the
        arrivals group."""
        arrivals = _sends_per_s(self.starts)
        if self.design.shared_queue:
            sends = Counter(arrivals)
            sends.update(self.control_sends)
            backlog = self.windows["arrivals"].max
            return {"shared": _queue(backlog, sends)}
        return {
            "arrivals": _queue(self.windows["arrivals"].max, arrivals),
            "control": _queue(self.windows["control"].max, self.control_sends),
        }


def _sends_per_s(starts: list[float]) -> Counter[int]:
    """Messages sent in each second, for a sorted list of send times."""
    counts: Counter[int] = Counter()
    if not starts:
        return counts
    for second in range(int(starts[0]), int(starts[-1]) + 1):
        sent = bisect.bisect_left(starts, second + 1) - bisect.bisect_left(starts, second)
        if sent:
            counts[second] = sent
    return counts


def _queue(backlog_max: int, sends: Counter[int]) -> dict[str, Any]:
    return {
        "backlog_max": backlog_max,
        "sends_per_s_max": max(sends.values(), default=0),
        "seconds_over_send_quota": sum(1 for c in sends.values() if c > FIFO_SEND_PER_S),
    }


def simulate_split(
    design: Design,
    lat: dict[str, float],
    n: int,
    limit: int,
    body_s: float,
    max_wait_s: float | None,
    start_times: list[float] | None = None,
    *,
    hidden: Hidden | None = None,
    seen: Seen | None = None,
) -> dict[str, Any]:
    """The burst with acquires recorded in their own group: two serial servers at once. The
    arrivals group records up to 10 acquires a batch (they join the line when its commit
    lands) and wakes the control group when a slot is free; the control group takes
    releases and wake-ups, 10 a batch, and grants from the line as recorded by then. With
    `design.shared_queue` both groups are in one queue and the control group is not seen
    while the arrivals' backlog fills the scan window; otherwise each has its own queue.
    `hidden`: a bigger neighbour's backlog in the queues this semaphore shares; `seen`, if
    given, is told when this burst filled the window of its control group's queue."""
    starts = start_times if start_times is not None else _starts(n)
    run = _Split(design, lat, limit, body_s, max_wait_s, starts, hidden or Hidden())
    while run.done < n:
        a_at = run.next_arrival()
        c_at = run.next_control()
        if a_at == math.inf and c_at == math.inf:
            run.done += run.taken - run.head  # nobody left to free a slot: the rest time out
            break
        blocked = run.blocked(c_at)
        if blocked:  # behind the arrivals' backlog in the same queue: not seen until it shrinks
            run.tc = max(run.tc, a_at)
        if blocked or a_at <= c_at:
            run.arrivals(a_at)
        else:
            run.control(c_at)
    end = max(run.finished_at, run.ta, run.tc)
    for window in run.windows.values():
        window.close(end)
    if seen is not None:
        key = "arrivals" if design.shared_queue else "control"
        seen.control_queue_full.extend(run.windows[key].full)
    summary = _summary(
        n,
        limit,
        body_s,
        end,
        run.waits,
        run.delays,
        run.succeeded,
        run.batches,
        run.transactions,
        run.ticks_sent,
    )
    summary["queues"] = run.queues()
    return summary


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
    ticks: int = 0,
) -> dict[str, Any]:
    return {
        "seconds": round(seconds, 1),
        "efficiency": round(n * body_s / limit / seconds, 3),
        "wait_p50_s": round(_pct(waits, 50), 1),
        "wait_p99_s": round(_pct(waits, 99), 1),
        "wait_max_s": round(max(waits, default=0.0), 1),
        "release_delay_p99_s": round(_pct(delays, 99), 2),
        # The p99 is of every release, most of them after any backlog drained: the worst is
        # what a release waits behind one.
        "release_delay_max_s": round(max(delays, default=0.0), 1),
        "succeeded_fraction": round(succeeded / n, 4),
        "gatekeeper_invocations": batches,
        "transactions": transactions,
        "usd_per_million": round(_usd_per_million(n, batches, transactions, ticks), 2),
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


def _usd_per_million(n: int, batches: int, transactions: int, ticks: int = 0) -> float:
    """The semaphore's part: two billed transitions (acquire, release), two FIFO sends and
    the ticks the arrivals group sends, a receive and a delete per batch, one Lambda request
    per batch at its modelled length, the items' write units and the counter's per
    transaction, one read unit per item read. Per execution: a queue of its own for a
    semaphore's arrivals adds no request (docs/design.md §4 says why its idle polling, a
    cost per month, is not priced here)."""
    mean_batch_s = 0.1
    usd = n * 2 * USD_PER_TRANSITION
    usd += (2 * n + ticks + 2 * batches) * USD_PER_FIFO_REQUEST
    usd += batches * (
        PRICES.usd_per_million_lambda_requests / 1_000_000
        + PRICES.usd_per_lambda_gb_second * GATEKEEPER_GB * mean_batch_s
    )
    usd += (
        n * WRITE_UNITS_PER_EXECUTION_ITEMS + transactions * COUNTER_WRITE_UNITS
    ) * USD_PER_WRITE_UNIT
    usd += (batches + 3 * n) * USD_PER_READ_UNIT
    return usd * 1_000_000 / n


def ideal_succeeded(
    starts: list[float], limit: int, body_s: float, max_wait_s: float | None
) -> float:
    """The physical bound on `succeeded_fraction`: an ideal gatekeeper (no latency) granting
    in arrival order, each slot turning over every `body_s`, a waiter past `max_wait_s`
    skipped without taking a slot. In order and with equal bodies, the slot a grant takes is
    the one the grant `limit` before it took."""
    frees: deque[float] = deque()  # when the slots of the last `limit` grants free
    granted = 0
    for start in starts:
        at = max(start, frees[0]) if len(frees) == limit else start
        if max_wait_s is not None and at - start > max_wait_s:
            continue
        if len(frees) == limit:
            frees.popleft()
        frees.append(at + body_s)
        granted += 1
    return round(granted / len(starts), 4) if starts else 1.0


def sized_max_wait_s(n: int, limit: int, body_s: float) -> int:
    """The max_wait_seconds generator/semaphore.py's expected_burst warning asks for: the
    longest wait of a burst started as fast as StartExecution allows, granted in order at
    the lowest of limit / (body_s + a slot's turnover) and the gatekeeper's ceiling, plus one
    round."""
    worst, _, _ = semaphore.sized_wait_seconds(n, limit, body_s, None)
    return math.ceil(worst)


# The neighbour: a small semaphore of the same deployment, a trickle of short executions,
# beside the full-rate burst at central latencies. Its starts are not taken from the burst's
# StartExecution bucket (5/s against the refill's 300).
NEIGHBOUR = {"limit": 10, "body_seconds": 1.0, "per_s": 5, "seconds": 7_200}


def neighbour(design: Design, lat: dict[str, float], beside: Seen) -> dict[str, Any]:
    """The neighbour's waits and release delays while the burst's backlog fills the queues it
    shares: with one shared queue both its groups sit behind the burst's arrivals; with
    split queues its arrivals have a queue of their own and its control group shares only
    the control queue, whose window the burst never fills."""
    n = int(NEIGHBOUR["per_s"] * NEIGHBOUR["seconds"])
    starts = [i / NEIGHBOUR["per_s"] for i in range(n)]
    full = tuple(beside.control_queue_full)
    hidden = Hidden(arrivals=full if design.shared_queue else (), control=full)
    args = (design, lat, n, int(NEIGHBOUR["limit"]), NEIGHBOUR["body_seconds"])
    run = simulate_split(*args, None, starts, hidden=hidden)
    timed = simulate_split(*args, MAX_WAIT_DEFAULT_S, starts, hidden=hidden)
    keys = ("wait_p99_s", "wait_max_s", "release_delay_p99_s", "release_delay_max_s")
    return {
        **{k: run[k] for k in keys},
        "succeeded_fraction": timed["succeeded_fraction"],
        "hidden_seconds": round(sum((b - a for a, b in full), 0.0), 1),
    }


def _burst(
    design: Design,
    lat: dict[str, float],
    shape: tuple[int, int, float],
    starts: list[float],
    seen: Seen | None = None,
) -> dict[str, Any]:
    """One burst untimed, and its succeeded fraction with the default max_wait_seconds (the
    same run when nobody waited that long)."""
    n, limit, body_s = shape
    if not design.split:
        burst = simulate(design, lat, n, limit, body_s, None, starts)
        timed = simulate(design, lat, n, limit, body_s, MAX_WAIT_DEFAULT_S, starts)
    else:
        burst = simulate_split(design, lat, n, limit, body_s, None, starts, seen=seen)
        timed = burst
        if burst["wait_max_s"] >= MAX_WAIT_DEFAULT_S - 1:  # rounded: a second's margin
            timed = simulate_split(design, lat, n, limit, body_s, MAX_WAIT_DEFAULT_S, starts)
    burst["succeeded_fraction"] = timed["succeeded_fraction"]
    return burst


def _design(
    design: Design,
    shape: tuple[int, int, float],
    starts: dict[str, list[float]],
    bounds: dict[str, Any],
) -> Any:
    """One design at every latency set; at central latencies the burst also with the
    max_wait_seconds the generator recommends for it, and what it does to a neighbour."""
    n, limit, body_s = shape
    full, paced = starts["burst"], starts["start_queue_burst"]
    entry: dict[str, Any] = {
        "shared_queue": design.shared_queue,
        "ceiling_executions_per_s": {},
        "burst": {},
        "start_queue_burst": {},  # started through the start queue at START_QUEUE_PER_S
    }
    beside = Seen()
    for name, lat in LATENCY_MS.items():
        entry["ceiling_executions_per_s"][name] = round(ceiling_per_s(design, lat), 1)
        burst = _burst(design, lat, shape, full, beside if name == "central" else None)
        burst["succeeded_fraction_bound"] = bounds["burst"]
        if name == "central" and design.split:
            sized = simulate_split(design, lat, n, limit, body_s, bounds["sized_s"], full)
            burst["succeeded_fraction_sized"] = sized["succeeded_fraction"]
            burst["succeeded_fraction_sized_bound"] = bounds["sized"]
        entry["burst"][name] = burst
        through = _burst(design, lat, shape, paced)
        through["succeeded_fraction_bound"] = bounds["start_queue_burst"]
        entry["start_queue_burst"][name] = through
    if design.split:
        entry["neighbour"] = neighbour(design, LATENCY_MS["central"], beside)
    return entry


def model(n: int = 1_000_000, limit: int = 500, body_s: float = 5.0) -> dict[str, Any]:
    """Every design at every latency set: its ceiling, and the burst without and with the
    default max_wait_seconds, beside the bound an ideal gatekeeper sets."""
    shape = (n, limit, body_s)
    sized = sized_max_wait_s(n, limit, body_s)
    full, paced = _starts(n), [i / START_QUEUE_PER_S for i in range(n)]
    bounds = {
        "burst": ideal_succeeded(full, limit, body_s, MAX_WAIT_DEFAULT_S),
        "start_queue_burst": ideal_succeeded(paced, limit, body_s, MAX_WAIT_DEFAULT_S),
        "sized": ideal_succeeded(full, limit, body_s, sized),
        "sized_s": sized,
    }
    out: dict[str, Any] = {
        "burst": {"executions": n, "limit": limit, "body_seconds": body_s},
        "current": CURRENT,
        "max_wait_seconds": {"default": MAX_WAIT_DEFAULT_S, "sized": sized},
        "neighbour": {"semaphore": NEIGHBOUR, "beside": "burst, central latencies"},
    }
    for design in designs():
        out[design.name] = _design(
            design, shape, {"burst": full, "start_queue_burst": paced}, bounds
        )
    out["targets"] = targets(out[CURRENT])
    return out


def targets(current: dict[str, Any]) -> dict[str, Any]:
    """The semaphore's throughput targets at central latencies (ceiling, efficiency,
    release delay, cost), for the current design's full-rate burst; every execution succeeds
    through the start queue with the default max_wait_seconds, and at full rate with the one
    the generator's expected_burst warning asks for (the default cannot hold that burst for
    any design: succeeded_fraction_bound)."""
    burst = current["burst"]["central"]
    paced = current["start_queue_burst"]["central"]
    checks = {
        "succeeded_fraction_start_queue": (paced["succeeded_fraction"], ">=", 1.0),
        "succeeded_fraction_sized": (burst.get("succeeded_fraction_sized", 0.0), ">=", 1.0),
        "ceiling_executions_per_s": (current["ceiling_executions_per_s"]["central"], ">=", 100),
        "efficiency": (burst["efficiency"], ">=", 0.9),
        "release_delay_p99_s": (burst["release_delay_p99_s"], "<=", 1.0),
        "release_delay_max_s": (burst["release_delay_max_s"], "<=", 1.0),
        "usd_per_million": (burst["usd_per_million"], "<=", 61.0),
    }
    return {
        key: {
            "value": value,
            "target": f"{op} {bound}",
            "met": value >= bound if op == ">=" else value <= bound,
        }
        for key, (value, op, bound) in checks.items()
    }
