"""End to end on the stack's workflows/*.yaml (tests/system/stack/conftest.py): media through the
deployment's start queue, a burst of 30 submissions (25 distinct, 5 repeated) sent by
`stepqueue submit --each`, and the starter run by the local runner from the packaged zip: every
distinct submission started exactly once, the queue drained, the DLQ empty."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepqueue import cli
from stepqueue.local.runner import Runner
from stepqueue.ops import submit_command
from tests.support.queues import queue_depth
from tests.support.waiting import until
from tests.system.stack.conftest import Stack

DISTINCT, REPEATED = 25, 5


def test_a_burst_through_the_start_queue_starts_each_submission_once(
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An empty file list: the Map ends at once, so no worker has to run.
    lines = [
        json.dumps({"files": [], "renditions": [], "seconds": 0, "n": i % DISTINCT})
        for i in range(DISTINCT + REPEATED)
    ]
    burst = tmp_path / "burst.jsonl"
    burst.write_text("\n".join(lines) + "\n")
    main = stack.main
    dep = main.deployment
    outputs = dep.outputs
    assert outputs["start_queue_url"] and outputs["start_queue_dlq_url"]
    monkeypatch.setattr(
        submit_command, "_deployment", lambda args, target: (outputs, dep.emulator.client)
    )
    assert cli.main(["submit", "media", "--each", str(burst), "--env", "local"]) == 0
    submitted = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(submitted) == DISTINCT + REPEATED
    names = {s["name"] for s in submitted}
    assert len(names) == DISTINCT

    sfn, sqs = dep.emulator.client("stepfunctions"), dep.emulator.client("sqs")
    machine = outputs["state_machine_arns"]["media"]
    starter = f"{main.prefix}stepqueue-starter"
    with Runner(dep.emulator.endpoint, main.lambda_zip, function_prefix=starter):
        until(
            "the start queue drained",
            lambda: queue_depth(sqs, outputs["start_queue_url"]) == 0,
            timeout=90,
            every=0.5,
        )
    executions = [
        e
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
        for e in page["executions"]
    ]
    started = [e["name"] for e in executions]
    assert sorted(started) == sorted(names)  # started == distinct submitted, none twice
    dlq = sqs.receive_message(QueueUrl=outputs["start_queue_dlq_url"], WaitTimeSeconds=1)
    assert dlq.get("Messages", []) == []
