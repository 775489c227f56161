"""Stress proof of the concurrency semaphore (docs/design.md §4).

    python -m bench.semaphore --threads 32 --cycles 5000 [--limit 5] [--no-atomic-shim]

T threads each run C cycles of acquire → hold briefly → release against DynamoDB on the local
emulator, sending the exact acquire/release requests of a generated definition
(testkit/semaphore_requests.py), with faults injected at random (seeded):

- ``retried_acquire``: the acquire is sent twice (a Task retry whose first attempt succeeded);
  the second must succeed even when the semaphore is full and must not add a holder;
- ``duplicate_release``: the release is sent twice; the second must succeed;
- ``die``: the execution ends FAILED / TIMED_OUT / ABORTED between acquire and release; half of
  the time its EventBridge event is "delivered" (``reclaim_execution`` runs), otherwise only the
  sweep can find it;
- ``late_acquire``: the execution is marked dead and its one-shot cleanup runs first, then its
  in-flight acquire lands: only the sweep can release that slot.

A sweeper thread runs the real ``sweep`` periodically, as the scheduled rule does in production
(without it, dead holders would fill the semaphore and stall the run).

Invariants, checked continuously:

- the real one: every thread that got a successful acquire registers in a Python-side set
  (under a lock) before its body and leaves it before it releases; the set may never hold more
  than L executions. The item alone cannot show every over-grant: two conditional writes can
  both pass the check while one overwrites the other (the item says L, L + 1 proceed), and an
  over-grant can come and go between two reads of the monitor;
- a monitor thread reads the item (strongly consistent GetItem) and records ``len(holders)``:
  never above L; the count is ``size(holders)`` by contract, and a stored ``count`` attribute,
  should one appear, must equal it.

After the run, one final sweep; then no holder may belong to a dead execution, and no holder may
be left at all (every live execution released). The last stdout line is one JSON object; the
exit status is non-zero on any violation, leak or protocol error.

Execution status: ``--executions real`` starts a real Step Functions execution per cycle on the
emulator (a machine that waits; dying = StopExecution); ``--executions standin`` (the default
above 2,000 cycles in total, and the only affordable choice for 32 × 5,000) hands the sweep a
stand-in ``sfn`` client whose ``describe_execution`` answers from an in-memory status table. The
sweep's logic is the same function either way.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from testkit.semaphore_requests import (
    FAKE_ACCOUNT,
    FAKE_REGION,
    SemaphoreRequests,
    iso_time,
    render,
    requests_for_limit,
)

TABLE = "stepqueue-semaphores"
SEMAPHORE_NAME = "semstress"
DEAD_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
FAULTS = ("normal", "retried_acquire", "duplicate_release", "die", "late_acquire")
# Fault mix: mostly clean cycles, every fault frequent enough to occur many times per thread.
DEFAULT_WEIGHTS = (0.70, 0.08, 0.08, 0.08, 0.06)
STANDIN_ABOVE = 2000  # total cycles above which --executions auto uses the stand-in
CONDITIONAL_FAILED = "ConditionalCheckFailedException"

# A machine whose executions stay RUNNING until stopped: the real-executions mode only needs
# DescribeExecution to tell RUNNING from not. Wait is interruptible in moto (an Event wait), so
# StopExecution ends it at once instead of leaving a thread asleep for the hour.
WAITING_MACHINE = {
    "Comment": "stepqueue semaphore stress: an execution that holds until stopped",
    "StartAt": "Hold",
    "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "End": True}},
}


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


# --------------------------------------------------------------------------------------------
# Executions: real on the emulator, or a stand-in status table


class Executions(Protocol):
    """Where the stress gets execution ARNs and where it records their fate."""

    description: str
    sfn: Any  # what the sweep calls describe_execution on

    def start(self, name: str) -> tuple[str, str]: ...  # (execution ARN, ISO start time)

    def end(self, arn: str, status: str) -> None: ...

    def status(self, arn: str) -> str | None: ...


class _ExecutionDoesNotExist(Exception):
    """Raised like botocore's modelled exception: ``.response['Error']['Code']`` is set."""

    def __init__(self, arn: str) -> None:
        super().__init__(f"Execution Does Not Exist: '{arn}'")
        self.response = {"Error": {"Code": "ExecutionDoesNotExist", "Message": str(self)}}


class _StandInExceptions:
    ExecutionDoesNotExist = _ExecutionDoesNotExist


