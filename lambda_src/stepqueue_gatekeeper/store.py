"""The semaphore's items (docs/contracts.md, "Semaphore: the waiting room"), all small and of
constant size whatever the limit or the number waiting:

- ``NAME``: the counter: limit, held, head and tail of the waiting line, version, the ids of
  the last messages applied (redelivery) and the grants not yet confirmed (a crash between
  the commit and SendTaskSuccess);
- ``NAME#w#<seq>``: one waiter, in arrival order (seq = its place in line); a priority p > 0
  has a line of its own, ``NAME#w<p>#<seq>``, and every priority a front line
  ``NAME#f<p>#<seq>`` for the waiters a key gave back (below);
- ``NAME#h#<execution ARN>``: one holder, found by the ``holders`` index through ``holder_of``;
  once the execution's slot is freed, the same item keeps only which of its acquires were
  granted and freed (``released``), outside the index: a late duplicate of one of them is
  recognised and never granted again;
- with a per-key limit, ``NAME#k#<key hash>``: the key's holders and where its parked waiters
  are, and ``NAME#p#<key hash>#<n>``: a waiter parked because its key was full, in order.
  A key's items exist only while it holds or parks someone.

Writes are staged in an overlay (reads see them) and committed in one TransactWriteItems with
the counter, conditional on the counter's version: all of a step lands, or none of it.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stepqueue_aws import aws_error_code

from stepqueue_gatekeeper.faults import Transient, transient

HOLDERS_INDEX = "holders"
APPLIED_KEEP = 20  # > the largest batch (10): a redelivered batch is always recognised
TRANSACTION_MAX = 100  # TransactWriteItems' limit
BATCH_GET_MAX = 100  # BatchGetItem's limit
# BatchGetItem may leave keys unprocessed (throttling); asked again this many times, then
# left to a GetItem each when (if) they are needed.
BATCH_GET_ROUNDS = 3
COMMIT_AT = 60  # staged writes that trigger a commit, leaving room for one more step
KEY_VALUE_SHOWN = 200  # characters of a key's value kept for `stepqueue semaphore status`
RELEASED_KEEP = 4  # acquire ids of one execution remembered as granted and freed (64 hex each)
# A freed holder's record may go once no late duplicate can matter: its execution has ended,
# and an execution lives at most a year. `expires` (epoch seconds) is there for the table's
# TTL, where it is enabled.
RELEASED_TTL_S = 400 * 86_400

# A line is (kind, priority): "w" the arrivals, "f" the waiters their key gave back.
Line = tuple[str, int]
MAIN, FRONT = "w", "f"
DEFAULT_LINE: Line = (MAIN, 0)


def waiter_key(semaphore: str, seq: int, line: Line = DEFAULT_LINE) -> str:
    kind, priority = line
    # The default line keeps the key it had before priorities existed: a deployed semaphore's
    # waiters are still found after an upgrade.
    tag = kind if line == DEFAULT_LINE else f"{kind}{priority}"
    return f"{semaphore}#{tag}#{seq:016d}"


def holder_key(semaphore: str, execution: str) -> str:
    return f"{semaphore}#h#{execution}"


def key_item_key(semaphore: str, key: str) -> str:
    return f"{semaphore}#k#{key}"


def parked_key(semaphore: str, key: str, n: int) -> str:
    return f"{semaphore}#p#{key}#{n:016d}"


def arrivals_key(semaphore: str) -> str:
    return f"{semaphore}#arrivals"


@dataclass
class Arrivals:
    """The tails of the arrival lines (``w<priority>``) and the arrival order, owned by the
    arrivals group (messages.ARRIVALS_SUFFIX), which records acquires without touching the
    counter. The counter keeps a copy of the tails as its group last read them; these are the
    truth. Absent (a semaphore from before the split): the counter's tails are."""

    semaphore: str
    tails: dict[str, int] = field(default_factory=dict)
    arrivals: int = 0
    version: int = 0
    applied: list[str] = field(default_factory=list)
    exists: bool = True

    def item(self) -> dict[str, Any]:
        return {
            "id": {"S": arrivals_key(self.semaphore)},
            "tails": {"M": {k: {"N": str(v)} for k, v in sorted(self.tails.items())}},
            "arrivals": {"N": str(self.arrivals)},
            "version": {"N": str(self.version)},
            "applied": {"L": [{"S": a} for a in self.applied[-APPLIED_KEEP:]]},
        }


