"""End to end with the user's own handlers, outside examples/ (userfaults/): generated and
packaged from a lambda_src tree of the user's and applied as the stack's `e2e` deployment
(tests/system/stack/conftest.py), run by the local runner.
One handler succeeds, one returns output JSON cannot encode, one raises SystemExit: every
execution ends as designed, each handler ran exactly once per task, and no queue or DLQ keeps
a message."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from stepqueue.local.runner import Runner
from tests.support.queues import queue_depth
from tests.support.waiting import wait_all_ended
from tests.system.stack.conftest import Stack

KINDS = ["charge"] * 6 + ["garbled"] * 2 + ["quits"] * 2


def test_user_handlers_end_as_designed(stack: Stack, tmp_path: Path) -> None:
    e2e = stack.e2e
    dep = e2e.deployment
    run_log = tmp_path / "runs.jsonl"
    run_log.touch()

    with Runner(
        dep.emulator.endpoint,
        e2e.lambda_zip,
        function_prefix=f"{e2e.prefix}userfaults-",
        failed_visibility_s=1,
    ):
        sfn = dep.emulator.client("stepfunctions")
        machine = dep.state_machine_arn("userfaults")
        arns = {}
        for i, kind in enumerate(KINDS):
            body = {"id": f"{kind}-{i}", "kind": kind, "run_log": str(run_log)}
            started = sfn.start_execution(
                stateMachineArn=machine, name=f"{kind}-{i}", input=json.dumps(body)
            )
            arns[started["executionArn"]] = kind
        ended = wait_all_ended(sfn, list(arns), 240)
        errors = {
            arn: next(
                event["executionFailedEventDetails"]["error"]
                for event in sfn.get_execution_history(executionArn=arn, reverseOrder=True)[
                    "events"
                ]
                if event["type"] == "ExecutionFailed"
            )
            for arn, described in ended.items()
            if described["status"] == "FAILED"
        }
        sqs = dep.emulator.client("sqs")
        depths = {}
        for worker in ("charge", "garbled", "quits"):
            settings = dep.worker("userfaults", worker)
            for label, url in (("queue", settings["queue_url"]), ("dlq", settings["dlq_url"])):
                depths[f"{worker} {label}"] = queue_depth(sqs, url)

    assert len(ended) == len(KINDS), "executions still running: a task was lost or looping"
    for arn, kind in arns.items():
        described = ended[arn]
        if kind == "charge":
            assert described["status"] == "SUCCEEDED", described
            assert json.loads(described["output"]) == {
                "charged": json.loads(described["input"])["id"]
            }
        else:
            assert described["status"] == "FAILED", described
            assert errors[arn].startswith("Stepqueue."), errors[arn]
    runs = Counter(json.loads(line)["id"] for line in run_log.read_text().splitlines())
    assert sorted(runs) == sorted(f"{kind}-{i}" for i, kind in enumerate(KINDS))
    assert set(runs.values()) == {1}, runs  # every handler ran once: nothing was redelivered
    assert depths == dict.fromkeys(depths, 0), depths
