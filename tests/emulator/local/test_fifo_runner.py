"""Lambda's FIFO rules in the local runner (stepqueue/local/fifo.py): a group's records after a
failed one fail too, one batch in flight per group; unit checks, then the runner on a FIFO
queue of the emulator."""

from __future__ import annotations

import itertools
import json
import zipfile
from pathlib import Path
from typing import Any

from stepqueue.local.emulator import Emulator
from stepqueue.local.runner import Runner
from tests.emulator.local.test_runner import TEST_FUNCTION
from tests.support.waiting import until


def _message(message_id: str, group: str) -> dict[str, Any]:
    return {"MessageId": message_id, "Attributes": {"MessageGroupId": group}}


def test_runner_keeps_each_group_in_order(
    emulator: Emulator, tmp_path: Path, unique_name: str
) -> None:
    zip_path = tmp_path / "fn.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("testfn.py", TEST_FUNCTION)
    sqs, lam, iam = (emulator.client(s) for s in ("sqs", "lambda", "iam"))
    queue = sqs.create_queue(
        QueueName=f"{unique_name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    role = iam.create_role(
        RoleName=unique_name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    trace = tmp_path / "trace.jsonl"
    lam.create_function(
        FunctionName=unique_name,
        Runtime="python3.11",
        Role=role,
        Handler="testfn.handler",
        Code={"ZipFile": zip_path.read_bytes()},
        Timeout=10,
        Environment={"Variables": {"TRACE_FILE": str(trace)}},
    )
    lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=unique_name,
        Enabled=False,
        BatchSize=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    # Group a: record 1 fails on its first delivery and the function lists only it; records
    # 2..4 must come back anyway, after it. Group b is unaffected; slow records make the two
    # groups' invocations overlap.
    for n in range(5):
        body = {"n": n, "sleep": 0.2, **({"fail_below": 2} if n == 1 else {})}
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(body), MessageGroupId="a")
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps({"n": 100 + n, "sleep": 0.2}),
            MessageGroupId="b",
        )
    seen: list[dict[str, Any]] = []
    with Runner(
        emulator.endpoint, zip_path, function_prefix=unique_name, failed_visibility_s=1
    ) as runner:

        def drained() -> bool:
            runner.check()
            seen[:] = (
                [json.loads(line) for line in trace.read_text().splitlines()]
                if trace.exists()
                else []
            )
            done = {n for call in seen for n, _ in call["records"]}
            attributes = sqs.get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            return done >= {*range(5), *range(100, 105)} and not any(
                int(v) for v in attributes.values()
            )

        try:
            until("every record handled and the queue drained", drained, 60)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; invocations {seen}") from None
    # The function fails record 1 on its first delivery. Whatever a loaded machine adds
    # (a slow invocation redelivered), every record of a group after a failed one in the same
    # batch must come back in a later invocation: none is taken as done out of order.
    assert any(1 in call["failed"] for call in seen)
    for i, call in enumerate(seen):
        batch = [n for n, _ in call["records"]]
        for failed in call["failed"]:
            behind = [n for n in batch[batch.index(failed) :] if n // 100 == failed // 100]
            later = {n for after in seen[i + 1 :] for n, _ in after["records"]}
            assert set(behind) <= later, (failed, behind, seen)
    # Each group's records were handed over in order, counting only the last delivery.
    last: dict[int, int] = {}
    for i, call in enumerate(seen):
        for n, _ in call["records"]:
            last[n] = i
    for group in (range(5), range(100, 105)):
        order = sorted(group, key=lambda n: (last[n], n))
        assert order == list(group)
    # One batch in flight per group: a group's invocations never overlap.
    for members in (set(range(5)), set(range(100, 105))):
        spans = sorted(
            (call["start"], call["end"])
            for call in seen
            if {n for n, _ in call["records"]} & members
        )
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end
