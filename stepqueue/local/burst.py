"""The local end-to-end scenario shared by `make demo`, bench/e2e.py and tests/e2e: emulator →
terraform apply (isolated state) → local runner → a burst of executions, watched until the end.

Counting is authoritative: every execution's status comes from DescribeExecution
(ListExecutions only hints which ones have finished, docs/design.md §4), messages from the queues'
own counters, holders from the semaphore item, sampled continuously by a monitor thread.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from stepqueue.deploy.progress import apply_with_progress, init_with_progress, plan_with_progress
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.local.runner import MappingMetrics, Runner, percentile
from stepqueue.paths import TERRAFORM_ROOT

# Client threads that start the burst. Every start is served by the one emulator process, so
# more threads do not start it sooner; they only crowd out, under its GIL, the worker calls of
# the executions already running (measured at 200 executions: efficiency 0.61-0.67 with 16
# threads, 0.71-0.77 with 2).
START_THREADS = 2
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
POISON_BODY = "this is not a task message"


@dataclass
class Deployment:
    """What `terraform apply` created on a fresh emulator, read from its outputs."""

    emulator: Emulator
    outputs: dict[str, Any]
    tfvars: dict[str, Any]
    zip_path: Path

    def state_machine_arn(self, workflow: str) -> str:
        return str(self.outputs["state_machine_arns"][workflow])

    def worker(self, workflow: str, worker: str) -> dict[str, Any]:
        settings: dict[str, Any] = self.outputs["workers"][workflow][worker]
        return settings

    def semaphore(self, workflow: str) -> tuple[str, str, int]:
        """(table, item id, limit) of the workflow's semaphore."""
        name = self.tfvars["workflows"][workflow]["semaphore"]
        if name is None:
            raise ValueError(f"workflow {workflow} has no semaphore")
        limit = int(self.tfvars["semaphores"][name]["limit"])
        return str(self.outputs["semaphore_table_name"]), name, limit


@contextlib.contextmanager
def deployed(
    work_dir: Path,
    *,
    generated_dir: Path,
    lambda_zip: Path,
    root: Path = TERRAFORM_ROOT,
    log: Callable[[str], None] = lambda _: None,
) -> Iterator[Deployment]:
    """A fresh emulator with the root applied to it; everything stops on exit. The emulator
    enforces IAM: each function the runner runs calls AWS with its own deployed role, so the
    demo fails locally where a missing permission would fail on AWS."""
    run_dir = Path(work_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # The emulator is new: a state file from a previous run would describe resources that no
    # longer exist. The data dir (providers) is kept to make init a no-op.
    for stale in run_dir.glob("terraform.tfstate*"):
        stale.unlink()
    tfvars = json.loads((generated_dir / "workflows.tfvars.json").read_text())
    # The emulator's own output (the interpreter's logs) goes to a file, never the terminal.
    with Emulator(atomic_dynamodb=True, enforce_iam=True, log_path=run_dir / "emulator.log") as emu:
        run = local_deployment(
            emu.endpoint, run_dir, root=root, generated_dir=generated_dir, lambda_zip=lambda_zip
        )
        log("terraform init, plan and apply of that saved plan")
        init_with_progress(run)
        plan_file = run_dir / "deploy.tfplan"
        plan_with_progress(run, plan_file)
        apply_with_progress(run, plan_file, run_dir / "apply.log")
        yield Deployment(emu, run.output(), tfvars, lambda_zip)


def running_executions(sfn: Any, state_machine_arn: str) -> set[str]:
    """ARNs the service lists as RUNNING (a hint of what to describe, never a count).

    A next-page token dies when the execution it points at stops running between two pages
    (the emulator answers InvalidToken); then there is no hint, and every pending execution is
    described, which is slower but still exact.
    """
    running: set[str] = set()
    try:
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn,
            statusFilter="RUNNING",
            PaginationConfig={"PageSize": 1000},
        ):
            running.update(e["executionArn"] for e in page["executions"])
    except sfn.exceptions.InvalidToken:
        return set()
    return running


