"""The demo's report: a plain-text table for people, the same numbers as JSON for machines."""

from __future__ import annotations

from stepqueue.local.burst import BurstResult


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def render(result: BurstResult, *, failed_visibility_s: int | None) -> str:
    r = result
    verdict = "OK" if r.ok else "FAILED"
    mark = {True: "ok", False: "EXCEEDED"}
    lines = [
        f"stepqueue local demo — workflow {r.workflow!r}: {verdict}",
        "",
        "executions",
        f"  started                      {r.executions + r.failing}"
        f" ({r.executions} to succeed, {r.failing} whose handler fails on purpose)",
        f"  succeeded                    {r.succeeded} / {r.executions}",
        f"  failed as designed           {r.failed_as_expected} / {r.failing}"
        "  (handler raised Sleep.Failed → Catch → release slot → Fail with that error)",
        f"  failed unexpectedly          {r.failed_unexpectedly}",
        f"  not finished (lost)          {r.unfinished}",
        "",
        "poison messages (sent straight to the worker queue)",
        f"  sent                         {r.poison}",
        f"  in the DLQ                   {r.poison_in_dlq}",
        f"  still queued                 {r.messages_left_in_queue}",
        f"  lost                         {r.messages_lost}",
        "",
        f"LOST (executions + messages)   {r.lost}",
        "",
        "semaphore",
        f"  peak holders / limit         {r.peak_holders} / {r.limit}"
        f"  ({mark[r.peak_holders <= r.limit and r.holder_violations == 0]},"
        f" {r.holder_samples} samples)",
        f"  slots still held at the end  {r.holders_at_end}",
        "",
        "workers",
        f"  peak concurrent batches      {r.peak_workers} / {r.max_concurrency} max concurrency"
        f"  ({mark[r.peak_workers <= r.max_concurrency]}, {r.batches} batches)",
        "",
        "performance (successful executions)",
        f"  wall time                    {r.wall_seconds:.1f} s"
        f" (work {r.work_seconds:g} s per task)",
        f"  starting the burst           {r.start_seconds:.1f} s"
        f" ({r.executions + r.failing} StartExecution calls)",
        f"  throughput                   {r.throughput_per_s:.2f}/s"
        f" (ideal {r.ideal_per_s:.2f}/s, efficiency {r.efficiency:.2f})",
        f"  task latency p50 / p95       {_s(r.task_latency_p50_s)} / {_s(r.task_latency_p95_s)}"
        "  (message sent → handler done)",
        f"  execution p50 / p95          {_s(r.execution_p50_s)} / {_s(r.execution_p95_s)}",
    ]
    if failed_visibility_s is not None and r.poison:
        lines += [
            "",
            f"note: failed records were made visible again after {failed_visibility_s} s instead"
            " of the queue's visibility timeout, so poison reaches the DLQ in seconds;"
            " receive counting and the redrive are the emulator's.",
        ]
    if r.failure_examples:
        lines += ["", "unexpected failures (first ones):", *(f"  {e}" for e in r.failure_examples)]
    return "\n".join(lines)