def arrivals_from(item: dict[str, Any] | None, semaphore: str) -> Arrivals:
    if item is None:
        return Arrivals(semaphore, exists=False)
    return Arrivals(
        semaphore,
        tails={k: int(v["N"]) for k, v in item.get("tails", {}).get("M", {}).items()},
        arrivals=_n(item, "arrivals"),
        version=_n(item, "version"),
        applied=[a["S"] for a in item.get("applied", {}).get("L", [])],
    )


def main_tails(c: Counter) -> dict[str, int]:
    """The counter's tails of its arrival lines, as the arrivals item keeps them."""
    return {f"{k}{p}": c.bounds((k, p))[1] for k, p in c.used_lines() if k == MAIN}


def arrivals_put(table: str, a: Arrivals, read_version: int) -> dict[str, Any]:
    """The arrivals item's write, conditional on the version it was read at."""
    put: dict[str, Any] = {"TableName": table, "Item": a.item()}
    if a.exists:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
    else:
        put["ConditionExpression"] = "attribute_not_exists(id)"
    return {"Put": put}


def key_hash(value_json: str) -> str:
    """Item keys from any key value: unicode or 100 KB, it becomes 32 hex characters."""
    return hashlib.sha256(value_json.encode()).hexdigest()[:32]


@dataclass
class Counter:
    semaphore: str
    limit: int
    held: int = 0
    head: int = 0  # the next waiter to serve (default line)
    tail: int = 0  # the place the next arrival takes (default line)
    version: int = 0
    applied: list[str] = field(default_factory=list)
    pending: list[tuple[Line, int]] = field(default_factory=list)
    exists: bool = True
    # The other lines: "w3" -> [head, tail]; absent means empty and never used.
    lines: dict[str, list[int]] = field(default_factory=dict)
    arrivals: int = 0  # arrival order across lines (ties between priorities)
    parked: int = 0  # waiters parked behind a full key, all keys together
    tokens: float | None = None  # the rate's bucket; None: full
    refilled_ms: int = 0
    wake_ms: int = 0  # when the wake-up this counter sent is due (0: none outstanding)

    def bounds(self, line: Line) -> list[int]:
        if line == DEFAULT_LINE:
            return [self.head, self.tail]
        return self.lines.get(f"{line[0]}{line[1]}", [0, 0])

    def set_bounds(self, line: Line, head: int, tail: int) -> None:
        if line == DEFAULT_LINE:
            self.head, self.tail = head, tail
        else:
            self.lines[f"{line[0]}{line[1]}"] = [head, tail]

    def used_lines(self) -> list[Line]:
        found = [DEFAULT_LINE] + [(tag[0], int(tag[1:])) for tag in self.lines]
        return sorted(set(found))

    @property
    def waiting(self) -> int:
        """Waiters in line (parked ones wait for their key, not for a slot)."""
        return sum(t - h for h, t in (self.bounds(line) for line in self.used_lines()))

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": {"S": self.semaphore},
            "limit": {"N": str(self.limit)},
            "held": {"N": str(self.held)},
            "head": {"N": str(self.head)},
            "tail": {"N": str(self.tail)},
            "version": {"N": str(self.version)},
            "applied": {"L": [{"S": a} for a in self.applied[-APPLIED_KEEP:]]},
            "pending": {"L": [_pending_item(line, seq) for line, seq in self.pending]},
        }
        if self.lines:
            item["lines"] = {
                "M": {k: {"L": [{"N": str(n)} for n in v]} for k, v in sorted(self.lines.items())}
            }
        if self.arrivals:
            item["arrivals"] = {"N": str(self.arrivals)}
        if self.parked:
            item["parked"] = {"N": str(self.parked)}
        if self.tokens is not None:
            item["tokens"] = {"N": repr(round(self.tokens, 6))}
            item["refilled"] = {"N": str(self.refilled_ms)}
        if self.wake_ms:
            item["wake"] = {"N": str(self.wake_ms)}
        return item


def _pending_item(line: Line, seq: int) -> dict[str, Any]:
    # A number for the default line, as before priorities: a counter written by an older
    # gatekeeper reads the same.
    if line == DEFAULT_LINE:
        return {"N": str(seq)}
    return {"S": f"{line[0]}{line[1]}:{seq}"}


def _pending_from(value: dict[str, Any]) -> tuple[Line, int]:
    if "N" in value:
        return DEFAULT_LINE, int(value["N"])
    tag, seq = value["S"].split(":", 1)
    return (tag[0], int(tag[1:])), int(seq)