class StandInSfn:
    """The one Step Functions call the sweep makes, answered from an in-memory table."""

    exceptions = _StandInExceptions

    def __init__(self, table: StandInExecutions) -> None:
        self._table = table

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:  # boto3 spelling
        status = self._table.status(executionArn)
        if status is None:
            raise _ExecutionDoesNotExist(executionArn)
        return {"executionArn": executionArn, "status": status}


class StandInExecutions:
    description = "stand-in: describe_execution answers from an in-memory status table"

    def __init__(self, machine: str) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}
        self._prefix = f"arn:aws:states:{FAKE_REGION}:{FAKE_ACCOUNT}:execution:{machine}:"
        self.sfn = StandInSfn(self)

    def start(self, name: str) -> tuple[str, str]:
        arn = self._prefix + name
        with self._lock:
            self._status[arn] = "RUNNING"
        return arn, iso_time(time.time())

    def end(self, arn: str, status: str) -> None:
        with self._lock:
            self._status[arn] = status

    def status(self, arn: str) -> str | None:
        with self._lock:
            return self._status.get(arn)


class RealExecutions:
    description = "real Step Functions executions on the emulator (DescribeExecution)"

    def __init__(self, sfn: Any, machine_name: str, role_arn: str) -> None:
        self.sfn = sfn
        created = sfn.create_state_machine(
            name=machine_name, definition=json.dumps(WAITING_MACHINE), roleArn=role_arn
        )
        self._machine_arn = created["stateMachineArn"]

    def start(self, name: str) -> tuple[str, str]:
        started = self.sfn.start_execution(stateMachineArn=self._machine_arn, name=name)
        return str(started["executionArn"]), iso_time(started["startDate"].timestamp())

    def end(self, arn: str, status: str) -> None:
        # Only StopExecution can end a waiting execution from outside: every end is ABORTED.
        # That is a dead status like FAILED / TIMED_OUT, and a released slot is never looked
        # up again, so the sweep's decision is the same as with the status asked for.
        self.sfn.stop_execution(executionArn=arn, error="Stress." + status.title(), cause=status)

    def status(self, arn: str) -> str | None:
        try:
            return str(self.sfn.describe_execution(executionArn=arn)["status"])
        except Exception as exc:
            if _error_code(exc) == "ExecutionDoesNotExist":
                return None
            raise


# --------------------------------------------------------------------------------------------
# The invariant bookkeeping


@dataclass
class Believers:
    """Executions that believe they hold a slot (got a successful acquire, not yet released)."""

    limit: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    members: set[str] = field(default_factory=set)
    max_size: int = 0
    over_grants: int = 0
    examples: list[str] = field(default_factory=list)

    def enter(self, arn: str) -> None:
        with self.lock:
            self.members.add(arn)
            size = len(self.members)
            self.max_size = max(self.max_size, size)
            if size > self.limit:
                self.over_grants += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{size} executions inside a limit of {self.limit}")

    def leave(self, arn: str) -> None:
        with self.lock:
            self.members.discard(arn)


@dataclass
class Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    values: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.values[key] += n

    def error(self, message: str) -> None:
        with self.lock:
            self.values["protocol_errors"] += 1
            if len(self.errors) < 20:
                self.errors.append(message)


class Monitor(threading.Thread):
    """Reads the item continuously (strongly consistent) and checks the stored invariants."""

    def __init__(self, ddb: Any, requests: SemaphoreRequests, limit: int) -> None:
        super().__init__(name="monitor", daemon=True)
        self._ddb = ddb
        self._requests = requests
        self._limit = limit
        self.stop_event = threading.Event()
        self.samples = 0
        self.max_holders = 0
        self.over_limit_samples = 0
        self.count_mismatches = 0
        self.failure: str | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                holders, count = read_holders(self._ddb, self._requests)
                self.samples += 1
                self.max_holders = max(self.max_holders, len(holders))
                if len(holders) > self._limit:
                    self.over_limit_samples += 1
                if count is not None and count != len(holders):
                    self.count_mismatches += 1
        except Exception:  # a dead monitor must fail the run, not pass it silently
            self.failure = traceback.format_exc()


