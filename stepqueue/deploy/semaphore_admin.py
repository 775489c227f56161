"""`stepqueue semaphore set | status`: a waiting-room semaphore's limit and state at run time.

`set` never writes the table: it posts a limit change into the semaphore's message group of the
gatekeeper's FIFO queue, so the change is decided in that semaphore's serial order like every
acquire and release (a direct write would race the gatekeeper and be refused by its version
check, or worse). `status` only reads: the counter item, the first waiter of each line for the
oldest wait, and, for a semaphore with a per-key limit, its holders (through the `holders`
index) for the busiest keys.

The message body and the item keys are the gatekeeper's (docs/contracts.md, "Semaphore: the
waiting room"); this module does not import the Lambda package, and a test checks both agree.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from stepqueue.console import BadInput

# The arrivals item's key is the semaphore's name and this (stepqueue_gatekeeper.store).
ARRIVALS_SUFFIX = "#arrivals"

# The same bounds as the generator's and the gatekeeper's: a limit the gatekeeper would drop
# as malformed must be refused here, before it is posted.
LIMIT_MIN = 1
SEMAPHORE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
WAITER_SEPARATOR = "#w#"
HOLDERS_INDEX = "holders"
BUSIEST_SHOWN = 5
HOLDERS_READ_MAX = 10_000  # holders counted for the busiest keys; past it the status says so
KEY_SEPARATOR = "#"  # counter items are the only ones whose id has none
OLDEST_PROBE = 10  # waiters looked at past the head when the head's item is gone
TABLE_OUTPUT, QUEUE_OUTPUT = "semaphore_table_name", "gatekeeper_queue_url"


class AdminError(RuntimeError):
    """A refusal or a failure, said in one line (no traceback)."""


class AdminInputError(AdminError, BadInput):
    """A semaphore name or limit that cannot be valid (bad input, exit 2)."""


def limit_max() -> int:
    from generator.vocabulary import WAITING_ROOM_LIMIT_MAX

    return WAITING_ROOM_LIMIT_MAX


def check_name(name: str) -> None:
    if not SEMAPHORE_NAME.match(name):
        raise AdminInputError(
            f"semaphore name {name!r} is not valid: 1-30 lowercase letters, digits or '-', "
            "starting with a letter"
        )


def check_limit(limit: int) -> None:
    top = limit_max()
    if not LIMIT_MIN <= limit <= top:
        raise AdminInputError(
            f"--limit {limit} is out of range: a waiting-room limit is {LIMIT_MIN}..{top}"
        )


def waiter_key(semaphore: str, seq: int, line: str = "w0") -> str:
    """A waiter's item; `line` is the kind and priority ("w3", "f0"), the default line
    keeping the key it had before priorities."""
    tag = "w" if line == "w0" else line
    return f"{semaphore}#{tag}#{seq:016d}"


def limit_message(semaphore: str, limit: int) -> dict[str, Any]:
    """What the gatekeeper parses as a limit change."""
    return {"op": "limit", "semaphore": semaphore, "limit": limit}


@dataclass(frozen=True)
class Status:
    semaphore: str
    limit: int | None  # None: the item has none yet (the gatekeeper uses the deployed one)
    held: int
    waiting: int  # in line and parked: arrivals not yet served (dead ones until reached)
    # Grants committed whose delivery the table does not record yet: the last batch's (sent,
    # recorded by the semaphore's next commit) or a crash's (sent again by the next batch).
    pending: int
    oldest_wait_seconds: float | None
    parked: int = 0  # of the waiting, those whose key is at its per-key limit
    busiest_keys: tuple[tuple[str, int], ...] = ()  # (key value as JSON, holders), most first
    busiest_keys_partial: bool = False  # counted over the first HOLDERS_READ_MAX holders only

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _n(item: dict[str, Any], key: str) -> int | None:
    return int(item[key]["N"]) if key in item else None


def _status(ddb: Any, table: str, item: dict[str, Any], now: Callable[[], float]) -> Status:
    name = item["id"]["S"]
    lines = _with_arrivals(_lines(item), _arrivals_tails(ddb, table, name))
    parked = _n(item, "parked") or 0
    busiest, partial = _busiest_keys(ddb, table, name) if _keyed(ddb, table, item) else ((), False)
    return Status(
        semaphore=name,
        limit=_n(item, "limit"),
        held=_n(item, "held") or 0,
        waiting=sum(max(0, tail - head) for head, tail in lines.values()) + parked,
        pending=len(item.get("pending", {}).get("L", [])),
        oldest_wait_seconds=_oldest_wait(ddb, table, name, lines, now),
        parked=parked,
        busiest_keys=busiest,
        busiest_keys_partial=partial,
    )


def _lines(item: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Every line of the counter: the default one (head, tail) and those of priorities and
    given-back waiters (`lines`)."""
    found = {"w0": (_n(item, "head") or 0, _n(item, "tail") or 0)}
    for tag, bounds in item.get("lines", {}).get("M", {}).items():
        head, tail = (int(n["N"]) for n in bounds["L"])
        found[tag] = (head, tail)
    return found


