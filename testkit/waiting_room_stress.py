"""Stress proof of the waiting room: the real gatekeeper under concurrent load and faults.

    python -m bench.semaphore --mode waiting_room --threads 32 --cycles 50 [--limit 5]

T threads each run C executions through one semaphore. An execution posts the acquire a
generated definition posts (same body, deduplication id = its acquire id) to the gatekeeper's
FIFO queue on the emulator, waits for its task token, holds briefly, and posts its release.
The gatekeeper (`lambda_src/stepqueue_gatekeeper`, unchanged) is pumped with FIFO semantics,
one batch of the group at a time, against the emulator's DynamoDB; Step Functions is a
stand-in that owns the task tokens and the execution statuses (a real execution per cycle
would make the emulator, not the gatekeeper, the subject). Faults, seeded:

- per execution: ``duplicate_acquire`` (the acquire delivered again past SQS's deduplication
  window: a new message), ``duplicate_release``, ``die_holding`` (ends FAILED / TIMED_OUT /
  ABORTED while holding; half of the time its EventBridge reclaim is posted, sometimes twice,
  otherwise only the sweep frees it), ``die_waiting`` (its wait times out: the token closes
  and the gatekeeper must skip it), ``stale_reclaim`` (a reclaim posted for a RUNNING holder:
  it must free nothing);
- per invocation: a crash between the commit and SendTaskSuccess, SendTaskSuccess throttled
  part-way through a batch (some grants delivered, the batch redelivered), and a batch decided
  but not deleted (delivered again whole);
- alongside: the limit lowered and raised (``op: limit``, what `stepqueue semaphore set`
  posts) and sweeps posted, as the schedule does.

Invariants, checked after every gatekeeper invocation (the items at rest: nothing else writes
them): no grant while holders >= the limit in force (a lowered limit revokes nothing); the
counter's ``held`` = holder items; every execution that believes it holds has a holder item
(nothing freed under a running holder); no waiter waits while a slot is free once a batch is
decided; grants in arrival order (from the committed transactions: a waiter granted in a later
commit than a waiter behind it is an inversion). After the run, one sweep: nothing held, no
waiter items left, nothing stuck.

Serialisation is what makes the gatekeeper race-free, not DynamoDB's per-item atomicity: its
items are written by one invocation at a time. ``concurrent_invocations`` breaks that on
purpose (two invocations of one group at once, as a batch whose visibility timeout ran out
mid-invocation would) and shows the counter's version check refuses the second writer; that
check is a TransactWriteItems condition, so it holds only where transactions are atomic: run
without the emulator's atomicity shim, it fails.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stepqueue_gatekeeper import Gatekeeper, Message
from stepqueue_gatekeeper.messages import read
from stepqueue_gatekeeper.store import ConcurrentWriter

from testkit.waiting_room import counter, create_queue, create_table, holder_items

SEMAPHORE = "roomstress"
ARN_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:roomstress:"
FAULTS = (
    "normal",
    "duplicate_acquire",
    "duplicate_release",
    "die_holding",
    "die_waiting",
    "stale_reclaim",
)
WEIGHTS = (0.55, 0.08, 0.08, 0.10, 0.10, 0.09)
DEAD = ("FAILED", "TIMED_OUT", "ABORTED")


class AwsError(Exception):
    """Shaped like botocore's ClientError where the gatekeeper looks (``.response``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": code}}


def now_ms() -> int:
    return int(time.time() * 1000)


# --------------------------------------------------------------------------------------------
# Step Functions, stood in: task tokens and execution statuses