class Sweeper(threading.Thread):
    """The scheduled sweep, compressed in time."""

    def __init__(self, sweep_once: Callable[[], Any], interval: float) -> None:
        super().__init__(name="sweeper", daemon=True)
        self._sweep_once = sweep_once
        self._interval = interval
        self.stop_event = threading.Event()
        self.failure: str | None = None

    def run(self) -> None:
        try:
            while not self.stop_event.wait(self._interval):
                self._sweep_once()
        except Exception:
            self.failure = traceback.format_exc()


def read_holders(ddb: Any, requests: SemaphoreRequests) -> tuple[dict[str, Any], int | None]:
    item = ddb.get_item(
        TableName=requests.table, Key=requests.semaphore_key, ConsistentRead=True
    ).get("Item", {})
    holders = item.get("holders", {}).get("M", {})
    count = item.get("count", {}).get("N")
    return dict(holders), (int(count) if count is not None else None)


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Config:
    threads: int
    cycles: int
    limit: int
    seed: int = 1
    hold_max_s: float = 0.002
    # The ASL retries "full" with exponential backoff, FULL jitter and a cap; the stress does
    # the same in milliseconds. A flat short sleep would spend most of the emulator's
    # (single-process, ~250 requests/s here) capacity on rejections instead of cycles. Measured
    # at 32 threads × 40 cycles, limit 5: caps from 64 ms to 1 s all ran 30-35 cycles/s (the
    # server is the bound), and the longer caps sent about half the rejections.
    retry_base_s: float = 0.005
    retry_cap_s: float = 0.5
    acquire_deadline_s: float = 120.0
    sweep_interval_s: float = 0.1
    weights: tuple[float, ...] = DEFAULT_WEIGHTS
    executions: str = "auto"  # auto | real | standin
    progress_every_s: float = 60.0  # 0: silent


def _reclaimer() -> tuple[Callable[[Any, str, str], Any], Callable[[Any, Any, str], Any]]:
    # The runtime's pure functions, exactly what the reclaimer Lambda runs.
    from stepqueue_reclaimer.reclaim import reclaim_execution, sweep

    return reclaim_execution, sweep


