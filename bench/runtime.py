"""Worker runtime overhead: ``python -m bench.runtime --records N``.

Our handler (``stepqueue_runtime.entry.handler``) against Powertools' ``BatchProcessor`` with a
minimal hand-written record handler making the same Step Functions calls (probe heartbeat,
then SendTaskSuccess) and logging one line per record with the same Logger. Both use a no-op
user handler and a stubbed client (no network), run in the same process, interleaved, in
batches of 10 records (an SQS-sized batch), CPU time, alternating slice by slice (200
records); per-record times are the medians over the slices, the ratio the median of the
per-slice ratios.
Then the cold import time of the handler module, in fresh interpreters.

Last stdout line: one JSON object with ``records``, ``ours_us_per_record``,
``powertools_us_per_record``, ``ratio``, ``import_ms`` (and a few extra details).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LAMBDA_SRC = REPO / "lambda_src"
BATCH = 10
SLICE_BATCHES = 20  # 200 records, about 8 ms: short enough for both sides to share the machine


def noop(payload: Any, ctx: Any) -> Any:
    return None


class StubStepFunctions:
    """Accepts every callback; counts them so both sides can be checked to do the same."""

    def __init__(self) -> None:
        self.calls = 0

    def send_task_heartbeat(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {}

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {}

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        return {}


def make_events(records: int) -> list[dict[str, Any]]:
    events = []
    for start in range(0, records, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, records)):
            body = {
                "input": {"order_id": f"o-{i}", "items": [{"sku": "a", "qty": 1}]},
                "taskToken": f"AQB{i:08d}" + "x" * 600,  # real tokens are ~700 chars
                "context": {
                    "workflow": "orders",
                    "worker": "enrich",
                    "state": "Enrich",
                    "execution": f"arn:aws:states:us-east-1:123456789012:execution:orders:e{i}",
                },
            }
            batch.append(
                {
                    "messageId": f"m-{i}",
                    "receiptHandle": "rh",
                    "body": json.dumps(body),
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders-enrich",
                    "awsRegion": "us-east-1",
                }
            )
        events.append({"Records": batch})
    return events


def silence(logger: Any) -> None:
    """Keep the JSON formatting cost, drop the bytes (not the terminal's speed we measure)."""
    handler = logger.registered_handler
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process


def build_baseline(client: StubStepFunctions) -> Callable[[dict[str, Any]], Any]:
    """Powertools BatchProcessor + the least a hand-written callback can do."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    logger = Logger(service="bench-baseline", logger_handler=logging.StreamHandler(sys.stdout))
    silence(logger)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        start = time.perf_counter()
        msg = json.loads(record.body)
        token, ctx = msg["taskToken"], msg["context"]
        client.send_task_heartbeat(taskToken=token)
        try:
            result = noop(msg["input"], None)
        except Exception as exc:
            client.send_task_failure(taskToken=token, error=type(exc).__name__, cause=str(exc))
            return
        client.send_task_success(taskToken=token, output=json.dumps(result))
        logger.info(
            "task succeeded",
            extra={
                "workflow": ctx["workflow"],
                "worker": ctx["worker"],
                "execution": ctx["execution"],
                "state": ctx["state"],
                "message_id": record.message_id,
                "outcome": "succeeded",
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
            },
        )

    def handle(event: dict[str, Any]) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=None
        )

    return handle


def build_ours(client: StubStepFunctions) -> Callable[[dict[str, Any]], Any]:
    from stepqueue_runtime import aws, entry

    os.environ["STEPQUEUE_HANDLER"] = "bench.runtime.noop"
    aws.set_client(client)
    silence(entry.logger)

    def handle(event: dict[str, Any]) -> Any:
        return entry.handler(event, None)

    return handle


def time_one(handle: Callable[[dict[str, Any]], Any], events: list[dict[str, Any]]) -> float:
    """CPU seconds of this process for every event: time the machine gives to other processes
    (a shared CI host) is not charged to whichever side happened to be running."""
    start = time.process_time()
    for event in events:
        response = handle(event)
        assert not response["batchItemFailures"], response
    return time.process_time() - start


def import_ms(runs: int) -> tuple[float, float]:
    """Median ms to import the handler module in a fresh interpreter: (with bytecode cached,
    from source as in Lambda where the zip carries no .pyc)."""
    code = (
        "import time; t = time.perf_counter(); import stepqueue_runtime.entry; "
        "print((time.perf_counter() - t) * 1000)"
    )
    results: dict[bool, list[float]] = {True: [], False: []}
    for cached in (True, False):
        env = dict(os.environ, PYTHONPATH=str(LAMBDA_SRC))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        args = [sys.executable, "-c", code] if cached else [sys.executable, "-B", "-c", code]
        if cached:  # once to write the caches
            subprocess.run(args, env=env, check=True, capture_output=True)
        else:
            env["PYTHONPYCACHEPREFIX"] = "/nonexistent-stepqueue-bench"  # ignore existing .pyc
        for _ in range(runs):
            out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
            results[cached].append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(results[True]), statistics.median(results[False])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="worker runtime overhead vs Powertools")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    events = make_events(args.records)
    stub_ours, stub_base = StubStepFunctions(), StubStepFunctions()
    variants = {"ours": build_ours(stub_ours), "powertools": build_baseline(stub_base)}
    for handle in variants.values():  # warm up: caches, handler resolution
        time_one(handle, events[:5])
    stub_ours.calls = stub_base.calls = 0
    # The events and both runtimes are long-lived: moved out of the collector's generations,
    # a full collection (triggered by either side's garbage) does not walk them inside one
    # side's timing.
    gc.collect()
    gc.freeze()
    # Timed in slices of SLICE_BATCHES batches, the two sides alternating slice by slice (and
    # which goes first alternating too): a slow spell of a shared machine then falls on both
    # sides of a pair, and cancels out of that pair's ratio. The ratio is the median of them.
    slices = [events[i : i + SLICE_BATCHES] for i in range(0, len(events), SLICE_BATCHES)]
    samples: dict[str, list[float]] = {name: [] for name in variants}
    ratios: list[float] = []
    for rep in range(args.repeats):
        for number, part in enumerate(slices):
            first = (rep + number) % 2 == 0
            order = list(variants) if first else list(reversed(variants))
            timed = {name: time_one(variants[name], part) for name in order}
            for name, seconds in timed.items():
                samples[name].append(seconds / sum(len(e["Records"]) for e in part))
            ratios.append(timed["ours"] / timed["powertools"])
    assert stub_ours.calls == stub_base.calls == 2 * args.records * args.repeats, "not the same"

    ours = statistics.median(samples["ours"]) * 1e6
    base = statistics.median(samples["powertools"]) * 1e6
    quartiles = statistics.quantiles(ratios, n=4)
    cached_ms, source_ms = import_ms(args.import_runs)
    result = {
        "records": args.records,
        "ours_us_per_record": round(ours, 2),
        "powertools_us_per_record": round(base, 2),
        "ratio": round(statistics.median(ratios), 3),
        "pairs": len(ratios),
        "ratio_quartiles": [round(quartiles[0], 3), round(quartiles[2], 3)],
        "import_ms": round(cached_ms, 1),
        "import_ms_without_bytecode": round(source_ms, 1),
        "repeats": args.repeats,
        "batch_size": BATCH,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
