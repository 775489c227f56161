"""The model of testkit/scale_model.py checked on this machine (run by
`python -m bench.scale_proof`).

A developer's tool, run from a checkout WITH its git history: the design the issue replaced
(the gatekeeper package and ASL templates of commit b552a47, one message group per semaphore,
one GetItem per item looked at) is no longer in the code, so it is extracted with `git archive`
into a temporary directory and run as that gatekeeper's code. Without the history (a shallow
clone, an sdist) the proof is skipped, and says so in its JSON.

For each design, on a fresh emulator: the semaphore's table and FIFO queue (and, for a design
whose Acquire names one, the semaphore's arrivals queue with a mapping of its own), a state machine
generated from that design's templates (a Wait body behind the waiting room), and the local
runner's event source mapping (stepqueue/local/runner.py: one batch in flight per message
group, the deployment's concurrency of 2) running the gatekeeper's real handler in its
containers, from that design's sources. Every AWS call the gatekeeper makes waits the central
latency set x5 first, and every batch the set's `between` x5 (stepqueue/local/container.py,
STEPQUEUE_LOCAL_LATENCY_MS), so the gatekeeper, not the emulator, is the bottleneck. A burst of
N executions starts at once; `measured_per_s` is N over the first start to the last stop.

The model is given the same sizes, the measured start times and two latency tables: the
injected one (`model_injected_per_s`), and the one the gatekeeper saw (`model_per_s`: each
operation's mean call time, the emulator's own added, and per batch the runner's gap between
two batches of a group plus the handler's time outside AWS calls, which the AWS table leaves
out). `ratio` is measured / model; the target is within 0.8-1.2 for each design and for the
gain (the new design's throughput over the old one's). Prints ONE JSON object last.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stepqueue.local.burst import START_THREADS, wait_until_ended
from stepqueue.local.emulator import ACCOUNT_ID, REGION, Emulator
from stepqueue.local.runner import MappingRunner, MappingSettings
from stepqueue.paths import LAMBDA_SRC, REPO
from testkit import scale_model
from testkit.semaphore_requests import generate_definition_template
from testkit.waiting_room import (
    create_arrivals_queue,
    create_machine,
    create_queue,
    create_table,
)

OLD_COMMIT = "b552a47"  # the last commit with the serial gatekeeper, acquires in one group
LATENCY_SET = "central"
LATENCY_SCALE = 5
NAME = "proof"
TOLERANCE = 0.2
ENV_LATENCY = "STEPQUEUE_LOCAL_LATENCY_MS"
ENV_LOG = "STEPQUEUE_LOCAL_CALL_LOG"


def injected_latency() -> dict[str, float]:
    return {op: ms * LATENCY_SCALE for op, ms in scale_model.LATENCY_MS[LATENCY_SET].items()}


def extract_old(into: Path) -> tuple[Path, Path] | None:
    """(lambda_src, generator/templates) of OLD_COMMIT, or None without the history."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{OLD_COMMIT}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        return None
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", OLD_COMMIT, "lambda_src", "generator/templates"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "lambda_src", into / "generator" / "templates"


def definition_template(templates: Path, limit: int, body_s: int) -> str:
    """The ASL the generator renders from `templates` (the design's own)."""
    from generator import render

    spec = (
        f"name: {NAME}\nconcurrency: {{limit: {limit}, mode: waiting_room}}\n"
        "StartAt: Hold\nStates:\n"
        f"  Hold: {{Type: Wait, Seconds: {body_s}, End: true}}\n"
    )
    saved = render.TEMPLATES
    render.TEMPLATES = templates
    render.renderer.cache_clear()
    try:
        return generate_definition_template(spec)
    finally:
        render.TEMPLATES = saved
        render.renderer.cache_clear()


