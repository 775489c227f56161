"""`python -m bench.admission`: the admission controls on the emulator (docs/design.md §4b, §11).

Four parts, each on its own semaphore or queue, run side by side on one emulator:

- **per key**: executions of generated ASL whose input names a tenant, one tenant much busier
  than the others, under a per-key limit and a global limit. After every gatekeeper
  invocation the holder items are counted per key and in all.
- **rate**: a semaphore with a high limit and a rate with a burst; the time of every grant
  is recorded and the busiest one-second window counted (a token bucket allows at most
  rate + burst in any second).
- **priority**: a semaphore of limit 2 whose slots are taken first, then executions of random
  priorities 0..9 arrive. An inversion is a grant while a higher priority waited in the
  gatekeeper's line (as the pump saw the arrivals it delivered). The run is shorter than one
  aging step, so aging never explains an inversion.
- **start queue**: a burst of submissions, some repeated, through `stepqueue submit`'s sending
  code into a start queue, drained by the starter (the packaged Lambda code, in this process,
  as the event source mapping would run it) with StartExecution throttled at random: every
  distinct submission starts exactly once, each deliberate repeat is one the starter itself
  counts as a duplicate (its ``DuplicateSubmissions`` metric), nothing is lost or dead-lettered.

The gatekeeper is the real one, pumped with FIFO semantics (waiting_room.Pump).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from stepqueue_aws import inject_client
from stepqueue_gatekeeper import Message, Outcome
from stepqueue_gatekeeper.rules import Rules
from stepqueue_starter import entry as starter

from stepqueue.local.burst import TERMINAL, wait_until_ended
from stepqueue.local.emulator import ACCOUNT_ID, REGION, Emulator
from stepqueue.local.runner import sqs_event_record
from stepqueue.ops import submit as submitting
from testkit import waiting_room as room
from testkit.semaphore_requests import generate_definition_template

HOLD_SECONDS = 1
START_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:admsubmit-start"


@dataclass
class Config:
    key_executions: int = 36
    key_limit: int = 2
    global_limit: int = 6
    rate_executions: int = 24
    rate: float = 2.0
    burst: int = 3
    priority_executions: int = 30
    submissions: int = 100
    repeats: int = 20
    throttle_share: float = 0.3  # StartExecution calls answered ThrottlingException
    seed: int = 7


class AdmissionPump(room.Pump):
    """The pump, measuring what the admission controls promise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_holders = 0
        self.max_per_key = 0
        self.grant_times: list[float] = []
        self.waiting: dict[str, int] = {}  # execution -> priority, as the gatekeeper lines them
        self.inversions = 0

    def observe(self, parsed: list[Message], outcome: Outcome) -> None:
        skipped, deferred = set(outcome.skipped), set(outcome.deferred)
        for m in parsed:
            if m.op == "acquire" and m.execution and m.message_id not in skipped | deferred:
                self.waiting[m.execution] = m.priority if isinstance(m.priority, int) else 0
        now = time.monotonic()
        for execution in outcome.granted:
            priority = self.waiting.pop(execution, None)
            if priority is not None and any(p > priority for p in self.waiting.values()):
                self.inversions += 1
            self.grant_times.append(now)
        for execution in [*outcome.dead, *outcome.rejected]:
            self.waiting.pop(execution, None)

    def _check(self, group: str, before: dict[str, int]) -> None:
        super()._check(group, before)
        per_key: Counter[str] = Counter()
        total = 0
        for item in room.holders(self.ddb, self.table, group):
            total += 1
            if "key" in item:
                per_key[item["key"]["S"]] += 1
        self.max_holders = max(self.max_holders, total)
        self.max_per_key = max(self.max_per_key, max(per_key.values(), default=0))