class FaultDice:
    """Random faults that are sure to happen: each kind fires with its rate, and a kind that
    has not fired within ceil(1/rate) chances fires on the next one. A short run whose
    thread interleaving starves one fault of chances still injects every fault it asks for,
    so a test that demands each fault is seen cannot pass or fail on luck."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lock = threading.Lock()
        self.dry: Counter[str] = Counter()

    def roll(self, kind: str, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            self.dry[kind] += 1
            if self.rng.random() < rate or self.dry[kind] >= math.ceil(1 / rate):
                self.dry[kind] = 0
                return True
            return False


@dataclass
class StandInSfn:
    """The three calls the gatekeeper makes, plus the executions' side of each token.

    A token completes once; completing it again, or a token whose wait timed out, answers
    TaskTimedOut (what AWS answers; moto says InvalidToken). Entering the set of executions
    that believe they hold happens inside SendTaskSuccess, atomically with the grant."""

    rng: random.Random
    throttle_rate: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    status: dict[str, str] = field(default_factory=dict)
    stop_ms: dict[str, int] = field(default_factory=dict)
    token_owner: dict[str, str] = field(default_factory=dict)
    token_state: dict[str, str] = field(default_factory=dict)  # open | done | closed
    granted: dict[str, threading.Event] = field(default_factory=dict)
    believers: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    dice: FaultDice = field(init=False)

    def __post_init__(self) -> None:
        self.dice = FaultDice(self.rng)

    def start(self, arn: str) -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.status[arn] = "RUNNING"
            self.token_owner[token] = arn
            self.token_state[token] = "open"
            self.granted[token] = threading.Event()
        return token

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        with self.lock:
            if self.dice.roll("throttle", self.throttle_rate):
                self.counts["throttled_sends"] += 1
                raise AwsError("ThrottlingException")
            state = self.token_state.get(taskToken)
            if state is None:
                raise AwsError("InvalidToken")
            if state != "open":
                self.counts["sends_to_closed_tokens"] += 1
                raise AwsError("TaskTimedOut")
            self.token_state[taskToken] = "done"
            self.believers.add(self.token_owner[taskToken])
            self.counts["grants_delivered"] += 1
            self.granted[taskToken].set()
        return {}

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        """An acquire the gatekeeper drops: its execution fails at once."""
        with self.lock:
            state = self.token_state.get(taskToken)
            if state is None:
                raise AwsError("InvalidToken")
            if state != "open":
                raise AwsError("TaskTimedOut")
            self.token_state[taskToken] = "closed"
            self.status[self.token_owner[taskToken]] = "FAILED"
            self.counts["acquires_failed"] += 1
        return {}

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        with self.lock:
            status = self.status.get(executionArn)
            stop = self.stop_ms.get(executionArn)
        if status is None:
            raise AwsError("ExecutionDoesNotExist")
        reply: dict[str, Any] = {"executionArn": executionArn, "status": status}
        if stop is not None:
            reply["stopDate"] = datetime.fromtimestamp(stop / 1000, tz=UTC)
        return reply

    def stop_execution(self, *, executionArn: str, **_: Any) -> dict[str, Any]:
        self.end(executionArn, "ABORTED")
        return {}

    def end(self, arn: str, status: str) -> None:
        with self.lock:
            self.believers.discard(arn)
            self.status[arn] = status
            self.stop_ms[arn] = now_ms()

    def leave(self, arn: str) -> None:
        """Out of the body, about to post the release."""
        with self.lock:
            self.believers.discard(arn)

    def time_out_waiting(self, token: str) -> bool:
        """The wait's TimeoutSeconds: closes the token unless the grant won the race."""
        with self.lock:
            if self.token_state[token] != "open":
                return False
            self.token_state[token] = "closed"
            arn = self.token_owner[token]
            self.status[arn] = "TIMED_OUT"
            self.stop_ms[arn] = now_ms()
            return True

    def believing(self) -> set[str]:
        with self.lock:
            return set(self.believers)


# --------------------------------------------------------------------------------------------
# Grant order, from what was committed


