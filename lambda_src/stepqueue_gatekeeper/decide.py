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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stepqueue_gatekeeper.executions import Verdict, describe, refuse, send_success
from stepqueue_gatekeeper.messages import Message
from stepqueue_gatekeeper.store import (
    APPLIED_KEEP,
    COMMIT_AT,
    Holder,
    Store,
    Waiter,
    waiter_from,
    waiter_key,
)

GRANTS_PER_ROUND = 25  # holder writes per step, well inside one transaction
ROUNDS_PER_INVOCATION = 8  # then a tick carries on, so one invocation stays short
SWEEP_PAGE = 25  # holders described per sweep message; a cursor message carries on
NOTIFY_THREADS = 10
GRANT_OUTPUT = "{}"


@dataclass
class Outcome:
    """What one invocation decided, for the logs and the tests."""

    granted: list[str] = field(default_factory=list)  # executions, in grant order
    dead: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    reclaimed: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # message ids already applied
    continued: list[str] = field(default_factory=list)  # messages sent to carry on
    # For the metrics (metrics.py): the reclaims a sweep made (leaked slots: their release and
    # their status-change event both missed), the holders a sweep kept (still RUNNING) with
    # their grant time, and the semaphore as the last commit left it.
    swept: list[dict[str, str]] = field(default_factory=list)
    kept_since: dict[str, int] = field(default_factory=dict)
    limit: int = 0
    held: int = 0
    waiting: int = 0
    head: int = 0


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
        clock: Callable[[], float] = time.time,
        crash_after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.ddb, self.sfn, self.sqs = ddb, sfn, sqs
        self.table, self.queue_url = table, queue_url
        self.own_prefixes = tuple(own_prefixes)
        self.default_limits = default_limits or {}
        self.clock = clock
        # Fault injection for the tests: called between a commit and its SendTaskSuccess calls.
        self.crash_after_commit = crash_after_commit

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def process(self, semaphore: str, messages: Sequence[Message]) -> Outcome:
        # No limit known (no counter item, no deployed default): nothing is granted (limit 0)
        # rather than an invented one.
        store = Store(self.ddb, self.table, semaphore, self.default_limits.get(semaphore, 0))
        out = Outcome()
        self._settle(store, out, possibly_delivered=True)  # grants a crash left unsent
        applied = set(store.counter.applied)
        for message in messages:
            if message.message_id in applied:
                out.skipped.append(message.message_id)
                continue
            self._apply(store, message, out)
            store.counter.applied = [*store.counter.applied, message.message_id][-APPLIED_KEEP:]
            if store.staged >= COMMIT_AT or message.op == "sweep":
                store.commit()
        for _ in range(ROUNDS_PER_INVOCATION):
            granted = self._grant(store)
            store.commit()
            if not granted:
                break
            if self.crash_after_commit is not None:
                self.crash_after_commit()
            self._settle(store, out, possibly_delivered=False)
        else:
            c = store.counter
            if c.waiting and c.held < c.limit:
                self._continue(semaphore, {"op": "tick", "semaphore": semaphore}, c.version, out)
        c = store.counter
        out.limit, out.held, out.waiting, out.head = c.limit, c.held, c.waiting, c.head
        return out

    def waiting_since_ms(self, semaphore: str, seq: int) -> int | None:
        """When waiter `seq` joined the line (the metrics' oldest wait), or None when its item
        is gone. Read after the decisions, never part of them."""
        reply = self.ddb.get_item(
            TableName=self.table, Key={"id": {"S": waiter_key(semaphore, seq)}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else waiter_from(item).since_ms

    # -- messages ------------------------------------------------------------------------------

    def _apply(self, store: Store, m: Message, out: Outcome) -> None:
        c = store.counter
        if m.op == "acquire":
            assert m.execution and m.acquire and m.token
            store.put_waiter(Waiter(c.tail, m.execution, m.acquire, m.token, self.now_ms()))
            c.tail += 1
        elif m.op == "release":
            assert m.execution
            if store.holder(m.execution) is not None:
                store.delete_holder(m.execution)
                c.held -= 1
                out.released.append(m.execution)
        elif m.op == "reclaim":
            assert m.execution
            holder = store.holder(m.execution)
            if holder is not None:
                self._reclaim(store, holder, out)
        elif m.op == "redriven":
            assert m.execution
            # A redriven execution keeps the slot it still holds; one whose slot was reclaimed
            # restarts where it stopped, maybe inside the body, so it is refused (stopped):
            # the body never goes on without a slot (docs/design.md §4, "Redrive").
            if store.holder(m.execution) is None:
                refuse(self.sfn, m.execution, f"its slot of semaphore {m.semaphore} was reclaimed")
                out.refused.append(m.execution)
        elif m.op == "limit":
            assert m.limit is not None
            c.limit = m.limit
        elif m.op == "sweep":
            holders, cursor = store.holders_page(m.cursor, SWEEP_PAGE)
            for holder in holders:
                if store.holder(holder.execution) is not None:  # not freed earlier in the batch
                    before = len(out.reclaimed)
                    self._reclaim(store, holder, out)
                    if len(out.reclaimed) > before:
                        out.swept.append(out.reclaimed[-1])
                    else:
                        out.kept_since[holder.execution] = holder.granted_ms
            if cursor is not None:
                body = {"op": "sweep", "semaphore": m.semaphore, "cursor": cursor}
                self._continue(m.semaphore, body, c.version, out)
        # "tick": nothing to apply; the grants below are the point.

    def _reclaim(self, store: Store, holder: Holder, out: Outcome) -> None:
        verdict = describe(self.sfn, holder.execution, self.own_prefixes)
        if _frees(verdict, holder):
            store.delete_holder(holder.execution)
            store.counter.held -= 1
            out.reclaimed.append({"execution": holder.execution, "reason": verdict.reason})

    # -- grants --------------------------------------------------------------------------------

    def _grant(self, store: Store) -> int:
        """Serve the head of the line while a slot is free; returns how many were served."""
        c = store.counter
        served = 0
        while c.held < c.limit and c.head < c.tail and served < GRANTS_PER_ROUND:
            waiter = store.waiter(c.head)
            c.head += 1
            if waiter is None:
                continue
            held = store.holder(waiter.execution)
            if held is None:
                c.held += 1
                store.put_holder(
                    Holder(waiter.execution, waiter.acquire, waiter.seq, self.now_ms())
                )
            else:
                # A second acquire of an execution that holds (a duplicate, or a redriven run
                # that kept its slot) takes over the slot it has: no new one is counted. The
                # record keeps its first seq, which marks the grant as possibly delivered.
                store.put_holder(Holder(held.execution, waiter.acquire, held.seq, held.granted_ms))
            c.pending.append(waiter.seq)
            served += 1
        return served

    def _settle(self, store: Store, out: Outcome, *, possibly_delivered: bool) -> None:
        """Send every pending grant; free the slots of the dead; commit."""
        c = store.counter
        if not c.pending:
            return
        waiters = [w for w in (store.waiter(seq) for seq in c.pending) if w is not None]
        with ThreadPoolExecutor(min(NOTIFY_THREADS, len(waiters) or 1)) as pool:
            delivered = list(
                pool.map(lambda w: send_success(self.sfn, w.token, GRANT_OUTPUT), waiters)
            )
        for waiter, ok in zip(waiters, delivered, strict=True):
            holder = store.holder(waiter.execution)
            if ok:
                out.granted.append(waiter.execution)
            elif holder is not None and holder.run == waiter.acquire:
                # Closed. A fresh grant's token was never delivered: a dead waiter. A resend,
                # or a waiter whose execution already held, may have been delivered before:
                # DescribeExecution decides.
                fresh = not possibly_delivered and holder.seq == waiter.seq
                verdict = None if fresh else describe(self.sfn, waiter.execution, self.own_prefixes)
                if verdict is None or not verdict.running:
                    store.delete_holder(waiter.execution)
                    c.held -= 1
                    out.dead.append(waiter.execution)
            store.delete_waiter(waiter.seq)
        c.pending = []
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


def _frees(verdict: Verdict, holder: Holder) -> bool:
    """A holder is freed only when its execution is not RUNNING and the record is of the run
    that stopped: granted before the stop. A record granted after it belongs to a later run
    (a redrive keeps the ARN) that a late or duplicate event must not free."""
    if verdict.running:
        return False
    if verdict.stop_ms is None:
        return True  # gone or foreign: it can never release
    return holder.granted_ms <= verdict.stop_ms