class Stress:
    def __init__(
        self,
        config: Config,
        ddb: Any,
        requests: SemaphoreRequests,
        executions: Executions,
    ) -> None:
        self.config = config
        self.ddb = ddb
        self.requests = requests
        self.executions = executions
        self.believers = Believers(config.limit)
        self.counters = Counters()
        self.reclaim_execution, self.sweep = _reclaimer()
        self.thread_failures: list[str] = []
        self._failures_lock = threading.Lock()

    # -- one request each; returns False only for ConditionalCheckFailed (= full)

    def _acquire_once(self, arn: str, start: str) -> bool:
        try:
            self.ddb.update_item(**self.requests.acquire_kwargs(arn, start))
        except Exception as exc:
            if _error_code(exc) == CONDITIONAL_FAILED:
                return False
            raise
        return True

    def _release(self, arn: str, start: str) -> None:
        self.ddb.update_item(**self.requests.release_kwargs(arn, start))
        self.counters.add("releases")

    def _acquire(self, arn: str, start: str, rng: random.Random) -> None:
        """The ASL's Retry on ConditionalCheckFailed, compressed: small jittered sleeps."""
        cfg = self.config
        deadline = time.monotonic() + cfg.acquire_deadline_s
        attempt = 0
        while not self._acquire_once(arn, start):
            self.counters.add("full_rejections")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{arn} could not acquire for {cfg.acquire_deadline_s}s")
            time.sleep(rng.uniform(0, min(cfg.retry_cap_s, cfg.retry_base_s * 2**attempt)))
            attempt += 1
        self.counters.add("acquires")

    def _cycle(self, tid: int, cycle: int, rng: random.Random) -> None:
        fault = rng.choices(FAULTS, weights=self.config.weights)[0]
        self.counters.add(f"fault_{fault}")
        arn, start = self.executions.start(f"t{tid}-c{cycle}")

        if fault == "late_acquire":
            # The execution died and its EventBridge cleanup already ran (finding nothing);
            # then the acquire it had in flight lands. Only the sweep can release that slot.
            self.executions.end(arn, rng.choice(DEAD_STATUSES))
            self.reclaim_execution(self.ddb, self.requests.table, arn)
            if self._acquire_once(arn, start):
                self.counters.add("late_acquires_landed")
            self.counters.add("late_acquires")
            return

        self._acquire(arn, start, rng)
        if fault == "retried_acquire":
            self._retry_acquire(arn, start)
        self.believers.enter(arn)
        time.sleep(rng.uniform(0, self.config.hold_max_s))
        self.believers.leave(arn)  # leaves the body before releasing (or dying)

        if fault == "die":
            self.executions.end(arn, rng.choice(DEAD_STATUSES))
            self.counters.add("dead_executions")
            if rng.random() < 0.5:  # the status-change event arrived; else only the sweep helps
                self.reclaim_execution(self.ddb, self.requests.table, arn)
                self.counters.add("event_reclaims")
            return

        self._release(arn, start)
        if fault == "duplicate_release":
            try:
                self._release(arn, start)
            except Exception as exc:
                self.counters.error(f"duplicate release of {arn} failed: {exc!r}")
        self.executions.end(arn, "SUCCEEDED")

    def _retry_acquire(self, arn: str, start: str) -> None:
        """Second attempt of an acquire that already succeeded: must pass, must not add."""
        if not self._acquire_once(arn, start):
            self.counters.error(f"retried acquire of a held slot was refused: {arn}")
            return
        self.counters.add("retried_acquires")
        holders, _ = read_holders(self.ddb, self.requests)
        entry = holders.get(arn)
        if entry != {"S": start}:
            self.counters.error(f"after a retried acquire, holder {arn} is {entry!r}")
        if len(holders) >= self.config.limit:
            # The retry met a full semaphore (or one it filled): the attribute_exists branch of
            # the condition is what let it through, which is the case worth counting.
            self.counters.add("retried_acquires_while_full")

    def _worker(self, tid: int) -> None:
        rng = random.Random(f"{self.config.seed}-{tid}")
        try:
            for cycle in range(self.config.cycles):
                self._cycle(tid, cycle, rng)
                self.counters.add("cycles_done")
        except Exception:
            with self._failures_lock:
                self.thread_failures.append(f"thread {tid}:\n{traceback.format_exc()}")

    def _sweep_once(self) -> None:
        summary = self.sweep(self.ddb, self.executions.sfn, self.requests.table)
        self.counters.add("sweeps")
        self.counters.add("sweep_reclaims", len(summary["reclaimed"]))
        # The sweep records a per-holder failure and goes on; for the proof, any is an error.
        for error in summary["errors"]:
            self.counters.error(f"sweep error: {error}")

    def run(self) -> dict[str, Any]:
        cfg = self.config
        monitor = Monitor(self.ddb, self.requests, cfg.limit)
        sweeper = Sweeper(self._sweep_once, cfg.sweep_interval_s)
        started = time.monotonic()
        monitor.start()
        sweeper.start()
        workers = [
            threading.Thread(target=self._worker, args=(tid,), name=f"stress-{tid}")
            for tid in range(cfg.threads)
        ]
        for worker in workers:
            worker.start()
        total = cfg.threads * cfg.cycles
        for worker in workers:
            # Long runs (32 × 5,000 takes about an hour here) report progress on stderr.
            while worker.is_alive():
                worker.join(timeout=cfg.progress_every_s)
                if worker.is_alive() and cfg.progress_every_s:
                    done = self.counters.values["cycles_done"]
                    elapsed = time.monotonic() - started
                    print(
                        f"[semaphore] {done}/{total} cycles in {elapsed:.0f}s "
                        f"({done / elapsed:.1f}/s), max holders {monitor.max_holders}, "
                        f"violations {self.believers.over_grants + monitor.over_limit_samples}",
                        file=sys.stderr,
                        flush=True,
                    )
        sweeper.stop_event.set()
        sweeper.join()
        monitor.stop_event.set()
        monitor.join()
        run_seconds = time.monotonic() - started

        # The final sweep: every execution has ended, so every holder left is either a dead
        # execution the sweep must reclaim, or a leak.
        self._sweep_once()
        holders, _ = read_holders(self.ddb, self.requests)
        dead_holders = [
            arn for arn in holders if (self.executions.status(arn) or "MISSING") != "RUNNING"
        ]
        values = self.counters.values
        failures = [*self.thread_failures]
        for name, failure in (("monitor", monitor.failure), ("sweeper", sweeper.failure)):
            if failure:
                failures.append(f"{name}:\n{failure}")
        violations = self.believers.over_grants + monitor.over_limit_samples
        return {
            "threads": cfg.threads,
            "cycles": cfg.cycles,
            "limit": cfg.limit,
            "max_holders": monitor.max_holders,
            "max_believers": self.believers.max_size,
            "violations": violations,
            "over_grants": self.believers.over_grants,
            "over_limit_samples": monitor.over_limit_samples,
            "count_mismatches": monitor.count_mismatches,
            "leaked_after_sweep": len(holders),
            "dead_holders_after_sweep": len(dead_holders),
            "believers_left": len(self.believers.members),
            "acquires": values["acquires"],
            "releases": values["releases"],
            "full_rejections": values["full_rejections"],
            "retried_acquires": values["retried_acquires"],
            "retried_acquires_while_full": values["retried_acquires_while_full"],
            "duplicate_releases": values["fault_duplicate_release"],
            "dead_executions": values["dead_executions"],
            "event_reclaims": values["event_reclaims"],
            "late_acquires": values["late_acquires"],
            "late_acquires_landed": values["late_acquires_landed"],
            "sweeps": values["sweeps"],
            "sweep_reclaims": values["sweep_reclaims"],
            "monitor_samples": monitor.samples,
            "protocol_errors": values["protocol_errors"],
            "protocol_error_examples": self.counters.errors[:5],
            "over_grant_examples": self.believers.examples,
            "thread_failures": len(failures),
            "failure_examples": [f[-1500:] for f in failures[:3]],
            "seconds": round(run_seconds, 2),
            "cycles_per_second": round(cfg.threads * cfg.cycles / run_seconds, 1),
            "executions": self.executions.description,
            "seed": cfg.seed,
            "hold_ms_max": cfg.hold_max_s * 1000,
        }