class RecordingDynamo:
    """The DynamoDB client, observed: every committed transaction's new holders (their place
    in line) in commit order, which is the counter's version order."""

    def __init__(self, ddb: Any) -> None:
        self._ddb = ddb
        self._lock = threading.Lock()
        self.commits: list[tuple[int, list[int]]] = []  # (counter version, seqs newly granted)
        self._holding: set[str] = set()
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        try:
            reply = self._ddb.transact_write_items(**kwargs)
        except Exception:
            with self._lock:
                self.refused += 1
            raise
        version, granted = 0, []
        with self._lock:
            for action in kwargs["TransactItems"]:
                if "Put" in action:
                    item = action["Put"]["Item"]
                    key = item["id"]["S"]
                    if "#" not in key:
                        version = int(item["version"]["N"])
                    elif "holder_of" not in item:  # a freed holder's record: holds nothing
                        self._holding.discard(key)
                    elif "#h#" in key and key not in self._holding:
                        self._holding.add(key)
                        granted.append(int(item["seq"]["N"]))
                elif "Delete" in action:
                    self._holding.discard(action["Delete"]["Key"]["id"]["S"])
            self.commits.append((version, granted))
        return reply

    def fifo_inversions(self) -> int:
        """Grants of a waiter after a commit that granted one behind it."""
        inversions, highest = 0, -1
        for _, seqs in sorted(self.commits):
            inversions += sum(1 for s in seqs if s < highest)
            highest = max([highest, *seqs])
        return inversions


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Config:
    threads: int
    cycles: int
    limit: int = 5
    seed: int = 1
    hold_max_s: float = 0.02
    wait_short_s: float = 0.3  # how long a die_waiting execution waits before it times out
    wait_deadline_s: float = 120.0  # a normal waiter not granted by then is a failure
    crash_rate: float = 0.05  # per grant round: a crash between commit and SendTaskSuccess
    throttle_rate: float = 0.01  # per SendTaskSuccess: throttled, the batch fails part-way
    lost_delete_rate: float = 0.05  # per decided batch: not deleted, delivered again
    limit_change_every_s: float = 0.7  # 0: the limit never changes
    sweep_every_s: float = 1.0
    weights: tuple[float, ...] = WEIGHTS
    progress_every_s: float = 60.0  # 0: silent


@dataclass
class Invariants:
    checks: int = 0
    over_limit: int = 0
    count_mismatches: int = 0
    freed_running: int = 0
    stuck: int = 0
    peak_holders: int = 0
    limits_seen: set[int] = field(default_factory=set)
    examples: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