@dataclass(frozen=True)
class Waiter:
    seq: int
    execution: str
    acquire: str
    token: str
    since_ms: int
    priority: int = 0
    arrived: int = 0  # order of arrival across lines
    key: str | None = None  # the key's hash, with a per-key limit
    key_value: str | None = None  # its value as JSON, cut to KEY_VALUE_SHOWN
    returned: bool = False  # given back by its key: the key's room is reserved for it

    @property
    def line(self) -> Line:
        return (FRONT if self.returned else MAIN, self.priority)


@dataclass(frozen=True)
class Holder:
    execution: str
    run: str  # the acquire it was granted to
    seq: int
    granted_ms: int
    key: str | None = None
    key_value: str | None = None
    # Acquires of this execution granted and freed before (see Released), carried along.
    released: tuple[str, ...] = ()
    # The run of the execution it belongs to, as Step Functions counts runs (redriveCount),
    # when known: 0 unless a `redriven` event found it holding.
    runs: int = 0


@dataclass(frozen=True)
class Released:
    """What a holder item becomes when its slot is freed: no longer a holder (out of the
    `holders` index), it remembers the acquires that were granted and freed, so a late
    duplicate of one of them is recognised at the head of the line and never granted."""

    execution: str
    released: tuple[str, ...]
    runs: int = 0


@dataclass
class KeyState:
    """One key value of a semaphore with a per-key limit."""

    key: str
    value: str
    held: int = 0
    returned: int = 0  # waiters given back to a front line, the key's room kept for them
    parked_head: int = 0
    parked_tail: int = 0

    @property
    def parked(self) -> int:
        return self.parked_tail - self.parked_head

    @property
    def idle(self) -> bool:
        return self.held == 0 and self.returned == 0 and self.parked == 0


def _n(item: dict[str, Any], key: str, default: int = 0) -> int:
    return int(item[key]["N"]) if key in item else default


def counter_from(item: dict[str, Any] | None, semaphore: str, default_limit: int) -> Counter:
    if item is None:
        return Counter(semaphore, default_limit, exists=False)
    lines = {
        k: [int(n["N"]) for n in v["L"]] for k, v in item.get("lines", {}).get("M", {}).items()
    }
    tail = _n(item, "tail")
    return Counter(
        semaphore,
        # An item made before limits lived in the table has none: the deployed default.
        limit=_n(item, "limit", default_limit),
        held=_n(item, "held"),
        head=_n(item, "head"),
        tail=tail,
        version=_n(item, "version"),
        applied=[a["S"] for a in item.get("applied", {}).get("L", [])],
        pending=[_pending_from(p) for p in item.get("pending", {}).get("L", [])],
        lines=lines,
        # Before priorities the default line's seq was the arrival order.
        arrivals=max(_n(item, "arrivals"), tail),
        parked=_n(item, "parked"),
        tokens=float(item["tokens"]["N"]) if "tokens" in item else None,
        refilled_ms=_n(item, "refilled"),
        wake_ms=_n(item, "wake"),
    )


def _s(item: dict[str, Any], key: str) -> str | None:
    return item[key]["S"] if key in item else None


def waiter_from(item: dict[str, Any]) -> Waiter:
    seq = _n(item, "seq")
    return Waiter(
        seq=seq,
        execution=item["execution"]["S"],
        acquire=item["acquire"]["S"],
        token=item["token"]["S"],
        since_ms=_n(item, "since"),
        priority=_n(item, "priority"),
        arrived=_n(item, "arrived", seq),
        key=_s(item, "key"),
        key_value=_s(item, "key_value"),
        returned="returned" in item,
    )


def holder_from(item: dict[str, Any]) -> Holder:
    return Holder(
        execution=item["execution"]["S"],
        run=item["run"]["S"],
        seq=_n(item, "seq"),
        granted_ms=_n(item, "granted"),
        key=_s(item, "key"),
        key_value=_s(item, "key_value"),
        released=_released(item),
        runs=_n(item, "runs"),
    )


