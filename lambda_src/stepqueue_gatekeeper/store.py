"""The semaphore's items (docs/contracts.md, "Semaphore: the waiting room"), all small and of
constant size whatever the limit or the number waiting:

- ``NAME``: the counter: limit, held, head and tail of the waiting line, version, the ids of
  the last messages applied (redelivery) and the grants not yet confirmed (a crash between
  the commit and SendTaskSuccess);
- ``NAME#w#<seq>``: one waiter, in arrival order (seq = its place in line);
- ``NAME#h#<execution ARN>``: one holder, found by the ``holders`` index through ``holder_of``.

Writes are staged in an overlay (reads see them) and committed in one TransactWriteItems with
the counter, conditional on the counter's version: all of a step lands, or none of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from stepqueue_aws import aws_error_code

HOLDERS_INDEX = "holders"
APPLIED_KEEP = 20  # > the largest batch (10): a redelivered batch is always recognised
TRANSACTION_MAX = 100  # TransactWriteItems' limit
COMMIT_AT = 60  # staged writes that trigger a commit, leaving room for one more step


def waiter_key(semaphore: str, seq: int) -> str:
    return f"{semaphore}#w#{seq:016d}"


def holder_key(semaphore: str, execution: str) -> str:
    return f"{semaphore}#h#{execution}"


@dataclass
class Counter:
    semaphore: str
    limit: int
    held: int = 0
    head: int = 0  # the next waiter to serve
    tail: int = 0  # the place the next arrival takes
    version: int = 0
    applied: list[str] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    exists: bool = True

    @property
    def waiting(self) -> int:
        return self.tail - self.head

    def item(self) -> dict[str, Any]:
        return {
            "id": {"S": self.semaphore},
            "limit": {"N": str(self.limit)},
            "held": {"N": str(self.held)},
            "head": {"N": str(self.head)},
            "tail": {"N": str(self.tail)},
            "version": {"N": str(self.version)},
            "applied": {"L": [{"S": a} for a in self.applied[-APPLIED_KEEP:]]},
            "pending": {"L": [{"N": str(p)} for p in self.pending]},
        }


@dataclass(frozen=True)
class Waiter:
    seq: int
    execution: str
    acquire: str
    token: str
    since_ms: int


@dataclass(frozen=True)
class Holder:
    execution: str
    run: str  # the acquire it was granted to
    seq: int
    granted_ms: int


def _n(item: dict[str, Any], key: str, default: int = 0) -> int:
    return int(item[key]["N"]) if key in item else default


def counter_from(item: dict[str, Any] | None, semaphore: str, default_limit: int) -> Counter:
    if item is None:
        return Counter(semaphore, default_limit, exists=False)
    return Counter(
        semaphore,
        # An item made before limits lived in the table has none: the deployed default.
        limit=_n(item, "limit", default_limit),
        held=_n(item, "held"),
        head=_n(item, "head"),
        tail=_n(item, "tail"),
        version=_n(item, "version"),
        applied=[a["S"] for a in item.get("applied", {}).get("L", [])],
        pending=[int(p["N"]) for p in item.get("pending", {}).get("L", [])],
    )


def waiter_from(item: dict[str, Any]) -> Waiter:
    return Waiter(
        seq=_n(item, "seq"),
        execution=item["execution"]["S"],
        acquire=item["acquire"]["S"],
        token=item["token"]["S"],
        since_ms=_n(item, "since"),
    )


def holder_from(item: dict[str, Any]) -> Holder:
    return Holder(
        execution=item["execution"]["S"],
        run=item["run"]["S"],
        seq=_n(item, "seq"),
        granted_ms=_n(item, "granted"),
    )


def waiter_item(semaphore: str, w: Waiter) -> dict[str, Any]:
    return {
        "id": {"S": waiter_key(semaphore, w.seq)},
        "seq": {"N": str(w.seq)},
        "execution": {"S": w.execution},
        "acquire": {"S": w.acquire},
        "token": {"S": w.token},
        "since": {"N": str(w.since_ms)},
    }


def holder_item(semaphore: str, h: Holder) -> dict[str, Any]:
    return {
        "id": {"S": holder_key(semaphore, h.execution)},
        "holder_of": {"S": semaphore},
        "execution": {"S": h.execution},
        "run": {"S": h.run},
        "seq": {"N": str(h.seq)},
        "granted": {"N": str(h.granted_ms)},
    }


class Store:
    """One semaphore's items: consistent reads through the staged writes, atomic commits."""

    def __init__(self, ddb: Any, table: str, semaphore: str, default_limit: int) -> None:
        self.ddb, self.table, self.semaphore = ddb, table, semaphore
        self._staged: dict[str, dict[str, Any] | None] = {}  # id -> item, or None: delete
        raw = self._get(semaphore)
        self.counter = counter_from(raw, semaphore, default_limit)
        self._committed_version = self.counter.version
        self._counter_existed = self.counter.exists

    def _get(self, key: str) -> dict[str, Any] | None:
        if key in self._staged:
            return self._staged[key]
        reply = self.ddb.get_item(TableName=self.table, Key={"id": {"S": key}}, ConsistentRead=True)
        item: dict[str, Any] | None = reply.get("Item")
        return item

    def waiter(self, seq: int) -> Waiter | None:
        item = self._get(waiter_key(self.semaphore, seq))
        return None if item is None else waiter_from(item)

    def holder(self, execution: str) -> Holder | None:
        item = self._get(holder_key(self.semaphore, execution))
        return None if item is None else holder_from(item)

    def put_waiter(self, w: Waiter) -> None:
        self._staged[waiter_key(self.semaphore, w.seq)] = waiter_item(self.semaphore, w)

    def put_holder(self, h: Holder) -> None:
        self._staged[holder_key(self.semaphore, h.execution)] = holder_item(self.semaphore, h)

    def delete_waiter(self, seq: int) -> None:
        self._staged[waiter_key(self.semaphore, seq)] = None

    def delete_holder(self, execution: str) -> None:
        self._staged[holder_key(self.semaphore, execution)] = None

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

    def commit(self) -> None:
        """Every staged write and the counter, in one transaction; the counter's version
        guards against any writer outside this semaphore's serial order."""
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
            if aws_error_code(exc) == "TransactionCanceledException":
                raise ConcurrentWriter(self.semaphore) from exc
            raise
        self._staged.clear()
        self._committed_version = c.version
        self._counter_existed = True


class ConcurrentWriter(RuntimeError):
    """The counter moved under us: something outside the group wrote it. The batch fails and
    is redelivered, then decided again from what is in the table."""