def busiest_second(times: list[float]) -> int:
    """The most grants inside any one-second window."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while t - ordered[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class Part:
    """One semaphore of the run: its machine, its pump, its executions."""

    name: str
    machine: str
    pump: AdmissionPump
    arns: list[str] = field(default_factory=list)


def _deploy(emu: Emulator, stack: ExitStack, name: str, concurrency: str, rules: Rules) -> Part:
    ddb, sqs, sfn = (emu.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
    spec = (
        f"name: {name}\nconcurrency:\n{concurrency}StartAt: Hold\nStates:\n"
        f"  Hold: {{Type: Wait, Seconds: {HOLD_SECONDS}, End: true}}\n"
    )
    limit = int(concurrency.split("limit: ", 1)[1].split("\n", 1)[0])
    room.create_table(ddb, name, {name: limit})
    url = room.create_queue(sqs, name)
    machine = room.create_machine(sfn, name, generate_definition_template(spec), name, url)
    pump = AdmissionPump(emu, name, url, rules={name: rules})
    stack.enter_context(pump)
    return Part(name, machine, pump)


def _start(sfn: Any, part: Part, inputs: list[dict[str, Any]], gap_s: float = 0.0) -> None:
    for i, payload in enumerate(inputs, start=len(part.arns)):
        arn = sfn.start_execution(
            stateMachineArn=part.machine, name=f"e{i:04d}", input=json.dumps(payload)
        )["executionArn"]
        part.arns.append(arn)
        if gap_s:
            time.sleep(gap_s)


def _until_holding(part: Part, count: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while len(list(room.holders(part.pump.ddb, part.name, part.name))) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{part.name}: {count} holders not reached in {timeout_s} s")
        time.sleep(0.1)


def run(config: Config) -> dict[str, Any]:
    rng = random.Random(config.seed)
    with Emulator(atomic_dynamodb=True) as emu, ExitStack() as stack:
        sfn = emu.client("stepfunctions")
        keyed = _deploy(
            emu,
            stack,
            "admkey",
            f"  limit: {config.global_limit}\n  per_key: {{key: $.tenant, limit: "
            f"{config.key_limit}}}\n",
            Rules(key_limit=config.key_limit),
        )
        rated = _deploy(
            emu,
            stack,
            "admrate",
            f"  limit: 100\n  rate: {{per_second: {config.rate}, burst: {config.burst}}}\n",
            Rules(rate=config.rate, burst=config.burst),
        )
        ranked = _deploy(emu, stack, "admprio", "  limit: 2\n  priority: $.priority\n", Rules())
        tenants = ["noisy"] * 5 + ["calm-a", "calm-b", "日本-テナント", "x" * 2000]
        key_inputs = [{"tenant": rng.choice(tenants)} for _ in range(config.key_executions)]
        with ThreadPoolExecutor(4) as starters:
            started = [
                starters.submit(_start, sfn, keyed, key_inputs),
                starters.submit(_start, sfn, rated, [{}] * config.rate_executions),
                starters.submit(_start, sfn, ranked, [{"priority": 0}] * 2),
            ]
            for future in started:
                future.result()
        _until_holding(ranked, 2)
        # The line forms behind the two holders, in random priorities, one at a time so the
        # arrival order is the start order.
        priorities = [{"priority": rng.randint(0, 9)} for _ in range(config.priority_executions)]
        _start(sfn, ranked, priorities, gap_s=0.02)
        start_queue = _start_queue_part(emu, config, rng)
        parts = (keyed, rated, ranked)
        deadline = time.monotonic() + 300
        described: dict[str, dict[str, Any]] = {}
        with ThreadPoolExecutor(8) as pool:
            for part in parts:
                described |= wait_until_ended(sfn, part.machine, part.arns, deadline, pool)
        time.sleep(1.5)  # the last releases reach the gatekeepers
        errors = [str(p.pump.error) for p in parts if p.pump.error is not None]
    executions = sum(len(p.arns) for p in parts)
    ended = [d for d in described.values() if d["status"] in TERMINAL]
    succeeded = [d for d in ended if d["status"] == "SUCCEEDED"]
    return {
        "per_key_limit": config.key_limit,
        "max_holders_per_key": keyed.pump.max_per_key,
        "global_limit": config.global_limit,
        "max_holders": keyed.pump.max_holders,
        "rate_per_second": config.rate,
        "rate_burst": config.burst,
        "max_grants_in_any_second": busiest_second(rated.pump.grant_times),
        "rate_grants": len(rated.pump.grant_times),
        "rate_seconds": round(max(rated.pump.grant_times) - min(rated.pump.grant_times), 2)
        if rated.pump.grant_times
        else 0.0,
        "priority_inversions": ranked.pump.inversions,
        "priority_grants": len(ranked.pump.grant_times),
        "executions": executions,
        "succeeded": len(succeeded),
        **start_queue,
        "lost": (executions - len(ended)) + start_queue["not_started"],
        "holder_violations": sum(p.pump.inv.over_limit + p.pump.inv.count_mismatch for p in parts),
        "pump_errors": errors,
    }


class Throttling:
    """Step Functions that answers ThrottlingException to a share of StartExecution calls,
    as the account's StartExecution bucket does under a burst."""

    def __init__(self, sfn: Any, share: float, rng: random.Random) -> None:
        self._sfn, self._share, self._rng = sfn, share, rng
        self.throttled = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sfn, name)

    def start_execution(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        with self._lock:
            throttle = self._rng.random() < self._share
            self.throttled += throttle
        if throttle:
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}
            raise ClientError(error, "StartExecution")
        return self._sfn.start_execution(**kwargs)


