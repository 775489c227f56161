"""The waiting room on the emulator without Terraform, for tests and benchmarks: the table
(with its ``holders`` index), the gatekeeper's FIFO queue, state machines from generated ASL,
and a pump that does the event source mapping's job with FIFO semantics (one batch of a group
at a time, a failed group redelivered in order) and runs the gatekeeper in this process, so
faults can be injected and the invariants checked between invocations, when nothing else
writes the semaphore's items.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from stepqueue_gatekeeper import Gatekeeper, Message, Outcome
from stepqueue_gatekeeper.messages import read, semaphore_of_group
from stepqueue_gatekeeper.rules import Rules
from stepqueue_gatekeeper.store import HOLDERS_INDEX

from generator import render_definition
from stepqueue.local.emulator import ACCOUNT_ID, Emulator

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/stepqueue-waiting-room"


def create_table(ddb: Any, table: str, limits: dict[str, int]) -> None:
    """As modules/semaphore creates it: key ``id``, the sparse ``holders`` index, one counter
    item per semaphore with its initial limit."""
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "holder_of", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": HOLDERS_INDEX,
                "KeySchema": [
                    {"AttributeName": "holder_of", "KeyType": "HASH"},
                    {"AttributeName": "id", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for name, limit in limits.items():
        ddb.put_item(TableName=table, Item={"id": {"S": name}, "limit": {"N": str(limit)}})


def create_queue(sqs: Any, name: str) -> str:
    url: str = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    return url


def create_arrivals_queue(sqs: Any, name: str) -> str:
    """A semaphore's arrivals queue, as modules/gatekeeper makes it: the Acquire state passes
    its own deduplication id."""
    url: str = sqs.create_queue(
        QueueName=f"{name}-arrivals.fifo", Attributes={"FifoQueue": "true"}
    )["QueueUrl"]
    return url


def create_machine(
    sfn: Any,
    name: str,
    template: str,
    table: str,
    queue_url: str,
    arrivals_url: str | None = None,
) -> str:
    """A state machine from a generated template. `arrivals_url`: the semaphore's arrivals
    queue; without one, acquires go to the control queue too (the gatekeeper decides a message
    by its group, wherever it came from)."""
    definition = render_definition(
        template,
        {},
        table,
        gatekeeper_queue_url=queue_url,
        arrivals_queue_url=arrivals_url or queue_url,
    )
    arn: str = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]
    return arn


def counter(
    ddb: Any, table: str, semaphore: str, *, recorded_arrivals: bool = False
) -> dict[str, int]:
    """The counter's numbers. `recorded_arrivals`: its default line's tail as the arrivals
    group recorded it (the counter's own copy, what the gatekeeper's decisions rest on,
    catches up only when the semaphore's group next runs)."""
    item = ddb.get_item(TableName=table, Key={"id": {"S": semaphore}}, ConsistentRead=True)["Item"]
    found = {k: int(item[k]["N"]) if k in item else 0 for k in ("limit", "held", "head", "tail")}
    if not recorded_arrivals:
        return found
    arrivals = ddb.get_item(
        TableName=table, Key={"id": {"S": f"{semaphore}#arrivals"}}, ConsistentRead=True
    ).get("Item", {})
    recorded = arrivals.get("tails", {}).get("M", {}).get("w0", {}).get("N")
    if recorded is not None:
        found["tail"] = max(found["tail"], int(recorded))
    return found


def holders(ddb: Any, table: str, semaphore: str) -> Iterator[dict[str, Any]]:
    """Every holder item of a semaphore, through the `holders` index, page after page."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": HOLDERS_INDEX,
        "KeyConditionExpression": "holder_of = :s",
        "ExpressionAttributeValues": {":s": {"S": semaphore}},
    }
    while True:
        page = ddb.query(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def holder_items(ddb: Any, table: str, semaphore: str) -> list[str]:
    return [item["execution"]["S"] for item in holders(ddb, table, semaphore)]


@dataclass
class Invariants:
    """Checked by the pump after every invocation, when the items are at rest."""

    checks: int = 0
    over_limit: int = 0  # a grant while holders >= the limit in force
    count_mismatch: int = 0  # counter's held != holder items
    stuck: int = 0  # waiters while a slot is free, nothing pending
    peak_holders: int = 0
    arrivals: list[str] = field(default_factory=list)  # acquires, in delivery order
    grants: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    reclaimed: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failures: int = 0  # invocations that raised (injected crashes included)

    def fifo_inversions(self) -> int:
        """Grants out of arrival order (an execution granted before one that arrived earlier
        and was still waiting)."""
        first: dict[str, int] = {}
        for i, execution in enumerate(self.arrivals):
            first.setdefault(execution, i)
        order = [first[e] for e in self.grants if e in first]
        return sum(1 for a, b in itertools.pairwise(order) if b < a)


class Pump:
    """The gatekeeper's event source mapping, in a thread: receive up to 10, decide each
    group, delete what was decided, let a failed group's messages come back at once."""

    def __init__(
        self,
        emulator: Emulator,
        table: str,
        queue_url: str,
        *,
        own_prefixes: tuple[str, ...] = (),
        crash: Callable[[], bool] | None = None,
        rules: dict[str, Rules] | None = None,
        arrivals_urls: tuple[str, ...] = (),
    ) -> None:
        self.ddb, self.sqs = emulator.client("dynamodb"), emulator.client("sqs")
        self.table = table
        # Every queue the gatekeeper's mappings read: the control queue, then each arrivals
        # queue, polled in turn.
        self.queue_urls = (queue_url, *arrivals_urls)
        self.crash = crash
        self.keeper = Gatekeeper(
            self.ddb,
            emulator.client("stepfunctions"),
            self.sqs,
            table=table,
            queue_url=queue_url,
            own_prefixes=own_prefixes,
            rules=rules,
            crash_after_commit=self._maybe_crash,
        )
        self.inv = Invariants()
        self.invocations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gatekeeper-pump", daemon=True)
        self.error: BaseException | None = None

    def _maybe_crash(self) -> None:
        if self.crash is not None and self.crash():
            raise RuntimeError("injected crash between the commit and SendTaskSuccess")

    def __enter__(self) -> Pump:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self.step(wait_s=1)
        except BaseException as exc:
            self.error = exc

    def step(self, wait_s: int = 0) -> int:
        """One batch from each queue in turn; with several queues only the last one waits
        (`wait_s`) when nothing came from the others."""
        taken = 0
        for i, url in enumerate(self.queue_urls):
            last = i == len(self.queue_urls) - 1
            taken += self._step_queue(url, wait_s if last and taken == 0 else 0)
        return taken

    def _step_queue(self, url: str, wait_s: int) -> int:
        reply = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
        )
        messages = reply.get("Messages", [])
        groups: dict[str, list[dict[str, Any]]] = {}
        for m in messages:
            groups.setdefault(m["Attributes"]["MessageGroupId"], []).append(m)
        for group, raw in groups.items():
            self._decide(group, raw, url)
        return len(messages)

    def _decide(self, group: str, raw: list[dict[str, Any]], url: str) -> None:
        # As the Lambda reads them: one it cannot parse is dropped by the gatekeeper, and an
        # acquire's execution failed at once when its token can be read.
        parsed = [read(m["MessageId"], group, m["Body"]) for m in raw]
        before = counter(self.ddb, self.table, semaphore_of_group(group))
        self.invocations += 1
        fresh = [p for p in parsed if p.op == "acquire" and p.execution]
        try:
            outcome = self.keeper.process(group, parsed)
        except Exception:
            self.inv.failures += 1
            for m in raw:  # FIFO: the whole group comes back, in order, before anything newer
                self.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            return
        skipped = set(outcome.skipped) | {d.get("message_id") for d in outcome.dropped}
        self.inv.arrivals += [
            p.execution for p in fresh if p.message_id not in skipped and p.execution
        ]
        self.inv.grants += outcome.granted
        self.inv.dead += outcome.dead
        self.inv.reclaimed += outcome.reclaimed
        self.inv.refused += outcome.refused
        # An early wake-up (a rate limit's next token) sleeps until it is due, as the entry
        # asks of SQS: the group waits behind it.
        for m in raw:
            if m["MessageId"] in outcome.deferred:
                self.sqs.change_message_visibility(
                    QueueUrl=url,
                    ReceiptHandle=m["ReceiptHandle"],
                    VisibilityTimeout=outcome.deferred[m["MessageId"]],
                )
        # One call, as Lambda's mapping deletes a batch: the pump's round trips are what the
        # next release waits behind.
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(raw)
            if m["MessageId"] not in outcome.deferred
        ]
        reply = self.sqs.delete_message_batch(QueueUrl=url, Entries=entries) if entries else {}
        if reply.get("Failed"):
            raise RuntimeError(f"the pump could not delete decided messages: {reply['Failed']}")
        self.observe(parsed, outcome)
        self._check(semaphore_of_group(group), before)

    def observe(self, parsed: list[Message], outcome: Outcome) -> None:
        """What a scenario measures from each decided batch (admission.py); nothing here."""

    def _check(self, group: str, before: dict[str, int]) -> None:
        after = counter(self.ddb, self.table, group)
        held = holder_items(self.ddb, self.table, group)
        self.inv.checks += 1
        self.inv.peak_holders = max(self.inv.peak_holders, len(held))
        # Lowering the limit below the holders revokes nothing; no grant may follow until
        # they are fewer than the new limit, so holders never exceed max(limit, before).
        if after["held"] > max(after["limit"], before["held"]):
            self.inv.over_limit += 1
        if after["held"] != len(held):
            self.inv.count_mismatch += 1
        if after["tail"] > after["head"] and after["held"] < after["limit"]:
            self.inv.stuck += 1

    def drain(self, idle_steps: int = 3) -> None:
        """Decide everything queued (call with the pump thread not started)."""
        idle = 0
        while idle < idle_steps:
            idle = idle + 1 if self.step(wait_s=0) == 0 else 0


