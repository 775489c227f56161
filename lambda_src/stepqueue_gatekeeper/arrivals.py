"""Acquires recorded in the semaphore's arrivals group (messages.ARRIVALS_SUFFIX).

The generated Acquire state sends to ``<semaphore>:arrivals``; everything that frees a slot or
changes the limit goes to ``<semaphore>``. SQS serialises each group on its own, so a burst of
arrivals never delays a release: the two groups are decided at the same time, by two
invocations, over disjoint items.

This group owns the arrivals item (store.Arrivals: the tails of the arrival lines, the arrival
order, the last message ids it applied) and writes waiter items at those tails, in one
transaction conditional on the item's version. It never reads or writes the counter's
decisions: it grants nothing, frees nothing. The semaphore's own group reads the arrivals item
with its counter on every invocation and grants from the lines it describes.

A waiter recorded while a slot is free must not wait for the next release: after its commit,
this group reads the counter (consistently) and, if a slot is free, sends the semaphore's
group a tick. The semaphore's group, when it ends an invocation with a free slot and nobody in
line, reads the arrivals item again and ticks itself if it moved. Whichever commit lands last,
the read after it sees the other's: no waiter is left behind a free slot.

A warm container keeps the arrivals item it last committed and writes on it without reading
it; the transaction's condition on its version is the check, and on a conflict the batch is
recorded again from a fresh read (refusals are sent only after the commit, so nothing is sent
twice).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from stepqueue_aws import aws_error_code

from stepqueue_gatekeeper.executions import send_failure
from stepqueue_gatekeeper.faults import transient
from stepqueue_gatekeeper.messages import Message
from stepqueue_gatekeeper.rules import NO_RULES
from stepqueue_gatekeeper.store import (
    APPLIED_KEEP,
    MAIN,
    Arrivals,
    ConcurrentWriter,
    arrivals_from,
    arrivals_key,
    arrivals_put,
    counter_from,
    main_tails,
    waiter_item,
    waiter_key,
)

if TYPE_CHECKING:
    from stepqueue_gatekeeper.decide import Gatekeeper, Outcome

_cache: dict[tuple[str, str], Arrivals] = {}


def forget() -> None:
    _cache.clear()


def record(keeper: Gatekeeper, semaphore: str, messages: Sequence[Message], out: Outcome) -> None:
    """The batch's acquires, each at the tail of its line; refusals failed after the commit."""
    from stepqueue_gatekeeper.decide import new_waiter, refusal

    rules = keeper.rules.get(semaphore, NO_RULES)
    refused = [(m, r) for m in messages if (r := refusal(rules, m)) is not None]
    placed = [m for m in messages if refusal(rules, m) is None]
    where = (keeper.table, semaphore)
    for cached in (_cache.pop(where, None), None):
        try:
            book = _commit(keeper, semaphore, placed, cached, new_waiter, out)
        except ConcurrentWriter:
            if cached is None:
                raise
            continue
        _cache[where] = book
        break
    for m, (error, cause) in refused:
        assert m.token and m.execution
        send_failure(keeper.sfn, m.token, error, cause)
        out.rejected.append(m.execution)
    _wake(keeper, semaphore, book, out)


def _read(keeper: Gatekeeper, semaphore: str) -> Arrivals:
    """The arrivals item; absent, it starts from the counter's tails (waiters recorded before
    the split are in the counter's lines)."""
    keys = [{"id": {"S": arrivals_key(semaphore)}}, {"id": {"S": semaphore}}]
    reply = keeper.ddb.batch_get_item(
        RequestItems={keeper.table: {"Keys": keys, "ConsistentRead": True}}
    )
    if reply.get("UnprocessedKeys"):
        raise ConcurrentWriter(semaphore)  # throttled: the batch comes back
    found = {i["id"]["S"]: i for i in reply.get("Responses", {}).get(keeper.table, [])}
    book = arrivals_from(found.get(arrivals_key(semaphore)), semaphore)
    if not book.exists:
        c = counter_from(found.get(semaphore), semaphore, 0)
        book.tails, book.arrivals = main_tails(c), c.arrivals
    return book


def _commit(
    keeper: Gatekeeper,
    semaphore: str,
    messages: Sequence[Message],
    cached: Arrivals | None,
    new_waiter: Any,
    out: Outcome,
) -> Arrivals:
    book = cached if cached is not None else _read(keeper, semaphore)
    read_version = book.version
    nxt = Arrivals(semaphore, dict(book.tails), book.arrivals, book.version + 1, list(book.applied))
    nxt.exists = True
    puts: list[dict[str, Any]] = []
    now = keeper.now_ms()
    for m in messages:
        if m.message_id in book.applied:
            out.skipped.append(m.message_id)
            continue
        priority = 0 if m.priority is None else int(m.priority)
        tag = f"{MAIN}{priority}"
        seq = nxt.tails.get(tag, 0)
        waiter = new_waiter(keeper.rules.get(semaphore, NO_RULES), m, seq, nxt.arrivals, now)
        item_id = waiter_key(semaphore, seq, (MAIN, priority))
        puts.append({"Put": {"TableName": keeper.table, "Item": waiter_item(item_id, waiter)}})
        nxt.tails[tag] = seq + 1
        nxt.arrivals += 1
        nxt.applied = [*nxt.applied, m.message_id][-APPLIED_KEEP:]
    if not puts:
        return book  # nothing new: no empty commit
    actions = [arrivals_put(keeper.table, _as_read(nxt, book.exists), read_version), *puts]
    try:
        keeper.ddb.transact_write_items(TransactItems=actions)
    except Exception as exc:
        if aws_error_code(exc) == "TransactionCanceledException" and transient(exc):
            raise ConcurrentWriter(semaphore) from exc
        raise
    return nxt


def _as_read(a: Arrivals, existed: bool) -> Arrivals:
    """The write's condition depends on whether the item existed when read."""
    return Arrivals(a.semaphore, a.tails, a.arrivals, a.version, a.applied, existed)


def _wake(keeper: Gatekeeper, semaphore: str, book: Arrivals, out: Outcome) -> None:
    """A tick into the semaphore's group when a slot is free (read after the commit)."""
    reply = keeper.ddb.get_item(
        TableName=keeper.table, Key={"id": {"S": semaphore}}, ConsistentRead=True
    )
    c = counter_from(reply.get("Item"), semaphore, keeper.default_limits.get(semaphore, 0))
    if c.held >= c.limit:
        return
    # Transient refusals raise: the batch comes back, recorded already, and only sends the
    # tick again. Refused for good, the waiters are recorded all the same: the semaphore's next
    # release, tick or sweep grants them.
    body = {"op": "tick", "semaphore": semaphore}
    keeper.follow_on(semaphore, body, f"arrivals:{book.version}:{c.version}", out)