def _settings(
    sqs: Any, url: str, control_url: str, limit: int, log_dir: Path, uuid: str
) -> MappingSettings:
    """The mapping of one of the gatekeeper's queues (`url`); `control_url` is the queue its
    follow-ons and wake-ups go to."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    prefix = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:{NAME}:"
    return MappingSettings(
        uuid=uuid,
        function_name=f"{NAME}-gatekeeper",
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{NAME}-gatekeeper",
        queue_arn=queue_arn,
        queue_url=url,
        batch_size=10,
        batching_window_s=0,
        max_concurrency=2,  # modules/gatekeeper: 2 for one semaphore's queues (two at least)
        report_batch_item_failures=True,
        handler="stepqueue_gatekeeper.entry.handler",
        environment={
            "SEMAPHORE_TABLE": NAME,
            "GATEKEEPER_QUEUE_URL": control_url,
            "SEMAPHORE_LIMITS": json.dumps({NAME: limit}),
            "EXECUTION_ARN_PREFIXES": json.dumps([prefix]),
            ENV_LATENCY: json.dumps(injected_latency()),
            ENV_LOG: str(log_dir),
        },
        timeout_s=60,
        memory_mb=256,
        code_sha256="",
        visibility_timeout_s=360,
        max_receive_count=None,
        dlq_arn=None,
    )


def run_design(
    lambda_root: Path, templates: Path, n: int, limit: int, body_s: int, work: Path
) -> dict[str, Any]:
    """One burst through that design's gatekeeper; what was measured, and the call log."""
    log_dir = work / "calls"
    log_dir.mkdir(parents=True)
    template = definition_template(templates, limit, body_s)
    with Emulator(atomic_dynamodb=True, log_path=work / "emulator.log") as emu:
        ddb, sqs, sfn = (emu.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
        create_table(ddb, NAME, {NAME: limit})
        url = create_queue(sqs, NAME)
        # A design whose Acquire names an arrivals queue gets one, with its own mapping, as
        # modules/gatekeeper deploys it; the serial design sends everything to the one queue.
        queues = {"proof": url}
        if "${arrivals_queue_url}" in template:
            queues["proof-arrivals"] = create_arrivals_queue(sqs, NAME)
        machine = create_machine(sfn, NAME, template, NAME, url, queues.get("proof-arrivals"))
        stop = threading.Event()
        with open(work / "containers.log", "a") as container_log:
            mappings = [
                MappingRunner(
                    _settings(sqs, queue, url, limit, log_dir, uuid),
                    emu.endpoint,
                    lambda_root,
                    container_log,
                    stop,
                    None,
                )
                for uuid, queue in queues.items()
            ]
            for mapping in mappings:
                mapping.start(prewarm=True)
            try:
                with ThreadPoolExecutor(START_THREADS) as starters, ThreadPoolExecutor(8) as pool:
                    arns = list(
                        starters.map(
                            lambda i: sfn.start_execution(
                                stateMachineArn=machine, name=f"e{i:05d}"
                            )["executionArn"],
                            range(n),
                        )
                    )
                    described = wait_until_ended(
                        sfn, machine, arns, time.monotonic() + 60 + 2 * n, pool
                    )
            finally:
                stop.set()
                for mapping in mappings:
                    mapping.join()
                    mapping.close()
            for mapping in mappings:
                if mapping.error is not None:
                    raise RuntimeError(f"the gatekeeper's mapping failed: {mapping.error!r}")
    ok = [d for d in described.values() if d["status"] == "SUCCEEDED"]
    if len(ok) != n:
        raise RuntimeError(f"{n - len(ok)} of {n} executions did not succeed")
    first = min(d["startDate"].timestamp() for d in ok)
    last = max(d["stopDate"].timestamp() for d in ok)
    return {
        "starts": sorted(d["startDate"].timestamp() - first for d in ok),
        "seconds": last - first,
        "calls": _read_log(log_dir),
    }


def _read_log(log_dir: Path) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for path in sorted(log_dir.glob("calls-*.jsonl")):
        # Each container's lines carry its name: a call belongs to its own container's
        # invocation, never to the other group's running at the same time.
        lines += [
            {**json.loads(line), "container": path.stem}
            for line in path.read_text().splitlines()
            if line
        ]
    return lines


def observed_latency(calls: list[dict[str, Any]]) -> dict[str, float]:
    """The latency table the gatekeeper saw, in ms: each operation's mean call time; and per
    batch, `between` as the median gap between two batches of the semaphore's group plus the
    median time its handler spent outside AWS calls (both this machine's, not AWS's)."""
    by_op: dict[str, list[float]] = defaultdict(list)
    invocations = sorted((c for c in calls if "invocation" in c), key=lambda c: float(c["start"]))
    for c in calls:
        if "op" in c:
            by_op[str(c["op"])].append(1000 * (c["end"] - c["start"]))
    table = {op: statistics.fmean(times) for op, times in by_op.items()}
    gaps: list[float] = []
    last_end: dict[str, float] = {}
    for inv in invocations:
        for group in inv["invocation"]:
            if group in last_end:
                gaps.append(1000 * (inv["start"] - last_end[group]))
            last_end[group] = inv["end"]
    outside = [_outside_calls_ms(inv, calls) for inv in invocations]
    table["between"] = statistics.median(gaps or [0.0]) + statistics.median(outside or [0.0])
    return {op: round(ms, 1) for op, ms in sorted(table.items())}


def _outside_calls_ms(inv: dict[str, Any], calls: list[dict[str, Any]]) -> float:
    """An invocation's time not inside any AWS call (concurrent calls counted once)."""
    spans = sorted(
        (c["start"], c["end"])
        for c in calls
        if "op" in c
        and c["container"] == inv["container"]
        and inv["start"] <= c["start"]
        and c["end"] <= inv["end"]
    )
    busy, reach = 0.0, float(inv["start"])
    for start, end in spans:
        if end > reach:
            busy += end - max(start, reach)
            reach = end
    return max(0.0, 1000 * (float(inv["end"]) - float(inv["start"]) - busy))


def model_per_s(
    design: scale_model.Design,
    lat: dict[str, float],
    n: int,
    limit: int,
    body_s: int,
    starts: list[float],
) -> float:
    run = scale_model.simulate_split if design.split else scale_model.simulate
    seconds = run(design, lat, n, limit, body_s, None, starts)["seconds"]
    return n / float(seconds)


def prove(n: int, limit: int, body_s: int) -> dict[str, Any]:
    designs = {d.name: d for d in scale_model.designs()}
    result: dict[str, Any] = {
        "executions": n,
        "limit": limit,
        "body_seconds": body_s,
        "latency": f"{LATENCY_SET} x{LATENCY_SCALE}",
        "injected_ms": injected_latency(),
    }
    with tempfile.TemporaryDirectory(prefix="scale-proof-") as tmp:
        (Path(tmp) / "old").mkdir()
        old = extract_old(Path(tmp) / "old")
        if old is None:
            return {
                **result,
                "skipped": f"commit {OLD_COMMIT} is not in this checkout's history: the old "
                "design cannot be run (clone with history to prove the model)",
            }
        sources = {
            "old": (old, "serial"),
            "new": ((LAMBDA_SRC, REPO / "generator" / "templates"), scale_model.CURRENT),
        }
        for key, ((root, templates), model_name) in sources.items():
            run = run_design(root, templates, n, limit, body_s, Path(tmp) / key)
            design = designs[model_name]
            seen = observed_latency(run["calls"])
            measured = n / run["seconds"]
            model = model_per_s(design, seen, n, limit, body_s, run["starts"])
            injected = model_per_s(design, injected_latency(), n, limit, body_s, run["starts"])
            result[key] = {
                "model_design": model_name,
                "measured_per_s": round(measured, 2),
                "model_per_s": round(model, 2),
                "ratio": round(measured / model, 3),
                "model_injected_per_s": round(injected, 2),
                "ratio_injected": round(measured / injected, 3),
                "observed_ms": seen,
                "start_seconds": round(run["starts"][-1], 1),
                "gatekeeper_invocations": sum(1 for c in run["calls"] if "invocation" in c),
            }
    old_r, new_r = result["old"], result["new"]
    gain_measured = new_r["measured_per_s"] / old_r["measured_per_s"]
    gain_model = new_r["model_per_s"] / old_r["model_per_s"]
    result["gain"] = {
        "measured": round(gain_measured, 2),
        "model": round(gain_model, 2),
        "ratio": round(gain_measured / gain_model, 3),
    }
    result["within_tolerance"] = all(
        abs(r["ratio"] - 1) <= TOLERANCE for r in (old_r, new_r, result["gain"])
    )
    return result