def send(sqs: Any, queue_url: str, body: dict[str, Any], dedup: str) -> None:
    """What EventBridge, the sweep schedule and `stepqueue semaphore set` post."""
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(body),
        MessageGroupId=body["semaphore"],
        MessageDeduplicationId=dedup,
    )


def burst(executions: int, limit: int, work_seconds: int, timeout_s: float) -> dict[str, Any]:
    """`python -m bench.burst` for the waiting room: N executions of a W-second Wait under a
    semaphore of limit L, started at once; the same counting as semaphore_burst.py (efficiency,
    billed transitions from the histories) plus the gatekeeper's invariants."""
    import math
    import time
    from concurrent.futures import ThreadPoolExecutor

    from stepqueue.local.burst import START_THREADS, TERMINAL, wait_until_ended
    from stepqueue.local.runner import percentile
    from testkit.semaphore_burst import pool_map_history, transitions
    from testkit.semaphore_requests import generate_definition_template

    name = "burstroom"
    spec = (
        f"name: {name}\nconcurrency: {{limit: {limit}, mode: waiting_room}}\n"
        "StartAt: Hold\nStates:\n"
        f"  Hold: {{Type: Wait, Seconds: {work_seconds}, End: true}}\n"
    )
    with Emulator(atomic_dynamodb=True) as emu:
        ddb, sqs, sfn = (emu.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
        create_table(ddb, name, {name: limit})
        url, arrivals = create_queue(sqs, name), create_arrivals_queue(sqs, name)
        template = generate_definition_template(spec)
        machine = create_machine(sfn, name, template, name, url, arrivals)
        with (
            Pump(emu, name, url, arrivals_urls=(arrivals,)) as pump,
            ThreadPoolExecutor(START_THREADS) as starters,
            ThreadPoolExecutor(16) as pool,
        ):
            arns = list(
                starters.map(
                    lambda i: sfn.start_execution(stateMachineArn=machine, name=f"e{i:05d}")[
                        "executionArn"
                    ],
                    range(executions),
                )
            )
            described = wait_until_ended(sfn, machine, arns, time.monotonic() + timeout_s, pool)
            time.sleep(1.5)  # the last releases reach the gatekeeper
        held_at_end = counter(ddb, name, name)["held"]
        histories = pool_map_history(sfn, arns)
    succeeded = [d for d in described.values() if d["status"] == "SUCCEEDED"]
    wall = (
        max(d["stopDate"].timestamp() for d in succeeded)
        - min(d["startDate"].timestamp() for d in succeeded)
        if succeeded
        else math.inf
    )
    ideal = math.ceil(executions / limit) * work_seconds
    counts = [transitions(h) for h in histories]
    inv = pump.inv
    return {
        "mode": "waiting_room",
        "executions": executions,
        "limit": limit,
        "work_seconds": work_seconds,
        "succeeded": len(succeeded),
        "lost": executions - sum(1 for d in described.values() if d["status"] in TERMINAL),
        "wall_seconds": round(wall, 3),
        "ideal_seconds": ideal,
        "efficiency": round(ideal / wall, 3) if succeeded else 0.0,
        "peak_holders": inv.peak_holders,
        "holder_violations": inv.over_limit + inv.count_mismatch,
        "holders_at_end": held_at_end,
        "stuck_waiters": inv.stuck,
        "fifo_inversions": inv.fifo_inversions(),
        "gatekeeper_invocations": pump.invocations,
        "body_transitions": 1,
        "transitions_per_execution": round(sum(counts) / len(counts), 2) if counts else 0.0,
        "transitions_max": max(counts, default=0),
        "transitions_p95": percentile([float(c) for c in counts], 0.95),
    }
