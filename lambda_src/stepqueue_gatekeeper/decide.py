"""The decisions for one semaphore, over one batch of its messages, in arrival order.

A step applies messages to the counter and the staged items (arrivals join the line, releases
and reclaims free slots, limit changes take effect), then grants free slots to the head of the
line, then commits all of it at once (store.py). Only after the commit are the grants sent
(SendTaskSuccess, in parallel); a crash in between leaves them in the counter's ``pending``,
and the next invocation sends them again before anything else. So a redelivered batch is
recognised (its message ids are in ``applied``) and never counts twice, and a grant is never
lost.

A token that answers "closed" belongs to a dead waiter (its execution timed out or was stopped
while it waited): its slot is freed and the next waiter served at once. The exception is a
grant that may already have been delivered (a resend after a crash, or a second acquire of an
execution that already holds): then only DescribeExecution decides, and the slot is freed only
if the execution is no longer RUNNING.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from stepqueue_gatekeeper.executions import (
    Verdict,
    describe,
    refuse,
    send_failure,
    send_success,
)
from stepqueue_gatekeeper.messages import Message
from stepqueue_gatekeeper.rules import NO_RULES, PRIORITY_MAX, Bucket, Rules
from stepqueue_gatekeeper.store import (
    APPLIED_KEEP,
    COMMIT_AT,
    FRONT,
    KEY_VALUE_SHOWN,
    MAIN,
    Counter,
    Holder,
    KeyState,
    Line,
    Store,
    Waiter,
    key_hash,
)

GRANTS_PER_ROUND = 25  # holder writes per step, well inside one transaction
ROUNDS_PER_INVOCATION = 8  # then a tick carries on, so one invocation stays short
SWEEP_PAGE = 25  # holders described per sweep message; a cursor message carries on
NOTIFY_THREADS = 10
GRANT_OUTPUT = "{}"
GIVE_BACK_PER_FREE = 5  # parked waiters a freed key slot returns to the lines at once
HOLES_PER_LOOK = 25  # missing waiter items skipped when looking at a line's head
# A rate-bound semaphore sleeps on its wake-up at most this long, so releases and limit
# changes queued behind the wake-up wait no longer than this.
WAKE_MAX_MS = 10_000
# A wake-up overdue by this much is taken as lost and sent again.
WAKE_GRACE_MS = 60_000
INVALID_PRIORITY = "Semaphore.InvalidPriority"
MISSING_KEY = "Semaphore.MissingKey"


@dataclass
class Outcome:
    """What one invocation decided, for the logs and the tests."""

    granted: list[str] = field(default_factory=list)  # executions, in grant order
    dead: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    reclaimed: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # acquires failed: _refusal's reasons
    skipped: list[str] = field(default_factory=list)  # message ids already applied
    continued: list[str] = field(default_factory=list)  # messages sent to carry on
    # Wake-ups that came early, with the seconds to sleep on them: the entry hands them back
    # to SQS with that visibility timeout, and the group waits behind them (rate limits).
    deferred: dict[str, int] = field(default_factory=dict)
    # For the metrics (metrics.py): the reclaims a sweep made (leaked slots: their release and
    # their status-change event both missed), the holders a sweep kept (still RUNNING) with
    # their grant time, and the semaphore as the last commit left it.
    swept: list[dict[str, str]] = field(default_factory=list)
    kept_since: dict[str, int] = field(default_factory=dict)
    limit: int = 0
    held: int = 0
    waiting: int = 0  # in line and parked behind a full key
    parked: int = 0
    head: int = 0
    oldest_since_ms: int | None = None  # when the longest-waiting waiter in line arrived


class Gatekeeper:
    def __init__(
        self,
        ddb: Any,
        sfn: Any,
        sqs: Any,
        *,
        table: str,
        queue_url: str,
        own_prefixes: Sequence[str] = (),
        default_limits: dict[str, int] | None = None,
        rules: dict[str, Rules] | None = None,
        clock: Callable[[], float] = time.time,
        crash_after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.ddb, self.sfn, self.sqs = ddb, sfn, sqs
        self.table, self.queue_url = table, queue_url
        self.own_prefixes = tuple(own_prefixes)
        self.default_limits = default_limits or {}
        self.rules = rules or {}
        self.clock = clock
        # Fault injection for the tests: called between a commit and its SendTaskSuccess calls.
        self.crash_after_commit = crash_after_commit

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def process(self, semaphore: str, messages: Sequence[Message]) -> Outcome:
        # No limit known (no counter item, no deployed default): nothing is granted (limit 0)
        # rather than an invented one.
        store = Store(self.ddb, self.table, semaphore, self.default_limits.get(semaphore, 0))
        rules = self.rules.get(semaphore, NO_RULES)
        out = Outcome()
        self._settle(store, rules, out, possibly_delivered=True)  # grants a crash left unsent
        applied = set(store.counter.applied)
        for i, message in enumerate(messages):
            if message.message_id in applied:
                out.skipped.append(message.message_id)
                continue
            early_ms = (message.at_ms or 0) - self.now_ms() if message.op == "tick" else 0
            if early_ms > 0 and i == len(messages) - 1:
                # An early wake-up with nothing behind it in the batch: the group sleeps on
                # it (not applied, it comes back when due).
                out.deferred[message.message_id] = max(1, math.ceil(early_ms / 1000))
                continue
            self._apply(store, rules, message, out)
            store.counter.applied = [*store.counter.applied, message.message_id][-APPLIED_KEEP:]
            if store.staged >= COMMIT_AT or message.op == "sweep":
                store.commit()
        for _ in range(ROUNDS_PER_INVOCATION):
            granted, moved = self._grant(store, rules)
            store.commit()
            if granted:
                if self.crash_after_commit is not None:
                    self.crash_after_commit()
                self._settle(store, rules, out, possibly_delivered=False)
            if not (granted or moved):
                break
        else:
            c = store.counter
            if c.waiting and c.held < c.limit:
                self._continue(semaphore, {"op": "tick", "semaphore": semaphore}, c.version, out)
        self._wake_when_due(store, rules, out)
        c = store.counter
        out.limit, out.held, out.head = c.limit, c.held, c.head
        out.waiting, out.parked = c.waiting + c.parked, c.parked
        out.oldest_since_ms = self._oldest_since(store)
        return out

    # -- messages ------------------------------------------------------------------------------

    def _apply(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        c = store.counter
        if m.op == "acquire":
            assert m.execution and m.acquire and m.token
            self._arrive(store, rules, m, out)
        elif m.op == "release":
            self._release(store, rules, m, out)
        elif m.op == "reclaim":
            assert m.execution
            holder = store.holder(m.execution)
            if holder is not None:
                self._reclaim(store, rules, holder, out)
        elif m.op == "redriven":
            self._redriven(store, m, out)
        elif m.op == "limit":
            assert m.limit is not None
            c.limit = m.limit
        elif m.op == "sweep":
            self._sweep(store, rules, m, out)
        elif m.op == "tick" and m.at_ms is not None and m.at_ms == c.wake_ms:
            c.wake_ms = 0  # the wake-up this counter waited for: another may be sent
        # A tick has nothing else to apply; the grants after the batch are the point.

    def _release(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        assert m.execution
        holder = store.holder(m.execution)
        if holder is not None:
            self._free(store, rules, holder)
            out.released.append(m.execution)

    def _redriven(self, store: Store, m: Message, out: Outcome) -> None:
        # A redriven execution keeps the slot it still holds; one whose slot was reclaimed
        # restarts where it stopped, maybe inside the body, so it is refused (stopped):
        # the body never goes on without a slot (docs/design.md §4, "Redrive").
        assert m.execution
        if store.holder(m.execution) is None:
            refuse(self.sfn, m.execution, f"its slot of semaphore {m.semaphore} was reclaimed")
            out.refused.append(m.execution)

    def _sweep(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        """One page of holders; a message with the cursor carries on with the next."""
        holders, cursor = store.holders_page(m.cursor, SWEEP_PAGE)
        for holder in holders:
            if store.holder(holder.execution) is not None:  # not freed earlier in the batch
                self._sweep_holder(store, rules, holder, out)
        if cursor is not None:
            body = {"op": "sweep", "semaphore": m.semaphore, "cursor": cursor}
            self._continue(m.semaphore, body, store.counter.version, out)

    def _sweep_holder(self, store: Store, rules: Rules, holder: Holder, out: Outcome) -> None:
        """Reclaims the holder if its execution ended; the metrics count it as swept if so,
        else as kept since its grant."""
        before = len(out.reclaimed)
        self._reclaim(store, rules, holder, out)
        if len(out.reclaimed) > before:
            out.swept.append(out.reclaimed[-1])
        else:
            out.kept_since[holder.execution] = holder.granted_ms

    def _arrive(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        """The acquire joins the line of its priority, keyed when the semaphore has a
        per-key limit; one it cannot place is failed at once rather than left to wait."""
        assert m.execution and m.acquire and m.token
        refusal = _refusal(rules, m)
        if refusal is not None:
            send_failure(self.sfn, m.token, *refusal)
            out.rejected.append(m.execution)
            return
        priority: int = 0 if m.priority is None else m.priority  # checked by _refusal
        key = value = None
        if rules.key_limit is not None and m.key is not None:
            key, value = key_hash(m.key), m.key[:KEY_VALUE_SHOWN]
        c = store.counter
        line: Line = (MAIN, priority)
        head, tail = c.bounds(line)
        waiter = Waiter(tail, m.execution, m.acquire, m.token, self.now_ms(), priority, c.arrivals)
        store.put_waiter(replace(waiter, key=key, key_value=value))
        c.set_bounds(line, head, tail + 1)
        c.arrivals += 1

    def _reclaim(self, store: Store, rules: Rules, holder: Holder, out: Outcome) -> None:
        verdict = describe(self.sfn, holder.execution, self.own_prefixes)
        if _frees(verdict, holder):
            self._free(store, rules, holder)
            out.reclaimed.append({"execution": holder.execution, "reason": verdict.reason})

    def _free(self, store: Store, rules: Rules, holder: Holder) -> None:
        """A slot comes back; with a per-key limit, its key's room goes to the key's oldest
        parked waiter, if any."""
        store.delete_holder(holder.execution)
        store.counter.held -= 1
        if holder.key is not None:
            ks = store.key_state(holder.key, holder.key_value or "")
            ks.held = max(0, ks.held - 1)
            self._give_back(store, rules, ks)
        if store.staged >= COMMIT_AT:
            store.commit()  # safe mid-message: freeing a slot twice finds no holder

    def _give_back(self, store: Store, rules: Rules, ks: KeyState) -> None:
        """Parked waiters move to their priority's front line while their key has room; the
        room stays reserved for them (`returned`) until they are granted or found dead."""
        c = store.counter
        moved = 0
        while ks.parked and moved < GIVE_BACK_PER_FREE:
            if rules.key_limit is not None and ks.held + ks.returned >= rules.key_limit:
                break
            n = ks.parked_head
            waiter = store.parked(ks.key, n)
            store.delete_parked(ks.key, n)
            ks.parked_head += 1
            c.parked -= 1
            if waiter is None:
                continue
            line: Line = (FRONT, waiter.priority)
            head, tail = c.bounds(line)
            store.put_waiter(replace(waiter, seq=tail, returned=True))
            c.set_bounds(line, head, tail + 1)
            ks.returned += 1
            moved += 1
        store.put_key(ks)

    def _park(self, store: Store, ks: KeyState, line: Line, waiter: Waiter) -> None:
        store.delete_waiter(waiter.seq, line)
        store.put_parked(ks.key, ks.parked_tail, replace(waiter, returned=False))
        ks.parked_tail += 1
        store.counter.parked += 1
        store.put_key(ks)

    # -- grants --------------------------------------------------------------------------------

    def _grant(self, store: Store, rules: Rules) -> tuple[int, int]:
        """Serve the best waiter while a slot (and, with a rate, a token) is free; returns
        how many were served and how many parked behind a full key."""
        c = store.counter
        now = self.now_ms()
        bucket = _bucket(c, rules, now) if rules.rate is not None else None
        served = moved = 0
        while c.held < c.limit and served < GRANTS_PER_ROUND and store.staged < COMMIT_AT:
            if bucket is not None and bucket.tokens < 1:
                break
            found = self._best_waiter(store, rules, now)
            if found is None:
                break
            line, waiter = found
            head, tail = c.bounds(line)
            c.set_bounds(line, head + 1, tail)
            held = store.holder(waiter.execution)
            ks = None
            if waiter.key is not None:
                ks = store.key_state(waiter.key, waiter.key_value or "")
            if held is not None:
                # A second acquire of an execution that holds (a duplicate, or a redriven run
                # that kept its slot) takes over the slot it has: no new one is counted. The
                # record keeps its first seq, which marks the grant as possibly delivered.
                store.put_holder(replace(held, run=waiter.acquire))
                if ks is not None and waiter.returned:
                    ks.returned = max(0, ks.returned - 1)
                    self._give_back(store, rules, ks)
            else:
                if ks is not None:
                    limit = rules.key_limit
                    full = limit is not None and ks.held + ks.returned >= limit
                    if not waiter.returned and (full or ks.parked):
                        self._park(store, ks, line, waiter)  # FIFO within a key
                        moved += 1
                        continue
                    if waiter.returned:
                        ks.returned = max(0, ks.returned - 1)
                    ks.held += 1
                    store.put_key(ks)
                c.held += 1
                holder = Holder(waiter.execution, waiter.acquire, waiter.arrived, now)
                store.put_holder(replace(holder, key=waiter.key, key_value=waiter.key_value))
                if bucket is not None:
                    bucket.tokens -= 1
            c.pending.append((line, waiter.seq))
            served += 1
        if bucket is not None:
            c.tokens, c.refilled_ms = bucket.tokens, bucket.refilled_ms
        return served, moved

    def _best_waiter(self, store: Store, rules: Rules, now: int) -> tuple[Line, Waiter] | None:
        """The head to serve: highest priority once aged, then earliest arrival. Per priority
        the front line (waiters their key gave back, older than anyone behind them) first."""
        best: tuple[tuple[int, int], Line, Waiter] | None = None
        for priority in sorted({p for _, p in store.counter.used_lines()}):
            for kind in (FRONT, MAIN):
                head = self._head(store, (kind, priority))
                if head is None:
                    continue
                rank = (rules.effective_priority(priority, now - head.since_ms), -head.arrived)
                if best is None or rank > best[0]:
                    best = (rank, (kind, priority), head)
                break  # the main line waits behind its priority's front line
        return None if best is None else (best[1], best[2])

    def _head(self, store: Store, line: Line) -> Waiter | None:
        """The first waiter of a line, skipping (and consuming) items that are gone."""
        c = store.counter
        head, tail = c.bounds(line)
        for _ in range(HOLES_PER_LOOK):
            if head >= tail:
                return None
            waiter = store.waiter(head, line)
            if waiter is not None:
                return waiter
            head += 1
            c.set_bounds(line, head, tail)
        return None

    def _oldest_since(self, store: Store) -> int | None:
        heads = [self._head(store, line) for line in store.counter.used_lines()]
        found = [w.since_ms for w in heads if w is not None]
        return min(found) if found else None

    def _settle(
        self, store: Store, rules: Rules, out: Outcome, *, possibly_delivered: bool
    ) -> None:
        """Send every pending grant; free the slots of the dead; commit."""
        c = store.counter
        if not c.pending:
            return
        waiters = [
            (line, w) for line, w in ((ln, store.waiter(seq, ln)) for ln, seq in c.pending) if w
        ]
        with ThreadPoolExecutor(min(NOTIFY_THREADS, len(waiters) or 1)) as pool:
            delivered = list(
                pool.map(lambda lw: send_success(self.sfn, lw[1].token, GRANT_OUTPUT), waiters)
            )
        for (line, waiter), ok in zip(waiters, delivered, strict=True):
            holder = store.holder(waiter.execution)
            if ok:
                out.granted.append(waiter.execution)
            elif holder is not None and holder.run == waiter.acquire:
                # Closed. A fresh grant's token was never delivered: a dead waiter. A resend,
                # or a waiter whose execution already held, may have been delivered before:
                # DescribeExecution decides.
                fresh = not possibly_delivered and holder.seq == waiter.arrived
                verdict = None if fresh else describe(self.sfn, waiter.execution, self.own_prefixes)
                if verdict is None or not verdict.running:
                    self._free(store, rules, holder)
                    out.dead.append(waiter.execution)
            store.delete_waiter(waiter.seq, line)
        c.pending = []
        store.commit()

    # -- carrying on ---------------------------------------------------------------------------

    def _wake_when_due(self, store: Store, rules: Rules, out: Outcome) -> None:
        """A rate-bound semaphore with waiters and a free slot sends itself one wake-up for
        its next token, instead of anyone polling: a tick due then, on which the group
        sleeps (Outcome.deferred)."""
        c = store.counter
        if rules.rate is None or not c.waiting or c.held >= c.limit:
            return
        now = self.now_ms()
        bucket = _bucket(c, rules, now)
        if bucket.tokens >= 1:
            return  # not waiting for a token: the rounds ran out, and their tick carries on
        if c.wake_ms and now < c.wake_ms + WAKE_GRACE_MS:
            return  # one is on its way
        at_ms = now + min(bucket.ms_until_token(rules), WAKE_MAX_MS)
        # Sent before the commit that records it: a crash between them leaves an extra tick
        # (harmless), never a semaphore with nobody to wake it.
        self._continue(
            c.semaphore, {"op": "tick", "semaphore": c.semaphore, "at_ms": at_ms}, c.version, out
        )
        c.wake_ms = at_ms
        store.commit()

    def _continue(self, semaphore: str, body: dict[str, Any], version: int, out: Outcome) -> None:
        """More work for this semaphore, queued behind what is already waiting in its group."""
        text = json.dumps(body, sort_keys=True)
        dedup = hashlib.sha256(f"{version}:{text}".encode()).hexdigest()
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=text,
            MessageGroupId=semaphore,
            MessageDeduplicationId=dedup,
        )
        out.continued.append(body["op"])


def _bucket(c: Counter, rules: Rules, now_ms: int) -> Bucket:
    """The rate's bucket as the counter keeps it, refilled to now (full when never used)."""
    bucket = Bucket(float(rules.burst) if c.tokens is None else c.tokens, c.refilled_ms or now_ms)
    bucket.refill(rules, now_ms)
    return bucket