def failed(result: dict[str, Any]) -> bool:
    return bool(
        result["violations"]
        or result["count_mismatches"]
        or result["leaked_after_sweep"]
        or result["dead_holders_after_sweep"]
        or result["believers_left"]
        or result["protocol_errors"]
        or result["thread_failures"]
    )


def prepare_table(ddb: Any, requests: SemaphoreRequests) -> None:
    """The table and the semaphore item, as Terraform pre-creates them (contracts.md)."""
    try:
        ddb.create_table(
            TableName=requests.table,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except Exception as exc:
        if _error_code(exc) != "ResourceInUseException":
            raise
    ddb.put_item(TableName=requests.table, Item={**requests.semaphore_key, "holders": {"M": {}}})


def load_requests(
    limit: int, table: str, definition: Path | None, name: str = SEMAPHORE_NAME
) -> SemaphoreRequests:
    if definition is None:
        requests, _ = requests_for_limit(limit, table=table, name=name)
        return requests
    rendered = render(definition.read_text(encoding="utf-8"), table)
    return SemaphoreRequests.from_definition(rendered)


def run_stress(
    endpoint: str,
    config: Config,
    *,
    requests: SemaphoreRequests | None = None,
    name: str = SEMAPHORE_NAME,
    table: str = TABLE,
) -> dict[str, Any]:
    """Run one stress against an emulator at ``endpoint``; returns the result object."""
    from stepqueue.local.emulator import ACCOUNT_ID, make_client

    requests = requests or load_requests(config.limit, table, None, name)
    if requests.limit != config.limit:
        raise ValueError(f"definition limit {requests.limit} != --limit {config.limit}")
    ddb = make_client(endpoint, "dynamodb")
    prepare_table(ddb, requests)
    mode = config.executions
    if mode == "auto":
        mode = "standin" if config.threads * config.cycles > STANDIN_ABOVE else "real"
    executions: Executions
    if mode == "real":
        role = f"arn:aws:iam::{ACCOUNT_ID}:role/stepqueue-stress"
        executions = RealExecutions(make_client(endpoint, "stepfunctions"), f"{name}-hold", role)
    else:
        executions = StandInExecutions(f"{name}-hold")
    result = Stress(config, ddb, requests, executions).run()
    result["acquire_request"] = {
        "state": requests.acquire_state,
        "ConditionExpression": requests.acquire_parameters.get("ConditionExpression"),
        "UpdateExpression": requests.acquire_parameters.get("UpdateExpression"),
    }
    result["release_request"] = {
        "states": list(requests.release_states),
        "UpdateExpression": requests.release_parameters.get("UpdateExpression"),
        "ConditionExpression": requests.release_parameters.get("ConditionExpression"),
    }
    return result