def wait_until_ended(
    sfn: Any,
    state_machine_arn: str,
    arns: list[str],
    deadline: float,
    pool: ThreadPoolExecutor,
    on_tick: Callable[[int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """DescribeExecution of each of `arns` once it has ended (or its last answer at the
    deadline), checking every 0.5 s (less often while many are pending); `on_tick(ended)`
    after each check.

    ListExecutions only says which ones to look at; the status that counts is each execution's
    own DescribeExecution, asked once it has left RUNNING. Describing every pending execution
    on every tick made the emulator itself the bottleneck (hundreds of calls a second competing
    with the executions being measured).
    """
    status: dict[str, dict[str, Any]] = {}
    pending = list(arns)
    while pending and time.monotonic() < deadline:
        running = running_executions(sfn, state_machine_arn)
        finished = [a for a in pending if a not in running]
        for execution_arn, reply in zip(
            finished,
            pool.map(lambda a: sfn.describe_execution(executionArn=a), finished),
            strict=True,
        ):
            status[execution_arn] = reply
        pending = [a for a in pending if a not in status or status[a]["status"] not in TERMINAL]
        if on_tick is not None:
            on_tick(len(arns) - len(pending))
        if pending:
            # Listing costs the emulator one serialised item per running execution: with a
            # thousand pending, twice a second took a tenth of a core from the executions
            # measured. Their end times come from DescribeExecution, not from this clock,
            # so looking less often changes no result, only when the wait notices it.
            time.sleep(min(5.0, max(0.5, len(pending) / 200)))
    return status


class HolderMonitor:
    """Samples the semaphore's holders in a thread, every `interval_s`: the counter item's
    `held` (the holder items are counted too, by `holder_items()`, when the run has settled).

    An over-grant stays visible for as long as the extra holder holds its slot (until its
    release), and every task here holds one far longer than the interval, so sampling sees
    it. Sampling faster only takes the emulator's time from the executions being measured.
    """

    def __init__(
        self,
        emulator: Emulator,
        table: str,
        key: str,
        limit: int,
        interval_s: float = 0.1,
    ) -> None:
        self.interval_s = interval_s
        self._ddb = emulator.client("dynamodb")
        self._table, self._key, self.limit = table, key, limit
        self.peak = 0
        self.samples = 0
        self.violations = 0  # samples with more holders than the limit
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="holders", daemon=True)

    def holders(self) -> int:
        item = self._ddb.get_item(
            TableName=self._table, Key={"id": {"S": self._key}}, ConsistentRead=True
        ).get("Item", {})
        return int(item.get("held", {}).get("N", "0"))

    def holder_items(self) -> int:
        """The holder items of the semaphore (its `holders` index)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "holders",
            "KeyConditionExpression": "holder_of = :s",
            "ExpressionAttributeValues": {":s": {"S": self._key}},
            "Select": "COUNT",
        }
        count = 0
        while True:
            page = self._ddb.query(**kwargs)
            count += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return count
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def settled_holders(self, timeout_s: float = 15.0) -> int:
        """Holders once the last releases are applied. A release is a message the gatekeeper
        applies after the execution has ended, so wait (bounded) for the count to reach 0;
        the larger of the count and the holder items is what was leaked."""
        deadline = time.monotonic() + timeout_s
        while True:
            count = self.holders()
            items = self.holder_items()
            if (count == 0 and items == 0) or time.monotonic() >= deadline:
                return max(count, items)
            time.sleep(0.2)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # a sample lost to a hiccup is only a sample
                count = self.holders()
                self.samples += 1
                self.last = count
                self.peak = max(self.peak, count)
                if count > self.limit:
                    self.violations += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> HolderMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class BurstResult:
    workflow: str
    executions: int  # started to succeed
    failing: int  # started with input that makes the handler fail (Catch path)
    poison: int  # malformed messages sent straight to the queue
    work_seconds: float
    succeeded: int = 0
    failed_as_expected: int = 0  # FAILED with the handler's error, after releasing the slot
    failed_unexpectedly: int = 0
    unfinished: int = 0  # not in a terminal state at the deadline: lost
    failure_examples: list[str] = field(default_factory=list)
    poison_in_dlq: int = 0
    messages_left_in_queue: int = 0
    messages_lost: int = 0
    limit: int = 0
    peak_holders: int = 0
    holder_samples: int = 0
    holder_violations: int = 0
    holders_at_end: int = 0
    max_concurrency: int = 0
    batch_size: int = 1
    peak_workers: int = 0
    batches: int = 0
    start_seconds: float = 0.0  # from the first StartExecution call to the last reply
    wall_seconds: float = 0.0
    throughput_per_s: float = 0.0
    ideal_per_s: float = 0.0
    efficiency: float = 0.0
    task_latency_p50_s: float | None = None
    task_latency_p95_s: float | None = None
    execution_p50_s: float | None = None
    execution_p95_s: float | None = None

    @property
    def lost(self) -> int:
        return self.unfinished + self.messages_lost

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.holder_violations == 0
            and self.peak_holders <= self.limit
            and self.peak_workers <= self.max_concurrency
            and self.failed_unexpectedly == 0
            and self.holders_at_end == 0
            and self.succeeded == self.executions
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lost": self.lost, "ok": self.ok}


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


Progress = Callable[[int, int, HolderMonitor, MappingMetrics], None]


def run_burst(
    deployment: Deployment,
    runner: Runner,
    *,
    workflow: str = "burst",
    worker: str = "work",
    executions: int,
    work_seconds: float,
    failing: int = 0,
    poison: int = 0,
    timeout_s: float | None = None,
    progress: Progress | None = None,
) -> BurstResult:
    """Start every execution at once (plus poison messages), wait for all, count everything."""
    emu = deployment.emulator
    sfn, sqs = emu.client("stepfunctions"), emu.client("sqs")
    arn = deployment.state_machine_arn(workflow)
    table, key, limit = deployment.semaphore(workflow)
    settings = deployment.worker(workflow, worker)
    function = settings["function_name"]
    metrics = runner.metrics()[function]
    result = BurstResult(workflow, executions, failing, poison, work_seconds, limit=limit)
    result.max_concurrency = metrics.max_concurrency
    result.batch_size = int(settings.get("batch_size") or 1)
    # The tighter of the two limits sets the best possible rate: slots, or worker batches.
    parallel = min(limit, result.max_concurrency * result.batch_size)
    result.ideal_per_s = parallel / work_seconds if work_seconds > 0 else 0.0
    if timeout_s is None:
        timeout_s = 120 + 4 * math.ceil((executions + failing) / parallel) * (work_seconds + 1)

    inputs = _burst_inputs(executions, failing, work_seconds)
    with (
        HolderMonitor(emu, table, key, limit) as monitor,
        ThreadPoolExecutor(START_THREADS) as starters,
        ThreadPoolExecutor(16) as pool,
    ):

        def start(item: tuple[str, dict[str, Any]]) -> str:
            name, payload = item
            reply = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
            return str(reply["executionArn"])

        started_at = time.monotonic()
        arns = list(starters.map(start, inputs))
        result.start_seconds = time.monotonic() - started_at
        for _ in range(poison):
            sqs.send_message(QueueUrl=settings["queue_url"], MessageBody=POISON_BODY)
        deadline = started_at + timeout_s

        def tick(done: int) -> None:
            runner.check()
            if progress is not None:
                progress(done, len(arns), monitor, metrics)

        status = wait_until_ended(sfn, arn, arns, deadline, pool, on_tick=tick)
        _wait_for_poison(runner, sqs, settings, deadline, result)
        result.holders_at_end = monitor.settled_holders()

    _record_peaks(result, monitor, metrics)
    spans = _tally(result, arns, inputs, status)
    # Poison is lost if neither in the DLQ nor still queued (nothing else is in that queue
    # once every execution has finished).
    result.messages_lost = max(
        0, poison - result.poison_in_dlq - min(result.messages_left_in_queue, poison)
    )
    _record_timing(result, spans)
    return result


def _burst_inputs(
    executions: int, failing: int, work_seconds: float
) -> list[tuple[str, dict[str, Any]]]:
    """Names and inputs: the executions that succeed, then the ones that fail on purpose."""
    run_id = uuid.uuid4().hex[:8]
    inputs = [(f"ok-{run_id}-{i:05d}", {"seconds": work_seconds}) for i in range(executions)]
    inputs += [
        (f"fail-{run_id}-{i:05d}", {"seconds": min(work_seconds, 0.2), "fail": True})
        for i in range(failing)
    ]
    return inputs


def _wait_for_poison(
    runner: Runner, sqs: Any, settings: dict[str, Any], deadline: float, result: BurstResult
) -> None:
    """Poison needs max_receive_count failed deliveries before the redrive moves it."""
    while time.monotonic() < deadline:
        runner.check()
        result.poison_in_dlq = _queue_depth(sqs, settings["dlq_url"])
        result.messages_left_in_queue = _queue_depth(sqs, settings["queue_url"])
        if result.poison_in_dlq >= result.poison and result.messages_left_in_queue == 0:
            break
        time.sleep(0.5)


def _record_peaks(result: BurstResult, monitor: HolderMonitor, metrics: MappingMetrics) -> None:
    result.peak_holders = monitor.peak
    result.holder_samples = monitor.samples
    result.holder_violations = monitor.violations
    result.peak_workers = metrics.peak_in_flight
    result.batches = metrics.batches
    result.task_latency_p50_s = percentile(metrics.record_latency_seconds, 0.5)
    result.task_latency_p95_s = percentile(metrics.record_latency_seconds, 0.95)


def _tally(
    result: BurstResult,
    arns: list[str],
    inputs: list[tuple[str, dict[str, Any]]],
    status: dict[str, dict[str, Any]],
) -> list[tuple[float, float]]:
    """Counts each execution's ending into `result`; returns the (start, stop) times of the
    ones that succeeded as they should."""
    spans: list[tuple[float, float]] = []
    for name_arn, (name, payload) in zip(arns, inputs, strict=True):
        described = status.get(name_arn, {})
        state = described.get("status", "UNKNOWN")
        if state not in TERMINAL:
            result.unfinished += 1
        elif state == "SUCCEEDED" and not payload.get("fail"):
            result.succeeded += 1
            spans.append((described["startDate"].timestamp(), described["stopDate"].timestamp()))
        elif state == "FAILED" and payload.get("fail") and described.get("error") == "Sleep.Failed":
            result.failed_as_expected += 1
        else:
            result.failed_unexpectedly += 1
            if len(result.failure_examples) < 5:
                result.failure_examples.append(
                    f"{name}: {state} {described.get('error')} {described.get('cause')}"[:300]
                )
    return spans


def _record_timing(result: BurstResult, spans: list[tuple[float, float]]) -> None:
    durations = [end - begin for begin, end in spans]
    if spans:
        result.wall_seconds = max(end for _, end in spans) - min(begin for begin, _ in spans)
        result.throughput_per_s = result.succeeded / result.wall_seconds
        if result.ideal_per_s:
            result.efficiency = result.throughput_per_s / result.ideal_per_s
    result.execution_p50_s = percentile(durations, 0.5)
    result.execution_p95_s = percentile(durations, 0.95)
