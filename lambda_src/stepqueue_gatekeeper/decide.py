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
if the execution is no longer RUNNING. A duplicate of an acquire that was granted (delivered
again by SQS, or redriven from the DLQ) is never granted again: the holder item, or what a
freed one left, names the acquires it was granted to.

Retried or dropped (faults.py): an invocation raises, so that its group is redelivered, only
for a transient cause. A message it cannot apply for any other reason (unreadable, outside
this deployment, a call AWS refuses for good) is dropped: nothing of it stays half-written
(the store rolls back to the message's start), it is listed in ``Outcome.dropped`` for the log
and the metric, and its waiter, if it is an acquire with a readable token, is failed at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from stepqueue_aws import error_code

from stepqueue_gatekeeper import arrivals
from stepqueue_gatekeeper.executions import (
    Verdict,
    describe,
    refuse,
    send_failure,
    send_success,
)
from stepqueue_gatekeeper.faults import transient
from stepqueue_gatekeeper.messages import (
    SEMAPHORE,
    UNREADABLE,
    Message,
    is_arrivals,
    semaphore_of_group,
)
from stepqueue_gatekeeper.rules import NO_RULES, PRIORITY_MAX, Bucket, Rules
from stepqueue_gatekeeper.store import (
    APPLIED_KEEP,
    COMMIT_AT,
    FRONT,
    KEY_VALUE_SHOWN,
    MAIN,
    RELEASED_KEEP,
    RELEASED_TTL_S,
    Counter,
    Holder,
    KeyState,
    Line,
    Released,
    Store,
    Waiter,
    arrivals_from,
    arrivals_key,
    holder_key,
    key_hash,
    key_item_key,
    waiter_key,
)

GRANTS_PER_ROUND = 25  # holder writes per step, well inside one transaction
ROUNDS_PER_INVOCATION = 8  # then a tick carries on, so one invocation stays short
SWEEP_PAGE = 25  # holders described per sweep message; a cursor message carries on
NOTIFY_THREADS = 10
GRANT_OUTPUT = "{}"
GIVE_BACK_PER_FREE = 5  # parked waiters a freed key slot returns to the lines at once
HOLES_PER_LOOK = 25  # missing waiter items skipped when looking at a line's head
# A rate-bound semaphore sleeps on its wake-up at most this long, so releases and limit
# changes queued behind the wake-up wait no longer than this. It bounds every deferral: only
# the wake-up the counter waits for is ever slept on, and never longer than this.
WAKE_MAX_MS = 10_000
# A wake-up overdue by this much is taken as lost and sent again.
WAKE_GRACE_MS = 60_000
# Items a warm container keeps between invocations, per semaphore: the first waiters of each
# line and their executions' records. Trusted only while the counter, read consistently at the
# start of every invocation, still has the version they were read or written at: every write
# to a semaphore's items commits its counter with a new version, so an equal version proves
# nobody wrote any of them since.
CACHE_HEAD = 2 * GRANTS_PER_ROUND
_cache: dict[tuple[str, str], tuple[int, dict[str, dict[str, Any] | None]]] = {}
# Grants a warm container sent and saw delivered, whose settle (their waiters deleted, the
# counter's `pending` emptied) it left to the semaphore's next commit instead of a
# transaction of its own: the counter version that committed them pending, and the list.
# Trusted only while the counter still has that version (nobody decided since); a container
# without it, or after any failure, finds them pending and sends them again, as after a
# crash: a resend is answered "closed" and DescribeExecution keeps a RUNNING holder's slot.
_delivered: dict[tuple[str, str], tuple[int, list[tuple[Line, int]]]] = {}
INVALID_PRIORITY = "Semaphore.InvalidPriority"
MISSING_KEY = "Semaphore.MissingKey"
# An acquire dropped because of what it is (unreadable, outside this deployment, ...).
BAD_REQUEST = "Semaphore.BadRequest"
# An acquire dropped because AWS refused, for good, a call its decision needed (a missing
# permission, say): the deployment is broken, not the acquire.
UNAVAILABLE = "Semaphore.Unavailable"
CAUSE_MAX = 1_000  # characters of a dropped message's reason in a log line or a failure cause
# SendTaskSuccess: delivered, or the token could not be completed any more.
CLOSED = "closed"
# What serving the head of a line did with it.
GRANTED, TOOK_OVER, PARKED, SKIPPED = "granted", "took over", "parked", "skipped"


@dataclass
class Outcome:
    """What one invocation decided, for the logs and the tests."""

    granted: list[str] = field(default_factory=list)  # executions, in grant order
    dead: list[str] = field(default_factory=list)
    # Given up for good (not retried): messages, and grants or look-ups AWS refused; each with
    # why, for one log line each and the MessagesDropped metric.
    dropped: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # acquires already granted: skipped
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
    # False when nothing of the semaphore was read or written (every message was dropped):
    # the fields above are not its state then.
    decided: bool = True


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
        semaphores: Collection[str] = (),
        default_limits: dict[str, int] | None = None,
        rules: dict[str, Rules] | None = None,
        clock: Callable[[], float] = time.time,
        crash_after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.ddb, self.sfn, self.sqs = ddb, sfn, sqs
        self.table, self.queue_url = table, queue_url
        self.own_prefixes = tuple(own_prefixes)
        # This deployment's semaphores (empty: not checked); a group of any other is dropped.
        self.semaphores = frozenset(semaphores)
        self.default_limits = default_limits or {}
        self.rules = rules or {}
        self.clock = clock
        # Fault injection for the tests: called between a commit and its SendTaskSuccess calls.
        self.crash_after_commit = crash_after_commit

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def process(self, semaphore: str, messages: Sequence[Message]) -> Outcome:
        """The batch of a semaphore's group; given its arrivals group's name, that group's
        batch of acquires, recorded (arrivals.py)."""
        if is_arrivals(semaphore):
            return self._record(semaphore_of_group(semaphore), messages)
        try:
            return self._process(semaphore, messages)
        except BaseException:
            _cache.pop((self.table, semaphore), None)  # a batch decided again reads afresh
            _delivered.pop((self.table, semaphore), None)  # ... and sends its grants again
            raise

    def _record(self, semaphore: str, messages: Sequence[Message]) -> Outcome:
        out = Outcome(decided=False)  # the counter is not this group's: no state to report
        readable = self._screen(semaphore, messages, out)
        if readable:
            arrivals.record(self, semaphore, readable, out)
        return out

    def _process(self, semaphore: str, messages: Sequence[Message]) -> Outcome:
        out = Outcome()
        # What this container knew delivered is good for this invocation only: taken now, so
        # no later one can match it against a counter it was not meant for.
        delivered = _delivered.pop((self.table, semaphore), None)
        readable = self._screen(semaphore, messages, out)
        store = self._store(semaphore, readable, nothing_to_apply=bool(messages) and not readable)
        if store is None:
            out.decided = False  # nothing to decide
            return out
        rules = self.rules.get(semaphore, NO_RULES)
        if delivered is not None and delivered == (store.counter.version, store.counter.pending):
            self._settled(store)  # sent and delivered by this container: recorded, not resent
        self._settle(store, rules, out, possibly_delivered=True)  # grants a crash left unsent
        last = messages[-1].message_id if messages else None
        self._apply_all(store, rules, readable, last, out)
        self._grant_rounds(store, rules, out)
        self._wake_when_due(store, rules, out)
        c = store.counter
        out.limit, out.held, out.head = c.limit, c.held, c.head
        out.waiting, out.parked = c.waiting + c.parked, c.parked
        out.oldest_since_ms = self._oldest_since(store)
        where = (self.table, semaphore)
        if not store.staged or (store.deferred and store.staged == len(store.deferred)):
            # Committed, but for the settle left to the next commit: the cache is the table
            # at the last commit's version.
            _cache[where] = (c.version, store.known_near_heads(CACHE_HEAD))
            if store.deferred:
                _delivered[where] = (c.version, list(store.deferred))
        if c.held < c.limit and not c.waiting and not out.deferred:
            self._look_for_arrivals(store, out)
        return out

    def _look_for_arrivals(self, store: Store, out: Outcome) -> None:
        """A free slot and nobody in line: waiters the arrivals group recorded since this
        invocation read its tails get a tick (arrivals.py: whichever commit is last, the read
        after it sees the other's)."""
        c = store.counter
        reply = self.ddb.get_item(
            TableName=self.table, Key={"id": {"S": arrivals_key(c.semaphore)}}, ConsistentRead=True
        )
        a = arrivals_from(reply.get("Item"), c.semaphore)
        if all(tail <= c.bounds((tag[0], int(tag[1:])))[1] for tag, tail in a.tails.items()):
            return
        body = {"op": "tick", "semaphore": c.semaphore}
        # Ticks with the same counter version but other arrivals must not be deduplicated.
        self.follow_on(c.semaphore, body, c.version * 1_000_003 + a.version, out)

    def _store(
        self, semaphore: str, readable: Sequence[Message], *, nothing_to_apply: bool
    ) -> Store | None:
        """The semaphore's items; None when a batch of nothing readable has nothing to do:
        the semaphore is not this gatekeeper's, or no grant a crash left is waiting to be sent
        (those are sent whatever the batch holds, so a granted waiter never waits for the
        group's next readable message)."""
        if nothing_to_apply and not self._serves(semaphore):
            return None
        # No limit known (no counter item, no deployed default): nothing is granted (limit 0)
        # rather than an invented one.
        cached = _cache.get((self.table, semaphore))
        # Read with the counter: the records of the batch's executions (a release's holder, an
        # acquire's record for the grant).
        also = [holder_key(semaphore, m.execution) for m in readable if m.execution is not None]
        default_limit = self.default_limits.get(semaphore, 0)
        store = Store(self.ddb, self.table, semaphore, default_limit, also=also, cached=cached)
        if nothing_to_apply and not store.counter.pending:
            return None
        return store

    def _serves(self, semaphore: str) -> bool:
        if self.semaphores:
            return semaphore in self.semaphores
        return SEMAPHORE.match(semaphore) is not None

    def give_up(self, semaphore: str, messages: Sequence[Message], exc: Exception) -> Outcome:
        """Every message of a group whose decision failed for good (not transient): dropped,
        and each acquire's waiter failed at once rather than left to time out."""
        out = Outcome(decided=False)
        why = f"semaphore {semaphore} could not be decided: {_text(exc)}"
        for m in messages:
            if m.op == UNREADABLE:
                self._drop(m, out, f"unreadable: {m.problem}")
            else:
                self._drop(m, out, why, error_code(exc), UNAVAILABLE)
        return out

    def _screen(self, semaphore: str, messages: Sequence[Message], out: Outcome) -> list[Message]:
        """The messages this gatekeeper may act on; the others are dropped here, before the
        semaphore is read."""
        if self.semaphores and semaphore not in self.semaphores:
            for m in messages:
                self._drop(m, out, f"semaphore {semaphore!r} is not one of this deployment's")
            return []
        kept = []
        for m in messages:
            why = self._unfit(semaphore, m)
            if why is None:
                kept.append(m)
            else:
                self._drop(m, out, why)
        return kept

    def _unfit(self, semaphore: str, m: Message) -> str | None:
        if m.op == UNREADABLE:
            return f"unreadable: {m.problem}"
        if m.semaphore != semaphore:
            return f"semaphore {m.semaphore} decided in the group of {semaphore}"
        if m.op in ("acquire", "redriven") and not self._own(m.execution):
            # Never granted, described or stopped: the role may not, and it is not ours.
            return f"execution {m.execution} is not of this deployment's state machines"
        return None

    def _own(self, execution: str | None) -> bool:
        if execution is None:
            return False
        return not self.own_prefixes or execution.startswith(self.own_prefixes)

    def _apply_all(
        self, store: Store, rules: Rules, messages: list[Message], last: str | None, out: Outcome
    ) -> None:
        applied = set(store.counter.applied)
        for message in messages:
            if message.message_id in applied:
                out.skipped.append(message.message_id)
                continue
            sleep_ms = self._sleep_ms(store.counter, message)
            if sleep_ms > 0 and message.message_id == last:
                # The wake-up the counter waits for, early, with nothing behind it in the
                # batch: the group sleeps on it (not applied, it comes back when due).
                out.deferred[message.message_id] = max(1, math.ceil(sleep_ms / 1000))
                continue
            self._apply_or_drop(store, rules, message, out)
            store.counter.applied = [*store.counter.applied, message.message_id][-APPLIED_KEEP:]
            if store.staged >= COMMIT_AT or message.op == "sweep":
                store.commit()

    def _sleep_ms(self, c: Counter, m: Message) -> int:
        """How long the group may sleep on a tick: only on the wake-up this counter sent and
        waits for, and never longer than WAKE_MAX_MS. Any other tick is applied at once (a
        tick due in an hour must not put the semaphore to sleep for an hour)."""
        if m.op != "tick" or m.at_ms is None or not c.wake_ms or m.at_ms != c.wake_ms:
            return 0
        return min(m.at_ms - self.now_ms(), WAKE_MAX_MS)

    def _apply_or_drop(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        store.savepoint()
        try:
            self._apply(store, rules, m, out)
        except Exception as exc:
            if transient(exc):
                raise
            store.rollback()
            self._drop(m, out, f"could not be applied: {_text(exc)}", error_code(exc), UNAVAILABLE)

    def _drop(
        self,
        m: Message,
        out: Outcome,
        why: str,
        error: str | None = None,
        answer: str = BAD_REQUEST,
    ) -> None:
        """Given up for good: listed for the log and the metric, and an acquire's waiter is
        failed at once when its token can be read."""
        entry = {"message_id": m.message_id, "op": m.op, "why": why[:CAUSE_MAX]}
        if error is not None:
            entry["error"] = error
        if m.execution is not None:
            entry["execution"] = m.execution
        out.dropped.append(entry)
        if m.op in ("acquire", UNREADABLE) and m.token:
            cause = (
                f"the gatekeeper of semaphore {m.semaphore} dropped this acquire: {why}"
                if answer == BAD_REQUEST
                else f"the gatekeeper of semaphore {m.semaphore} cannot serve this acquire "
                f"and does not retry it: {why}; see the gatekeeper's role and its log"
            )
            self._answer(m.token, m.execution, answer, cause[:CAUSE_MAX], out, entry)

    def _answer(
        self,
        token: str,
        execution: str | None,
        error: str,
        cause: str,
        out: Outcome,
        entry: dict[str, str],
    ) -> None:
        """SendTaskFailure: the execution fails at once, with `error`. Throttled, it is tried
        again with the batch; refused for good, the drop's log line says so."""
        try:
            send_failure(self.sfn, token, error, cause)
        except Exception as exc:
            if transient(exc):
                raise
            entry["answer"] = f"refused: {error_code(exc)}"
            return
        entry["answer"] = error
        if execution is not None:
            out.rejected.append(execution)

    def _grant_rounds(self, store: Store, rules: Rules, out: Outcome) -> None:
        for _ in range(ROUNDS_PER_INVOCATION):
            granted, moved = self._grant(store, rules, out)
            if not (granted or moved) and store.deferred:
                return  # only a delivered round's settle to write: the next commit carries it
            store.commit()
            if granted:
                if self.crash_after_commit is not None:
                    self.crash_after_commit()
                self._settle(store, rules, out, possibly_delivered=False)
            if not (granted or moved):
                return
        c = store.counter
        if c.waiting and c.held < c.limit:
            self.follow_on(c.semaphore, {"op": "tick", "semaphore": c.semaphore}, c.version, out)

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
        holder = store.holder(m.execution)
        if holder is None:
            refuse(self.sfn, m.execution, f"its slot of semaphore {m.semaphore} was reclaimed")
            out.refused.append(m.execution)
            return
        # It keeps its slot: the record now belongs to the redriven run, which a reclaim told
        # about an earlier run (a late event, a stale DescribeExecution) must not free.
        verdict = describe(self.sfn, m.execution, self.own_prefixes)
        if verdict.running and verdict.runs is not None and verdict.runs > holder.runs:
            store.put_holder(replace(holder, runs=verdict.runs))

    def _sweep(self, store: Store, rules: Rules, m: Message, out: Outcome) -> None:
        """One page of holders; a message with the cursor carries on with the next."""
        holders, cursor = store.holders_page(m.cursor, SWEEP_PAGE)
        for holder in holders:
            if store.holder(holder.execution) is not None:  # not freed earlier in the batch
                self._sweep_holder(store, rules, holder, m.message_id, out)
        if cursor is not None:
            body = {"op": "sweep", "semaphore": m.semaphore, "cursor": cursor}
            self.follow_on(m.semaphore, body, store.counter.version, out)

    def _sweep_holder(
        self, store: Store, rules: Rules, holder: Holder, message_id: str, out: Outcome
    ) -> None:
        """Reclaims the holder if its execution ended; the metrics count it as swept if so,
        else as kept since its grant. One holder AWS will not describe is kept and reported;
        the rest of the page is swept all the same."""
        before = len(out.reclaimed)
        try:
            self._reclaim(store, rules, holder, out)
        except Exception as exc:
            if transient(exc):
                raise
            out.dropped.append(
                {
                    "message_id": message_id,
                    "op": "sweep",
                    "execution": holder.execution,
                    "why": f"kept: DescribeExecution refused: {_text(exc)}"[:CAUSE_MAX],
                    "error": error_code(exc),
                }
            )
            return
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
        c = store.counter
        line: Line = (MAIN, 0 if m.priority is None else m.priority)  # checked by _refusal
        head, tail = c.bounds(line)
        store.put_waiter(new_waiter(rules, m, tail, c.arrivals, self.now_ms()))
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
        # The item stays as the record of the acquires granted and freed: a late duplicate of
        # one of them is recognised at the head of the line, never granted again.
        done = (*holder.released, holder.run)[-RELEASED_KEEP:]
        expires_s = self.now_ms() // 1000 + RELEASED_TTL_S
        store.put_released(Released(holder.execution, done, holder.runs), expires_s)
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

    def _grant(self, store: Store, rules: Rules, out: Outcome) -> tuple[int, int]:
        """Serve the best waiter while a slot (and, with a rate, a token) is free; returns
        how many were served and how many parked behind a full key or skipped."""
        c = store.counter
        now = self.now_ms()
        bucket = _bucket(c, rules, now) if rules.rate is not None else None
        served = moved = 0
        if c.held < c.limit:
            self._read_heads(store, min(GRANTS_PER_ROUND, c.limit - c.held))
        while c.held < c.limit and served < GRANTS_PER_ROUND and store.staged < COMMIT_AT:
            if bucket is not None and bucket.tokens < 1:
                break
            found = self._best_waiter(store, rules, now)
            if found is None:
                break
            line, waiter = found
            head, tail = c.bounds(line)
            c.set_bounds(line, head + 1, tail)
            result = self._serve(store, rules, line, waiter, now)
            if result in (PARKED, SKIPPED):
                if result == SKIPPED:
                    out.duplicates.append(waiter.execution)
                moved += 1
                continue
            if result == GRANTED and bucket is not None:
                bucket.tokens -= 1
            c.pending.append((line, waiter.seq))
            served += 1
        if bucket is not None:
            c.tokens, c.refilled_ms = bucket.tokens, bucket.refilled_ms
        return served, moved

    def _read_heads(self, store: Store, size: int) -> None:
        """The first `size` waiters of every line, then their records and keys, each in one
        batched read: what the grants will look at, not one round trip per look."""
        c = store.counter
        keys = []
        for line in c.used_lines():
            head, tail = c.bounds(line)
            keys += [
                waiter_key(store.semaphore, n, line) for n in range(head, min(tail, head + size))
            ]
        store.prefetch(keys)
        waiters = [store.waiter(int(k.rsplit("#", 1)[1]), _line_of(k)) for k in keys]
        store.prefetch(
            k
            for w in waiters
            if w is not None
            for k in (
                holder_key(store.semaphore, w.execution),
                *([] if w.key is None else [key_item_key(store.semaphore, w.key)]),
            )
        )

    def _serve(self, store: Store, rules: Rules, line: Line, waiter: Waiter, now: int) -> str:
        """The head of a line, taken off it: granted a slot, or taking over the slot its
        execution holds, or parked behind its full key, or skipped as a duplicate."""
        record = store.record(waiter.execution)
        ks = None
        if waiter.key is not None:
            ks = store.key_state(waiter.key, waiter.key_value or "")
        if _duplicate(record, waiter):
            # The same acquire (its token already answered), delivered again: nothing to
            # grant, nothing to send, no slot held past its first grant's release.
            store.delete_waiter(waiter.seq, line)
            self._unreserve(store, rules, ks, waiter)
            return SKIPPED
        if isinstance(record, Holder):
            # A second acquire of an execution that holds (a redriven run that kept its
            # slot, another entry of its Acquire state) takes over the slot it has: no new
            # one is counted. The record keeps its first seq, which marks the grant as
            # possibly delivered.
            store.put_holder(replace(record, run=waiter.acquire))
            self._unreserve(store, rules, ks, waiter)
            return TOOK_OVER
        if ks is not None and not self._key_room(store, rules, ks, line, waiter):
            return PARKED
        store.counter.held += 1
        holder = Holder(waiter.execution, waiter.acquire, waiter.arrived, now)
        if record is not None:  # what an earlier grant of this execution left
            holder = replace(holder, released=record.released, runs=record.runs)
        store.put_holder(replace(holder, key=waiter.key, key_value=waiter.key_value))
        return GRANTED

    def _key_room(
        self, store: Store, rules: Rules, ks: KeyState, line: Line, waiter: Waiter
    ) -> bool:
        """Whether the waiter's key has room for it (then counted); if not, it is parked."""
        limit = rules.key_limit
        full = limit is not None and ks.held + ks.returned >= limit
        if not waiter.returned and (full or ks.parked):
            self._park(store, ks, line, waiter)  # FIFO within a key
            return False
        if waiter.returned:
            ks.returned = max(0, ks.returned - 1)
        ks.held += 1
        store.put_key(ks)
        return True

    def _unreserve(self, store: Store, rules: Rules, ks: KeyState | None, waiter: Waiter) -> None:
        """A waiter its key gave back that takes no new key slot: the room kept for it goes
        to the key's next parked waiter."""
        if ks is not None and waiter.returned:
            ks.returned = max(0, ks.returned - 1)
            self._give_back(store, rules, ks)

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
        """Send every pending grant; free the slots of the dead; commit. Every grant of a
        round delivered: its settle is staged, not committed (the next commit, this
        invocation's or the next one's, carries it: one transaction per batch)."""
        c = store.counter
        if not c.pending:
            return
        store.prefetch(waiter_key(store.semaphore, seq, line) for line, seq in c.pending)
        waiters = [
            (line, w) for line, w in ((ln, store.waiter(seq, ln)) for ln, seq in c.pending) if w
        ]
        with ThreadPoolExecutor(min(NOTIFY_THREADS, len(waiters) or 1)) as pool:
            answers = list(pool.map(lambda lw: self._deliver(lw[1]), waiters))
        # The executions whose grant may have been delivered before, described in one wave
        # rather than one after another (a resend after a crash or a container hop).
        asked = sorted(
            {
                w.execution
                for (_, w), answer in zip(waiters, answers, strict=True)
                if answer is not None and self._asks(store, w, possibly_delivered)
            }
        )
        running = self._running_wave(asked)
        for (line, waiter), answer in zip(waiters, answers, strict=True):
            if answer is None:
                out.granted.append(waiter.execution)
            else:
                self._undelivered(store, rules, waiter, answer, out, possibly_delivered, running)
            store.delete_waiter(waiter.seq, line)
        sent = c.pending
        c.pending = []
        if not possibly_delivered and len(waiters) == len(sent) and all(a is None for a in answers):
            store.deferred = sent
            return
        store.commit()

    @staticmethod
    def _settled(store: Store) -> None:
        """The counter's pending grants, which this container sent and saw each delivered
        with nobody committing since (the counter has the version it left): their settle is
        staged for this invocation's first commit."""
        c = store.counter
        for line, seq in c.pending:
            store.delete_waiter(seq, line)
        c.pending = []

    def _deliver(self, waiter: Waiter) -> str | None:
        """SendTaskSuccess: None once delivered, CLOSED for a token that can no longer be
        completed, the error code when AWS refuses it for good; a transient failure raises
        (the grant stays pending and is sent again with the batch)."""
        try:
            return None if send_success(self.sfn, waiter.token, GRANT_OUTPUT) else CLOSED
        except Exception as exc:
            if transient(exc):
                raise
            return error_code(exc)

    def _undelivered(
        self,
        store: Store,
        rules: Rules,
        waiter: Waiter,
        answer: str,
        out: Outcome,
        possibly_delivered: bool,
        running: dict[str, bool | Exception],
    ) -> None:
        """A grant not delivered now. A fresh grant's token was never delivered: its slot is
        freed (a dead waiter, or one AWS would not let us grant: that one is failed at once).
        A resend, or a waiter whose execution already held, may have been delivered before:
        DescribeExecution decides."""
        holder = store.holder(waiter.execution)
        if holder is None or holder.run != waiter.acquire:
            return
        fresh = not possibly_delivered and holder.seq == waiter.arrived
        if not fresh and self._still_running(waiter.execution, out, running):
            if answer != CLOSED:
                why = f"kept: SendTaskSuccess refused ({answer}) after a possible delivery"
                out.dropped.append({"op": "grant", "execution": waiter.execution, "why": why})
            return
        self._free(store, rules, holder)
        if answer == CLOSED:
            out.dead.append(waiter.execution)
            return
        why = f"SendTaskSuccess refused ({answer}): the slot is freed, the waiter failed"
        entry = {"op": "grant", "execution": waiter.execution, "why": why, "error": answer}
        out.dropped.append(entry)
        cause = (
            f"the gatekeeper of semaphore {store.semaphore} could not grant this acquire: "
            f"SendTaskSuccess was refused ({answer}); see the gatekeeper's role and its log"
        )
        self._answer(waiter.token, waiter.execution, UNAVAILABLE, cause, out, entry)

    def _asks(self, store: Store, waiter: Waiter, possibly_delivered: bool) -> bool:
        """Whether _undelivered will ask DescribeExecution about this waiter's execution."""
        holder = store.holder(waiter.execution)
        if holder is None or holder.run != waiter.acquire:
            return False
        return possibly_delivered or holder.seq != waiter.arrived

    def _running_wave(self, executions: list[str]) -> dict[str, bool | Exception]:
        """Each execution RUNNING or not, described concurrently; a refusal is kept as the
        answer, for _still_running to judge in order."""

        def one(execution: str) -> bool | Exception:
            try:
                return describe(self.sfn, execution, self.own_prefixes).running
            except Exception as exc:
                return exc

        if not executions:
            return {}
        with ThreadPoolExecutor(min(NOTIFY_THREADS, len(executions))) as pool:
            return dict(zip(executions, pool.map(one, executions), strict=True))

    def _still_running(
        self, execution: str, out: Outcome, running: dict[str, bool | Exception]
    ) -> bool:
        """DescribeExecution says RUNNING; when AWS refuses to say, the slot is kept (never
        over the limit) and the refusal reported."""
        try:
            answer = running.get(execution)
            if answer is None:
                return describe(self.sfn, execution, self.own_prefixes).running
            if isinstance(answer, Exception):
                raise answer
            return answer
        except Exception as exc:
            if transient(exc):
                raise
            why = f"kept: DescribeExecution refused: {_text(exc)}"[:CAUSE_MAX]
            out.dropped.append(
                {"op": "describe", "execution": execution, "why": why, "error": error_code(exc)}
            )
            return True

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
        body = {"op": "tick", "semaphore": c.semaphore, "at_ms": at_ms}
        if self.follow_on(c.semaphore, body, c.version, out):
            c.wake_ms = at_ms
            store.commit()

    def follow_on(
        self, semaphore: str, body: dict[str, Any], version: int | str, out: Outcome
    ) -> bool:
        """More work for this semaphore, queued behind what is already waiting in its group
        (the control queue); `version` makes its deduplication id (the state it follows).
        Refused for good, it is reported and not sent: the group's next message (a release,
        an arrival, the schedule's sweep) carries on instead."""
        text = json.dumps(body, sort_keys=True)
        dedup = hashlib.sha256(f"{version}:{text}".encode()).hexdigest()
        try:
            self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=text,
                MessageGroupId=semaphore,
                MessageDeduplicationId=dedup,
            )
        except Exception as exc:
            if transient(exc):
                raise
            why = f"follow-on {body['op']} not sent: {_text(exc)}"[:CAUSE_MAX]
            out.dropped.append({"op": body["op"], "why": why, "error": error_code(exc)})
            return False
        out.continued.append(body["op"])
        return True


def forget() -> None:
    """Drop every cached item (a new container, as far as the cache goes)."""
    _cache.clear()
    _delivered.clear()
    arrivals.forget()


def _line_of(item_id: str) -> Line:
    """The line of a waiter's item id (store.waiter_key)."""
    tag = item_id.rsplit("#", 2)[1]
    return (tag[0], int(tag[1:] or 0))


def _bucket(c: Counter, rules: Rules, now_ms: int) -> Bucket:
    """The rate's bucket as the counter keeps it, refilled to now (full when never used)."""
    bucket = Bucket(float(rules.burst) if c.tokens is None else c.tokens, c.refilled_ms or now_ms)
    bucket.refill(rules, now_ms)
    return bucket


def new_waiter(rules: Rules, m: Message, seq: int, arrived: int, now_ms: int) -> Waiter:
    """An acquire _refusal accepted, as the waiter it becomes at place `seq` of its line."""
    assert m.execution and m.acquire and m.token
    priority: int = 0 if m.priority is None else m.priority
    key = value = None
    if rules.key_limit is not None and m.key is not None:
        key, value = key_hash(m.key), m.key[:KEY_VALUE_SHOWN]
    return Waiter(seq, m.execution, m.acquire, m.token, now_ms, priority, arrived, key, value)


def refusal(rules: Rules, m: Message) -> tuple[str, str] | None:
    return _refusal(rules, m)


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
    """A holder is freed only when its execution is not RUNNING and the record is of a run
    that has stopped. Runs are told apart by Step Functions' own count (redriveCount), never
    by comparing the gatekeeper's clock with Step Functions' stopDate: a record that a
    redriven run kept (stamped by its `redriven` message) is not freed by a reclaim that saw an
    earlier run (a late event, a stale DescribeExecution)."""
    if verdict.running:
        return False
    return verdict.runs is None or holder.runs <= verdict.runs


def _duplicate(record: Holder | Released | None, waiter: Waiter) -> bool:
    """The waiter's acquire is one its execution was granted already: holding now, or
    granted and freed since."""
    if record is None:
        return False
    if isinstance(record, Holder) and record.run == waiter.acquire:
        return True
    return waiter.acquire in record.released


def _text(exc: BaseException) -> str:
    """An error as a log line and a failure cause show it: its code, then what it says."""
    detail = str(exc).strip()
    code = error_code(exc)
    return f"{code}: {detail}" if detail and detail != code else code