def _released(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(a["S"] for a in item.get("released", {}).get("L", []))


def record_from(item: dict[str, Any] | None) -> Holder | Released | None:
    """A holder item (in the `holders` index), the record a freed one left, or nothing."""
    if item is None:
        return None
    if "holder_of" in item:
        return holder_from(item)
    return Released(item["execution"]["S"], _released(item), _n(item, "runs"))


def key_state_from(key: str, item: dict[str, Any]) -> KeyState:
    return KeyState(
        key=key,
        value=item["value"]["S"],
        held=_n(item, "held"),
        returned=_n(item, "returned"),
        parked_head=_n(item, "parked_head"),
        parked_tail=_n(item, "parked_tail"),
    )


def _keyed(item: dict[str, Any], key: str | None, value: str | None) -> dict[str, Any]:
    if key is not None:
        item["key"] = {"S": key}
        item["key_value"] = {"S": value or ""}
    return item


def waiter_item(item_id: str, w: Waiter) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": item_id},
        "seq": {"N": str(w.seq)},
        "execution": {"S": w.execution},
        "acquire": {"S": w.acquire},
        "token": {"S": w.token},
        "since": {"N": str(w.since_ms)},
    }
    if w.priority:
        item["priority"] = {"N": str(w.priority)}
    if w.arrived != w.seq:
        item["arrived"] = {"N": str(w.arrived)}
    if w.returned:
        item["returned"] = {"BOOL": True}
    return _keyed(item, w.key, w.key_value)


def holder_item(semaphore: str, h: Holder) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": holder_key(semaphore, h.execution)},
        "holder_of": {"S": semaphore},
        "execution": {"S": h.execution},
        "run": {"S": h.run},
        "seq": {"N": str(h.seq)},
        "granted": {"N": str(h.granted_ms)},
    }
    if h.released:
        item["released"] = {"L": [{"S": a} for a in h.released]}
    if h.runs:
        item["runs"] = {"N": str(h.runs)}
    return _keyed(item, h.key, h.key_value)


def released_item(semaphore: str, r: Released, expires_s: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": holder_key(semaphore, r.execution)},
        "execution": {"S": r.execution},
        "released": {"L": [{"S": a} for a in r.released]},
        "expires": {"N": str(expires_s)},
    }
    if r.runs:
        item["runs"] = {"N": str(r.runs)}
    return item


def key_item(semaphore: str, k: KeyState) -> dict[str, Any]:
    return {
        "id": {"S": key_item_key(semaphore, k.key)},
        "value": {"S": k.value},
        "held": {"N": str(k.held)},
        "returned": {"N": str(k.returned)},
        "parked_head": {"N": str(k.parked_head)},
        "parked_tail": {"N": str(k.parked_tail)},
    }


