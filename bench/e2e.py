"""End to end on the emulator: `python -m bench.e2e --executions N`.

The `burst` workflow (semaphore limit 10, worker max concurrency 5, batch size 1) deployed by
Terraform on a fresh emulator, the local event-source runner running the packaged zip, N
executions started at once, each task sleeping --work-seconds. ideal_per_s is the rate the
tighter of the two limits allows (min(limit, max_concurrency × batch size) / work seconds);
efficiency = throughput / ideal. The worker containers are started before the burst (as
provisioned concurrency would be), so the figure measures the queue and the semaphore rather
than Python start-up. Prints ONE JSON object as its last stdout line.
"""

from __future__ import annotations

import argparse
import json
import sys

from stepqueue.deploy.artifacts import build_all, local_python_version
from stepqueue.local.burst import deployed, run_burst
from stepqueue.local.runner import Runner
from stepqueue.project import find_project


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--executions", type=int, default=200)
    parser.add_argument("--work-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    project = find_project()  # this repository's: workflows/ and lambda_src/
    generated, zip_path = build_all(project, python_version=local_python_version())
    log = lambda m: print(f"[e2e] {m}", file=sys.stderr)  # noqa: E731
    with (
        deployed(
            project.build / "e2e", generated_dir=generated, lambda_zip=zip_path, log=log
        ) as dep,
        Runner(dep.emulator.endpoint, dep.zip_path, prewarm=True) as runner,
    ):
        result = run_burst(dep, runner, executions=args.executions, work_seconds=args.work_seconds)
    print(json.dumps(result.as_dict()), file=sys.stderr)
    summary = {
        "executions": result.executions,
        "succeeded": result.succeeded,
        "lost": result.lost,
        "limit": result.limit,
        "peak_holders": result.peak_holders,
        "peak_workers": result.peak_workers,
        "max_concurrency": result.max_concurrency,
        "throughput_per_s": round(result.throughput_per_s, 3),
        "ideal_per_s": round(result.ideal_per_s, 3),
        "efficiency": round(result.efficiency, 3),
        "start_seconds": round(result.start_seconds, 1),
        "containers_prewarmed": True,
        "task_latency_p50_s": result.task_latency_p50_s,
        "task_latency_p95_s": result.task_latency_p95_s,
    }
    print(json.dumps(summary))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