def _refusal(rules: Rules, m: Message) -> tuple[str, str] | None:
    """The error and cause that fail an acquire the semaphore cannot place, if any."""
    if m.priority is not None and not _is_priority(m.priority):
        return INVALID_PRIORITY, (
            f"priority {json.dumps(m.priority)[:100]} for semaphore {m.semaphore} is "
            f"not a whole number from 0 to {PRIORITY_MAX}; fix the value at the "
            "spec's concurrency.priority path in the execution's input"
        )
    if rules.key_limit is not None and m.key is None:
        # Admitting it unkeyed would bypass the per-key limit; only a hand-written or old
        # definition sends no key (the generated Acquire state always does).
        return MISSING_KEY, (
            f"semaphore {m.semaphore} has a per-key limit ({rules.key_limit} per key), so its "
            "rules need a key, but the acquire sent none; send the spec's "
            "concurrency.per_key.key value as the acquire's key (regenerate the definition)"
        )
    return None


def _is_priority(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= PRIORITY_MAX


def _frees(verdict: Verdict, holder: Holder) -> bool:
    """A holder is freed only when its execution is not RUNNING and the record is of the run
    that stopped: granted before the stop. A record granted after it belongs to a later run
    (a redrive keeps the ARN) that a late or duplicate event must not free."""
    if verdict.running:
        return False
    if verdict.stop_ms is None:
        return True  # gone or foreign: it can never release
    return holder.granted_ms <= verdict.stop_ms
