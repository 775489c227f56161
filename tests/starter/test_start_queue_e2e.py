"""End to end on the emulator: the root applied with one workflow (media) and its start queue,
a burst of 30 submissions (25 distinct, 5 repeated) sent by `stepqueue submit --each`, and the
starter run by the local runner from the packaged zip: every distinct submission started
exactly once, the queue drained, the DLQ empty."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from stepqueue import cli
from stepqueue.deploy.artifacts import generate
from stepqueue.local.runner import Runner
from stepqueue.local.scenarios.workflow_burst import deployed
from stepqueue.ops import submit_command
from stepqueue.paths import REPO
from tests.markers import terraform_on_emulator

DISTINCT, REPEATED = 25, 5


@terraform_on_emulator
def test_a_burst_through_the_start_queue_starts_each_submission_once(
    lambda_zip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    generated = generate([REPO / "workflows" / "media.yaml"], tmp_path / "generated")
    # An empty file list: the Map ends at once, so no worker has to run.
    lines = [
        json.dumps({"files": [], "renditions": [], "seconds": 0, "n": i % DISTINCT})
        for i in range(DISTINCT + REPEATED)
    ]
    burst = tmp_path / "burst.jsonl"
    burst.write_text("\n".join(lines) + "\n")
    with deployed(tmp_path / "tf", generated_dir=generated, lambda_zip=lambda_zip) as dep:
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
        with Runner(dep.emulator.endpoint, lambda_zip, function_prefix="stepqueue-starter"):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                depth = sum(
                    int(v)
                    for v in sqs.get_queue_attributes(
                        QueueUrl=outputs["start_queue_url"],
                        AttributeNames=[
                            "ApproximateNumberOfMessages",
                            "ApproximateNumberOfMessagesNotVisible",
                        ],
                    )["Attributes"].values()
                )
                if depth == 0:
                    break
                time.sleep(0.5)
            assert depth == 0, "the start queue did not drain"
        executions = [
            e
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine)
            for e in page["executions"]
        ]
        started = [e["name"] for e in executions]
        assert sorted(started) == sorted(names)  # started == distinct submitted, none twice
        dlq = sqs.receive_message(QueueUrl=outputs["start_queue_dlq_url"], WaitTimeSeconds=1)
        assert dlq.get("Messages", []) == []