class Stress:
    def __init__(self, config: Config, ddb: Any, sqs: Any, table: str, queue_url: str) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.rng_lock = threading.Lock()
        self.dice = FaultDice(random.Random(config.seed + 2))
        self.ddb = RecordingDynamo(ddb)
        self.sqs, self.table, self.queue_url = sqs, table, queue_url
        self.sfn = StandInSfn(random.Random(config.seed + 1), config.throttle_rate)
        self.keeper = Gatekeeper(
            self.ddb,
            self.sfn,
            sqs,
            table=table,
            queue_url=queue_url,
            own_prefixes=(ARN_PREFIX,),
            crash_after_commit=self._maybe_crash,
        )
        self.inv = Invariants()
        self.counts: Counter[str] = Counter()
        self.counts_lock = threading.Lock()
        self.failures: list[str] = []
        self.invocations = 0

    def _count(self, key: str, n: int = 1) -> None:
        with self.counts_lock:
            self.counts[key] += n

    def _maybe_crash(self) -> None:
        if self.dice.roll("crash", self.config.crash_rate):
            self._count("crashes_after_commit")
            raise RuntimeError("injected crash between the commit and SendTaskSuccess")

    def post(self, body: dict[str, Any], dedup: str | None = None) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(body),
            MessageGroupId=SEMAPHORE,
            MessageDeduplicationId=dedup or uuid.uuid4().hex,
        )

    # -- the executions ------------------------------------------------------------------------

    def _execution(self, tid: int, cycle: int, rng: random.Random) -> None:
        cfg = self.config
        fault = rng.choices(FAULTS, weights=cfg.weights)[0]
        self._count(f"fault_{fault}")
        arn = f"{ARN_PREFIX}t{tid}-c{cycle}"
        token = self.sfn.start(arn)
        entered = f"{arn} {time.time()}"
        acquire = hashlib.sha256(entered.encode()).hexdigest()
        body = {"op": "acquire", "semaphore": SEMAPHORE, "execution": arn, "acquire": acquire}
        self.post({**body, "token": token}, acquire)
        if fault == "duplicate_acquire":
            self.post({**body, "token": token})
        granted = self.sfn.granted[token]
        if fault == "die_waiting":
            if not granted.wait(rng.uniform(0, cfg.wait_short_s)) and self.sfn.time_out_waiting(
                token
            ):
                self._count("dead_waiters")
                return
            fault = "normal"  # granted in time: an ordinary holder
        elif not granted.wait(cfg.wait_deadline_s):
            self.sfn.time_out_waiting(token)
            self._failure(f"{arn} waited over {cfg.wait_deadline_s}s")
            return
        time.sleep(rng.uniform(0, cfg.hold_max_s))
        if fault == "stale_reclaim":
            self.post({"op": "reclaim", "semaphore": SEMAPHORE, "execution": arn})
            self._count("stale_reclaims")
        if fault == "die_holding":
            self.sfn.end(arn, rng.choice(DEAD))
            self._count("dead_holders")
            if rng.random() < 0.5:
                for _ in range(2 if rng.random() < 0.3 else 1):
                    self.post({"op": "reclaim", "semaphore": SEMAPHORE, "execution": arn})
                    self._count("reclaims_posted")
            return
        self.sfn.leave(arn)
        release = {"op": "release", "semaphore": SEMAPHORE, "execution": arn}
        self.post(release, hashlib.sha256(f"{arn} release".encode()).hexdigest())
        if fault == "duplicate_release":
            self.post(release)
        self.sfn.end(arn, "SUCCEEDED")
        self._count("released")

    def _actor(self, tid: int) -> None:
        rng = random.Random(self.config.seed * 1000 + tid)
        try:
            for cycle in range(self.config.cycles):
                self._execution(tid, cycle, rng)
        except Exception as exc:
            self._failure(f"actor {tid}: {exc!r}")

    def _failure(self, text: str) -> None:
        with self.counts_lock:
            if len(self.failures) < 20:
                self.failures.append(text)
            self.counts["failures"] += 1

    # -- the gatekeeper, pumped ----------------------------------------------------------------

    def step(self, wait_s: int = 1) -> int:
        reply = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
        )
        raw = reply.get("Messages", [])
        if not raw:
            return 0
        parsed = [read(m["MessageId"], m["Attributes"]["MessageGroupId"], m["Body"]) for m in raw]
        before = counter(self.ddb, self.table, SEMAPHORE)
        self.invocations += 1
        decided, ticked = True, False
        try:
            outcome = self.keeper.process(SEMAPHORE, parsed)
            ticked = "tick" in outcome.continued
        except Exception as exc:
            decided = False
            self._count("failed_invocations")
            if isinstance(exc, ConcurrentWriter):
                self._failure("a concurrent writer in a serial run")
        handles = [m["ReceiptHandle"] for m in raw]
        if decided and not self.dice.roll("lost_delete", self.config.lost_delete_rate):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)],
            )
        else:
            if decided:
                self._count("batches_delivered_again")
            # FIFO: the whole batch comes back, in order, before anything newer in the group.
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(handles)
                ],
            )
        self.check(before, settled=decided and not ticked)
        return len(raw)

    def check(self, before: dict[str, int], *, settled: bool) -> None:
        inv = self.inv
        after = counter(self.ddb, self.table, SEMAPHORE)
        held = set(holder_items(self.ddb, self.table, SEMAPHORE))
        believers = self.sfn.believing()  # after the holders: nobody enters meanwhile
        inv.checks += 1
        inv.peak_holders = max(inv.peak_holders, len(held))
        inv.limits_seen.add(after["limit"])
        served = after["head"] > before["head"]
        # Grants come after every message of the batch is applied, so the limit they saw is
        # the one in the counter now; a lowered limit revokes nothing.
        if after["held"] > max(after["limit"], before["held"]) or (
            served and after["held"] > after["limit"]
        ):
            inv.over_limit += 1
            inv.note(f"held {before['held']} -> {after['held']} at limit {after['limit']}")
        if after["held"] != len(held):
            inv.count_mismatches += 1
            inv.note(f"counter says {after['held']} held, {len(held)} holder items")
        if believers - held:
            inv.freed_running += 1
            inv.note(f"running without a holder item: {sorted(believers - held)[:3]}")
        if settled and after["tail"] > after["head"] and after["held"] < after["limit"]:
            inv.stuck += 1
            inv.note(f"{after['tail'] - after['head']} waiting, {after['held']}/{after['limit']}")

    def drain(self, idle_steps: int = 2) -> None:
        idle = 0
        while idle < idle_steps:
            idle = idle + 1 if self.step(wait_s=0) == 0 else 0

    # -- the run ---------------------------------------------------------------------------------

    def _every(self, interval: float, stop: threading.Event, action: Callable[[], None]) -> None:
        while interval > 0 and not stop.wait(interval):
            action()

    def _change_limit(self) -> None:
        with self.rng_lock:
            limit = self.rng.choice(
                [1, max(1, self.config.limit // 2), self.config.limit, self.config.limit * 2]
            )
        self.post({"op": "limit", "semaphore": SEMAPHORE, "limit": limit})
        self._count("limit_changes")

    def _sweep(self) -> None:
        self.post({"op": "sweep", "semaphore": SEMAPHORE})
        self._count("sweeps")

    def run(self) -> dict[str, Any]:
        cfg = self.config
        started = time.monotonic()
        stop_pump, stop_side = threading.Event(), threading.Event()
        pump_error: list[str] = []

        def pump() -> None:
            try:
                while not stop_pump.is_set():
                    self.step(wait_s=1)
            except Exception as exc:  # a dead pump must fail the run, not hang it
                pump_error.append(repr(exc))
                stop_side.set()

        threads = [threading.Thread(target=pump, name="pump", daemon=True)]
        threads += [
            threading.Thread(
                target=self._every,
                args=(cfg.limit_change_every_s, stop_side, self._change_limit),
                daemon=True,
            ),
            threading.Thread(
                target=self._every, args=(cfg.sweep_every_s, stop_side, self._sweep), daemon=True
            ),
        ]
        actors = [
            threading.Thread(target=self._actor, args=(t,), daemon=True) for t in range(cfg.threads)
        ]
        for t in threads + actors:
            t.start()
        total = cfg.threads * cfg.cycles
        for t in actors:
            while t.is_alive():  # long runs report progress on stderr
                t.join(timeout=cfg.progress_every_s or None)
                if t.is_alive() and cfg.progress_every_s:
                    done = self.counts["released"] + self.counts["dead_holders"]
                    done += self.counts["dead_waiters"]
                    print(
                        f"[waiting room] {done}/{total} executions in "
                        f"{time.monotonic() - started:.0f}s, {self.invocations} invocations, "
                        f"violations {self.inv.over_limit + self.inv.count_mismatches}",
                        file=sys.stderr,
                        flush=True,
                    )
        stop_side.set()
        for t in threads[1:]:
            t.join()
        # The limit back to where it started, then one sweep, and everything decided.
        self.post({"op": "limit", "semaphore": SEMAPHORE, "limit": cfg.limit})
        self._sweep()
        stop_pump.set()
        threads[0].join()
        # Settling: no more faults, so what is left is what the gatekeeper left.
        self.config.crash_rate = self.config.lost_delete_rate = self.sfn.throttle_rate = 0.0
        self.drain()
        self._sweep()  # dead holders the run's last sweep did not see yet
        self.drain()
        return self._result(time.monotonic() - started, pump_error)

    def _result(self, seconds: float, pump_error: list[str]) -> dict[str, Any]:
        end = counter(self.ddb, self.table, SEMAPHORE)
        left = holder_items(self.ddb, self.table, SEMAPHORE)
        leaked = [arn for arn in left if self.sfn.status.get(arn) != "RUNNING"]
        waiter_items = _waiter_items(self.ddb, self.table)
        inv = self.inv
        counts = dict(self.counts)
        counts.update({k: v for k, v in self.sfn.counts.items()})
        stuck_at_end = int(end["tail"] > end["head"] and end["held"] < end["limit"])
        result: dict[str, Any] = {
            "mode": "waiting_room",
            "threads": self.config.threads,
            "cycles": self.config.cycles,
            "limit": self.config.limit,
            "executions": self.config.threads * self.config.cycles,
            "seconds": round(seconds, 1),
            "gatekeeper_invocations": self.invocations,
            "checks": inv.checks,
            "violations": inv.over_limit + inv.count_mismatches + inv.freed_running,
            "over_limit": inv.over_limit,
            "count_mismatches": inv.count_mismatches,
            "freed_running": inv.freed_running,
            "stuck_waiters": inv.stuck + stuck_at_end,
            "fifo_inversions": self.ddb.fifo_inversions(),
            "max_holders": inv.peak_holders,
            "believers_left": len(self.sfn.believing()),
            "dead_holders_after_sweep": len(leaked),
            "acquires": self.sfn.counts["grants_delivered"],
            "releases": self.counts["released"],
            "cycles_per_second": round(self.config.threads * self.config.cycles / seconds, 1),
            "seed": self.config.seed,
            "limits_in_force": sorted(inv.limits_seen),
            "leaked_after_sweep": len(leaked),
            "holders_at_end": len(left),
            "waiter_items_at_end": waiter_items,
            "pending_at_end": len(_pending(self.ddb, self.table)),
            "failures": counts.pop("failures", 0) + len(pump_error),
            "failure_examples": self.failures + pump_error,
            "violation_examples": inv.examples,
            **{k: counts.get(k, 0) for k in COUNTERS},
        }
        return result


COUNTERS = (
    "released",
    "dead_waiters",
    "dead_holders",
    "reclaims_posted",
    "stale_reclaims",
    "fault_duplicate_acquire",
    "fault_duplicate_release",
    "limit_changes",
    "sweeps",
    "crashes_after_commit",
    "throttled_sends",
    "batches_delivered_again",
    "failed_invocations",
    "grants_delivered",
    "sends_to_closed_tokens",
)


def _waiter_items(ddb: Any, table: str) -> int:
    page = ddb.scan(
        TableName=table,
        FilterExpression="contains(#id, :w)",
        ExpressionAttributeNames={"#id": "id"},
        ExpressionAttributeValues={":w": {"S": "#w#"}},
        Select="COUNT",
    )
    return int(page["Count"])


def _pending(ddb: Any, table: str) -> list[Any]:
    item = ddb.get_item(TableName=table, Key={"id": {"S": SEMAPHORE}}, ConsistentRead=True)
    return list(item.get("Item", {}).get("pending", {}).get("L", []))


def failed(result: dict[str, Any]) -> bool:
    return any(
        result.get(key, 0)
        for key in (
            "violations",
            "stuck_waiters",
            "fifo_inversions",
            "leaked_after_sweep",
            "holders_at_end",
            "waiter_items_at_end",
            "pending_at_end",
            "believers_left",
            "failures",
        )
    )


def run_stress(endpoint: str, config: Config, *, table: str = SEMAPHORE) -> dict[str, Any]:
    from stepqueue.local.emulator import make_client

    ddb, sqs = make_client(endpoint, "dynamodb"), make_client(endpoint, "sqs")
    create_table(ddb, table, {SEMAPHORE: config.limit})
    url = create_queue(sqs, table)
    return Stress(config, ddb, sqs, table, url).run()


# --------------------------------------------------------------------------------------------
# Serialisation, broken on purpose


def concurrent_invocations(
    endpoint: str, *, rounds: int = 60, limit: int = 3, table: str = "roomrace"
) -> dict[str, Any]:
    """Two invocations of one group at once, each with its own batch (arrivals and a release),
    started together, round after round; a refused one is then decided again alone, as SQS
    would redeliver it. Checked after each round: held = holder items, holders <= the limit,
    every execution whose token completed has a holder item."""
    from stepqueue.local.emulator import make_client

    ddb = RecordingDynamo(make_client(endpoint, "dynamodb"))
    sqs = make_client(endpoint, "sqs")
    create_table(ddb, table, {SEMAPHORE: limit})
    url = create_queue(sqs, table)
    sfn = StandInSfn(random.Random(7))
    keepers = [
        Gatekeeper(ddb, sfn, sqs, table=table, queue_url=url, own_prefixes=(ARN_PREFIX,))
        for _ in range(2)
    ]
    ids = iter(range(1_000_000))
    counts: Counter[str] = Counter()
    examples: list[str] = []
    for _ in range(rounds):
        holding = sorted(sfn.believing())
        random.Random(len(holding)).shuffle(holding)
        batches = [
            _race_batch(sfn, ids, holding[side] if len(holding) > side else None) for side in (0, 1)
        ]
        results = _race(keepers, batches)
        counts["both_decided" if all(results) else "refused_writers"] += 1
        for side in (0, 1):
            if not results[side]:
                keepers[side].process(SEMAPHORE, batches[side])  # redelivered, alone
        problems = _race_problems(ddb, table, sfn, limit)
        counts["violations"] += bool(problems)
        if problems and len(examples) < 5:
            examples.append("; ".join(problems))
    return {
        "rounds": rounds,
        "limit": limit,
        "both_decided": counts["both_decided"],
        "refused_writers": counts["refused_writers"],
        "violations": counts["violations"],
        "violation_examples": examples,
        "grants_delivered": sfn.counts["grants_delivered"],
    }


def _race_batch(sfn: StandInSfn, ids: Iterator[int], release: str | None) -> list[Message]:
    """Three arrivals and, when an execution holds, its release."""
    out: list[Message] = []
    for _ in range(3):
        n = next(ids)
        arn = f"{ARN_PREFIX}race-{n}"
        token = sfn.start(arn)
        acquire = hashlib.sha256(arn.encode()).hexdigest()
        out.append(Message("acquire", SEMAPHORE, f"m{n}", arn, acquire, token))
    if release is not None:
        sfn.leave(release)
        out.append(Message("release", SEMAPHORE, f"m{next(ids)}", release))
    return out


def _race(keepers: list[Gatekeeper], batches: list[list[Message]]) -> list[bool]:
    """Each batch decided by its own gatekeeper, both let go at the same moment; whether
    each one's commit was accepted."""
    start = threading.Barrier(2)
    results: list[bool] = [True, True]

    def run(side: int) -> None:
        results[side] = _decide(keepers[side], batches[side], start)

    threads = [threading.Thread(target=run, args=(side,)) for side in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _decide(keeper: Gatekeeper, messages: list[Message], start: threading.Barrier) -> bool:
    start.wait()
    try:
        keeper.process(SEMAPHORE, messages)
    except ConcurrentWriter:
        return False
    return True


def _race_problems(ddb: Any, table: str, sfn: StandInSfn, limit: int) -> list[str]:
    """The invariants a round must leave true, as the items at rest show them."""
    after = counter(ddb, table, SEMAPHORE)
    held = set(holder_items(ddb, table, SEMAPHORE))
    problems = []
    if after["held"] != len(held):
        problems.append(f"counter says {after['held']} held, {len(held)} holder items")
    if len(held) > limit:
        problems.append(f"{len(held)} holder items at limit {limit}")
    if sfn.believing() - held:
        problems.append("an execution that got its slot has no holder item")
    return problems