def _arrivals_tails(ddb: Any, table: str, name: str) -> dict[str, int]:
    """The lines' tails as the semaphore's arrivals group recorded them (its own item): the
    counter's copy is brought up to date only when the semaphore's group next runs, which,
    while every slot is held and nothing is released, may be a while."""
    reply = ddb.get_item(
        TableName=table, Key={"id": {"S": f"{name}{ARRIVALS_SUFFIX}"}}, ConsistentRead=True
    )
    tails = reply.get("Item", {}).get("tails", {}).get("M", {})
    return {tag: int(n["N"]) for tag, n in tails.items()}


def _with_arrivals(
    lines: dict[str, tuple[int, int]], tails: dict[str, int]
) -> dict[str, tuple[int, int]]:
    merged = dict(lines)
    for tag, tail in tails.items():
        head, known = merged.get(tag, (0, 0))
        merged[tag] = (head, max(known, tail))
    return merged


def _oldest_wait(
    ddb: Any,
    table: str,
    name: str,
    lines: dict[str, tuple[int, int]],
    now: Callable[[], float],
) -> float | None:
    """Since when the first waiter of any line waits. A head's item is normally there; if it
    is not (a hand-deleted item), the next few are tried rather than reading the whole line."""
    oldest: float | None = None
    for tag, (head, tail) in sorted(lines.items()):
        for seq in range(head, min(tail, head + OLDEST_PROBE)):
            reply = ddb.get_item(
                TableName=table, Key={"id": {"S": waiter_key(name, seq, tag)}}, ConsistentRead=True
            )
            item = reply.get("Item")
            if item is not None and "since" in item:
                waited = round(max(0.0, now() - int(item["since"]["N"]) / 1000), 1)
                oldest = waited if oldest is None else max(oldest, waited)
                break
    return oldest


def _keyed(ddb: Any, table: str, item: dict[str, Any]) -> bool:
    """Whether any holder carries a key (a per-key limit is in force). An item the retired
    polling mode wrote (its `holders` map; Terraform leaves the item of a deployment migrated
    from it as it was) has no holder items to look at."""
    if "holders" in item:
        return False
    page = ddb.query(**_holders_query(table, item["id"]["S"]), Limit=1)
    return any("key_value" in item for item in page.get("Items", []))


def _holders_query(table: str, name: str) -> dict[str, Any]:
    return {
        "TableName": table,
        "IndexName": HOLDERS_INDEX,
        "KeyConditionExpression": "holder_of = :s",
        "ExpressionAttributeValues": {":s": {"S": name}},
    }