def _start_queue_part(emu: Emulator, config: Config, rng: random.Random) -> dict[str, Any]:
    sqs, sfn = emu.client("sqs"), emu.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(
        name="admsubmit", definition=definition, roleArn=room.ROLE_ARN
    )["stateMachineArn"]
    dlq = sqs.create_queue(QueueName="admsubmit-start-dlq")["QueueUrl"]
    queue = sqs.create_queue(QueueName="admsubmit-start")["QueueUrl"]
    distinct = config.submissions
    payloads = [{"n": i} for i in range(distinct)]
    payloads += [{"n": rng.randrange(distinct)} for _ in range(config.repeats)]
    rng.shuffle(payloads)
    made = [
        submitting.submission(
            "admsubmit", submitting.canonical_json(p), f"line {i + 1}", name=None, key=""
        )
        for i, p in enumerate(payloads)
    ]
    submitting.send(sqs, queue, made, lambda s, mid: None)
    throttling = Throttling(sfn, config.throttle_share, rng)
    with _starter_env(queue, dlq, {"admsubmit": machine}), _starter_metrics() as reported:
        inject_client(starter._clients, "sqs", sqs)
        inject_client(starter._clients, "stepfunctions", throttling)
        try:
            _drain(sqs, queue, deadline=time.monotonic() + 180)
        finally:
            inject_client(starter._clients, "sqs", None)
            inject_client(starter._clients, "stepfunctions", None)
    executions = _list_executions(sfn, machine)
    names = Counter(e["name"] for e in executions)
    expected = {s.name for s in made}
    dead = int(
        sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"
        ]["ApproximateNumberOfMessages"]
    )
    return {
        "submitted": len(made),
        "distinct_submissions": len(expected),
        "repeated_submissions": len(made) - len(expected),
        "started": len(names),
        "recognised_duplicates": reported["DuplicateSubmissions"],
        "duplicate_starts": sum(n - 1 for n in names.values()),
        "throttled_starts": throttling.throttled,
        "dead_lettered": dead,
        "not_started": len(expected - set(names)),
    }


@contextmanager
def _starter_env(queue: str, dlq: str, machines: dict[str, str]) -> Iterator[None]:
    settings = {
        "STATE_MACHINE_ARNS": json.dumps(machines),
        "START_QUEUE_URL": queue,
        "START_DLQ_URL": dlq,
        "STARTS_PER_SECOND": "50",
        "MAX_RECEIVE_COUNT": "10",
        "MAX_RETRY_DELAY_SECONDS": "1",
        "AWS_DEFAULT_REGION": REGION,
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def _starter_metrics() -> Iterator[Counter[str]]:
    """The counts the starter emits as metrics, summed over its invocations: what it says it
    did with each record, beside what the emulator shows was started."""
    totals: Counter[str] = Counter()
    emit = starter._emit

    def tee(counts: Counter[str]) -> None:
        totals.update(counts)
        emit(counts)

    starter._emit = tee
    try:
        yield totals
    finally:
        starter._emit = emit


def _drain(sqs: Any, queue: str, deadline: float) -> None:
    """The event source mapping's job: batches to the starter, successes deleted, failures
    left to come back after the backoff the starter set."""
    idle_since: float | None = None
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            depth = sum(
                int(v)
                for v in sqs.get_queue_attributes(
                    QueueUrl=queue,
                    AttributeNames=[
                        "ApproximateNumberOfMessages",
                        "ApproximateNumberOfMessagesNotVisible",
                    ],
                )["Attributes"].values()
            )
            if depth == 0:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 1:
                    return
            time.sleep(0.2)
            continue
        idle_since = None
        records = [sqs_event_record(m, START_QUEUE_ARN) for m in messages]
        reply = starter.handler({"Records": records}, None)
        failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
    raise RuntimeError("the start queue did not drain within its deadline")


def _list_executions(sfn: Any, machine: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
    return [e for page in pages for e in page.get("executions", [])]