class Store:
    """One semaphore's items: consistent reads through the staged writes, atomic commits."""

    def __init__(
        self,
        ddb: Any,
        table: str,
        semaphore: str,
        default_limit: int,
        also: Iterable[str] = (),
        cached: tuple[int, dict[str, dict[str, Any] | None]] | None = None,
    ) -> None:
        """The counter read consistently, with `also` (the items the batch will need, as far
        as it can tell before the counter is read) in the same round trip. `cached`: items as
        they were at a counter version; used only if the counter still has that version."""
        self.ddb, self.table, self.semaphore = ddb, table, semaphore
        self._staged: dict[str, dict[str, Any] | None] = {}  # id -> item, or None: delete
        # What this invocation read or committed: nothing else writes these items while it
        # decides (the group is serialised; the version check catches anyone who does).
        self._known: dict[str, dict[str, Any] | None] = {}
        # The pending grants whose settle is staged and not yet committed (decide._settle):
        # every one delivered, so the next commit may carry it.
        self.deferred: list[tuple[Line, int]] | None = None
        version, items = cached if cached is not None else (-1, {})
        also = list(also)
        akey = arrivals_key(semaphore)
        self.prefetch([semaphore, akey, *(k for k in also if k not in items)])
        raw = self._get(semaphore)
        self.counter = counter_from(raw, semaphore, default_limit)
        # The arrivals group's tails (and never its cache: this group did not write it).
        self.arrivals = arrivals_from(self._get(akey), semaphore)
        self._known.pop(akey, None)
        self._merge_arrivals()
        self._committed_version = self.counter.version
        self._counter_existed = self.counter.exists
        self._committed_item = self.counter.item()
        if items and self.counter.exists and self.counter.version == version:
            for key, item in items.items():
                self._known.setdefault(key, item)
        self.prefetch(also)  # the cache was stale: what it was to give, read now
        # What rollback() returns to: the staged writes and the counter at the start of the
        # message being applied, or at the last commit since.
        self._saved: tuple[dict[str, dict[str, Any] | None], Counter] = (
            {},
            copy.deepcopy(self.counter),
        )

    def _get(self, key: str) -> dict[str, Any] | None:
        if key in self._staged:
            return self._staged[key]
        if key in self._known:
            return self._known[key]
        reply = self.ddb.get_item(TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True)
        item: dict[str, Any] | None = reply.get("Item")
        self._known[key] = item
        return item

    def _merge_arrivals(self) -> None:
        """The waiters the arrivals group recorded join the counter's lines."""
        c, a = self.counter, self.arrivals
        for tag, tail in a.tails.items():
            line = (tag[0], int(tag[1:]))
            head, own = c.bounds(line)
            if tail > own:
                c.set_bounds(line, head, tail)
        c.arrivals = max(c.arrivals, a.arrivals)

    def _arrivals_write(self) -> dict[str, Any] | None:
        """The arrivals item, when this group placed acquires itself (one sent to the
        semaphore's own group, by a definition from before the split): the tails it moved."""
        c, a = self.counter, self.arrivals
        tails = main_tails(c)
        if all(a.tails.get(k, 0) >= v for k, v in tails.items() if v) and a.arrivals >= c.arrivals:
            return None
        if not a.exists and not any(tails.values()):
            return None
        moved = Arrivals(a.semaphore, tails, c.arrivals, a.version + 1, a.applied, a.exists)
        return arrivals_put(self.table, moved, a.version)

    def known_near_heads(self, size: int) -> dict[str, dict[str, Any] | None]:
        """What this invocation knows of the first `size` waiters of each line, their records
        and their keys: what the next invocation's grants will look at first."""
        c = self.counter
        kept: dict[str, dict[str, Any] | None] = {}
        for line in c.used_lines():
            head, tail = c.bounds(line)
            for n in range(head, min(tail, head + size)):
                key = waiter_key(self.semaphore, n, line)
                if key not in self._known:
                    continue
                item = kept[key] = self._known[key]
                if item is None:
                    continue
                w = waiter_from(item)
                related = [holder_key(self.semaphore, w.execution)]
                if w.key is not None:
                    related.append(key_item_key(self.semaphore, w.key))
                kept.update({k: self._known[k] for k in related if k in self._known})
        return kept

    def prefetch(self, keys: Iterable[str]) -> None:
        """Items read consistently in one BatchGetItem (per 100) instead of one GetItem each:
        the round trips a decision waits for, one after another, are its cost."""
        wanted = sorted({k for k in keys if k not in self._staged and k not in self._known})
        if len(wanted) == 1:
            self._get(wanted[0])
            return
        for start in range(0, len(wanted), BATCH_GET_MAX):
            self._batch_get(wanted[start : start + BATCH_GET_MAX])

    def _batch_get(self, keys: list[str]) -> None:
        found: dict[str, dict[str, Any]] = {}
        left = list(keys)
        for _ in range(BATCH_GET_ROUNDS):
            request = {
                self.table: {"Keys": [{"id": {"S": k}} for k in left], "ConsistentRead": True}
            }
            reply = self.ddb.batch_get_item(RequestItems=request)
            for item in reply.get("Responses", {}).get(self.table, []):
                found[item["id"]["S"]] = item
            unprocessed = reply.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            left = [k["id"]["S"] for k in unprocessed]
            if not left:
                break
        for key in keys:
            if key not in left:  # a key left unprocessed is not known to be absent
                self._known[key] = found.get(key)

    def waiter(self, seq: int, line: Line = DEFAULT_LINE) -> Waiter | None:
        item = self._get(waiter_key(self.semaphore, seq, line))
        return None if item is None else waiter_from(item)

    def holder(self, execution: str) -> Holder | None:
        record = self.record(execution)
        return record if isinstance(record, Holder) else None

    def record(self, execution: str) -> Holder | Released | None:
        """The execution's holder, or what a freed one left (one read, cached)."""
        return record_from(self._get(holder_key(self.semaphore, execution)))

    def key_state(self, key: str, value: str) -> KeyState:
        item = self._get(key_item_key(self.semaphore, key))
        return KeyState(key, value) if item is None else key_state_from(key, item)

    def parked(self, key: str, n: int) -> Waiter | None:
        item = self._get(parked_key(self.semaphore, key, n))
        return None if item is None else waiter_from(item)

    def put_waiter(self, w: Waiter) -> None:
        item_id = waiter_key(self.semaphore, w.seq, w.line)
        self._staged[item_id] = waiter_item(item_id, w)

    def put_parked(self, key: str, n: int, w: Waiter) -> None:
        item_id = parked_key(self.semaphore, key, n)
        self._staged[item_id] = waiter_item(item_id, w)

    def put_holder(self, h: Holder) -> None:
        self._staged[holder_key(self.semaphore, h.execution)] = holder_item(self.semaphore, h)

    def put_key(self, k: KeyState) -> None:
        """Written while the key holds or parks anyone, deleted once idle."""
        item_id = key_item_key(self.semaphore, k.key)
        self._staged[item_id] = None if k.idle else key_item(self.semaphore, k)

    def delete_waiter(self, seq: int, line: Line = DEFAULT_LINE) -> None:
        self._staged[waiter_key(self.semaphore, seq, line)] = None

    def delete_parked(self, key: str, n: int) -> None:
        self._staged[parked_key(self.semaphore, key, n)] = None

    def put_released(self, r: Released, expires_s: int) -> None:
        """The holder item becomes a record of what it released (out of the index)."""
        item_id = holder_key(self.semaphore, r.execution)
        self._staged[item_id] = released_item(self.semaphore, r, expires_s)

    def savepoint(self) -> None:
        self._saved = (dict(self._staged), copy.deepcopy(self.counter))

    def rollback(self) -> None:
        """Back to the last savepoint or commit: a message that could not be applied leaves
        nothing half-written behind."""
        staged, counter = self._saved
        self._staged = dict(staged)
        self.counter = copy.deepcopy(counter)

    @property
    def staged(self) -> int:
        return len(self._staged)

    def holders_page(self, cursor: str | None, size: int) -> tuple[list[Holder], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": HOLDERS_INDEX,
            "KeyConditionExpression": "holder_of = :s",
            "ExpressionAttributeValues": {":s": {"S": self.semaphore}},
            "Limit": size,
        }
        if cursor is not None:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        page = self.ddb.query(**kwargs)
        found = [holder_from(item) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return found, (json.dumps(last, sort_keys=True) if last else None)

    @property
    def changed(self) -> bool:
        """Anything to commit: staged writes, or a counter unlike the one committed."""
        if self._staged or not self._counter_existed:
            return True
        return self.counter.item() != self._committed_item

    def commit(self) -> None:
        """Every staged write and the counter, in one transaction; the counter's version
        guards against any writer outside this semaphore's serial order. Nothing changed:
        nothing is written (an empty commit would cost a round trip and move the version)."""
        if not self.changed:
            return
        c = self.counter
        c.version = self._committed_version + 1
        counter_put: dict[str, Any] = {"TableName": self.table, "Item": c.item()}
        if self._counter_existed:
            # Terraform's initial item has no version yet.
            counter_put["ConditionExpression"] = "attribute_not_exists(version) OR version = :v"
            counter_put["ExpressionAttributeValues"] = {":v": {"N": str(self._committed_version)}}
        else:
            counter_put["ConditionExpression"] = "attribute_not_exists(id)"
        actions: list[dict[str, Any]] = [{"Put": counter_put}]
        arrivals = self._arrivals_write()
        if arrivals is not None:
            actions.append(arrivals)
        for key, item in sorted(self._staged.items()):
            if item is None:
                actions.append({"Delete": {"TableName": self.table, "Key": {"id": {"S": key}}}})
            else:
                actions.append({"Put": {"TableName": self.table, "Item": item}})
        if len(actions) > TRANSACTION_MAX:
            raise RuntimeError(f"{len(actions)} writes in one step: over {TRANSACTION_MAX}")
        try:
            self.ddb.transact_write_items(TransactItems=actions)
        except Exception as exc:
            # Cancelled for a failed condition (the counter's version: the only condition) or
            # a conflict: the batch is decided again. For a reason that is not transient (a
            # ValidationError), the error itself says so.
            if aws_error_code(exc) == "TransactionCanceledException" and transient(exc):
                raise ConcurrentWriter(self.semaphore) from exc
            raise
        self._known.update(self._staged)
        self._staged.clear()
        if arrivals is not None:
            self.arrivals = arrivals_from(arrivals["Put"]["Item"], self.semaphore)
        self._committed_version = c.version
        self._counter_existed = True
        self._committed_item = c.item()
        self._saved = ({}, copy.deepcopy(c))
        self.deferred = None


class ConcurrentWriter(Transient, RuntimeError):
    """The counter moved under us: something outside the group wrote it. The batch fails and
    is redelivered, then decided again from what is in the table."""