def _busiest_keys(ddb: Any, table: str, name: str) -> tuple[tuple[tuple[str, int], ...], bool]:
    """The busiest keys by holders, and whether more holders were left uncounted. Counted by
    the key's hash (the gatekeeper's identity of a key): values kept only in part for display
    may share their first characters."""
    counts: dict[str, int] = {}
    shown: dict[str, str] = {}
    kwargs = _holders_query(table, name)
    read = 0
    partial = False
    while True:
        page = ddb.query(**kwargs)
        for item in page.get("Items", []):
            value = item.get("key_value", {}).get("S")
            if value is not None:
                key = item.get("key", {}).get("S", value)
                counts[key] = counts.get(key, 0) + 1
                shown.setdefault(key, value)
        read += len(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        if read >= HOLDERS_READ_MAX:
            partial = True
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    ranked = sorted(((shown[k], n) for k, n in counts.items()), key=lambda kv: (-kv[1], kv[0]))
    return tuple(ranked[:BUSIEST_SHOWN]), partial


def status(
    ddb: Any, table: str, name: str | None = None, *, now: Callable[[], float] = time.time
) -> list[Status]:
    """One semaphore (one read, plus one for its oldest waiter), or every one in the table
    (a Scan: it reads every item once, waiters and holders included)."""
    if name is not None:
        check_name(name)
        item = _counter(ddb, table, name)
        if item is None:
            raise AdminError(_unknown(ddb, table, name))
        return [_status(ddb, table, item, now)]
    return [_status(ddb, table, item, now) for item in _counters(ddb, table)]


def _counter(ddb: Any, table: str, name: str) -> dict[str, Any] | None:
    reply = ddb.get_item(TableName=table, Key={"id": {"S": name}}, ConsistentRead=True)
    item: dict[str, Any] | None = reply.get("Item")
    return item


def _counters(ddb: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "NOT contains(#id, :sep)",
        "ExpressionAttributeNames": {"#id": "id"},
        "ExpressionAttributeValues": {":sep": {"S": KEY_SEPARATOR}},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.scan(**kwargs)
        found += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return sorted(found, key=lambda item: str(item["id"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _unknown(ddb: Any, table: str, name: str) -> str:
    known = [item["id"]["S"] for item in _counters(ddb, table)]
    listed = ", ".join(known) if known else "none"
    return f"no semaphore {name!r} in table {table} (semaphores there: {listed})"


@dataclass(frozen=True)
class LimitPosted:
    before: Status
    limit: int
    message_id: str

    def describe(self) -> str:
        b = self.before
        was = "unset" if b.limit is None else str(b.limit)
        line = (
            f"limit of {b.semaphore!r}: {was} -> {self.limit} posted to its waiting room "
            f"(message {self.message_id}); "
        )
        if b.limit is not None and self.limit < b.limit:
            line += (
                f"once applied, no slot is granted until fewer than {self.limit} hold "
                f"({b.held} hold now; none is revoked)"
            )
        elif b.limit is not None and self.limit > b.limit:
            more = self.limit - b.limit
            line += f"once applied, up to {more} more of the {b.waiting} waiting are admitted"
        else:
            line += "no change in the limit"
        return line + ". It applies after the messages already queued for this semaphore."


def set_limit(
    ddb: Any,
    sqs: Any,
    table: str,
    queue_url: str,
    name: str,
    limit: int,
    *,
    now: Callable[[], float] = time.time,
) -> LimitPosted:
    check_name(name)
    check_limit(limit)
    # A name with no counter item is a typo or a semaphore of another deployment: posting to
    # it would create a semaphore nobody uses.
    (before,) = status(ddb, table, name, now=now)
    reply = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(limit_message(name, limit), sort_keys=True),
        MessageGroupId=name,
        # Unique per request: setting the same limit twice within SQS's five-minute
        # deduplication window is two requests, and both must be decided in order.
        MessageDeduplicationId=uuid.uuid4().hex,
    )
    return LimitPosted(before, limit, str(reply.get("MessageId", "")))


def render_table(statuses: list[Status]) -> str:
    headers = ("SEMAPHORE", "LIMIT", "HELD", "WAITING", "PENDING", "OLDEST WAIT", "BUSIEST KEYS")
    rows = [
        (
            s.semaphore,
            "-" if s.limit is None else str(s.limit),
            str(s.held),
            str(s.waiting),
            str(s.pending),
            "-" if s.oldest_wait_seconds is None else _duration(s.oldest_wait_seconds),
            _busiest_cell(s),
        )
        for s in statuses
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _busiest_cell(s: Status) -> str:
    cell = ", ".join(f"{_shown(key)}={held}" for key, held in s.busiest_keys) or "-"
    return f"{cell} (of the first {HOLDERS_READ_MAX} holders)" if s.busiest_keys_partial else cell


def _shown(key: str) -> str:
    return key if len(key) <= 40 else key[:37] + "..."


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
