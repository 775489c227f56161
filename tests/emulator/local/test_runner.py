"""stepqueue/local/runner.py against the emulator, with a small test function packaged in a zip:
settings read back from the deployment, batch size and window, maximum concurrency, partial
batch failures redelivered, poison messages to the DLQ, nothing lost."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stepqueue.local.emulator import Emulator
from stepqueue.local.runner import Runner, RunnerError, discover, zip_sha256
from tests.support.waiting import until

# Records every invocation in TRACE_FILE (a function environment variable, so the test also
# proves the deployed environment reaches the container). Body switches: "sleep" seconds,
# "fail_below" (fail while ApproximateReceiveCount < it), "poison" (always fail), "crash".
TEST_FUNCTION = """
import json, os, time

def handler(event, context):
    start = time.time()
    failures = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("crash"):
            raise RuntimeError("boom")
        time.sleep(body.get("sleep", 0))  # the work it simulates: a fixed time on purpose
        count = int(record["attributes"]["ApproximateReceiveCount"])
        if body.get("poison") or count < body.get("fail_below", 0):
            failures.append({"itemIdentifier": record["messageId"]})
    with open(os.environ["TRACE_FILE"], "a") as trace:
        trace.write(json.dumps({
            "pid": os.getpid(), "start": start, "end": time.time(), "file": __file__,
            "source": event["Records"][0]["eventSourceARN"],
            "remaining_ms": context.get_remaining_time_in_millis(),
            "records": [
                [json.loads(r["body"])["n"], int(r["attributes"]["ApproximateReceiveCount"])]
                for r in event["Records"]
            ],
            "failed": [
                json.loads(r["body"])["n"] for r in event["Records"]
                if {"itemIdentifier": r["messageId"]} in failures
            ],
        }) + "\\n")
    return {"batchItemFailures": failures}
"""


@pytest.fixture(scope="module")
def function_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("zip") / "fn.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("testfn.py", TEST_FUNCTION)
    return path


@dataclass
class Deployment:
    name: str
    queue_url: str
    dlq_url: str
    trace: Path
    sqs: Any

    def send(self, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))

    def invocations(self) -> list[dict[str, Any]]:
        if not self.trace.exists():
            return []
        return [json.loads(line) for line in self.trace.read_text().splitlines()]

    def count(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


Deploy = Callable[..., Deployment]


@pytest.fixture
def deploy(emulator: Emulator, function_zip: Path, tmp_path: Path, unique_name: str) -> Deploy:
    """Queue + DLQ + function + DISABLED mapping, as Terraform deploys them locally."""

    def make(
        *,
        batch_size: int = 1,
        window: int = 0,
        max_concurrency: int | None = 2,
        reserved: int | None = None,
        max_receive_count: int = 3,
        visibility: int = 30,
        timeout: int = 10,
    ) -> Deployment:
        sqs, lam, iam = (emulator.client(s) for s in ("sqs", "lambda", "iam"))
        dlq = sqs.create_queue(QueueName=f"{unique_name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
        queue = sqs.create_queue(
            QueueName=unique_name,
            Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility)},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
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
            Code={"ZipFile": function_zip.read_bytes()},
            Timeout=timeout,
            MemorySize=128,
            Environment={"Variables": {"TRACE_FILE": str(trace)}},
        )
        if reserved is not None:
            lam.put_function_concurrency(
                FunctionName=unique_name, ReservedConcurrentExecutions=reserved
            )
        scaling = {} if max_concurrency is None else {"MaximumConcurrency": max_concurrency}
        lam.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=unique_name,
            Enabled=False,
            BatchSize=batch_size,
            MaximumBatchingWindowInSeconds=window,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            ScalingConfig=scaling,
        )
        return Deployment(unique_name, queue, dlq, trace, sqs)

    return make


def _wait(what: str, condition: Callable[[], bool], runner: Runner, timeout: float = 60) -> None:
    """Until condition() holds; a runner that failed meanwhile raises its own error at once."""

    def check() -> bool:
        runner.check()
        return condition()

    until(what, check, timeout)


def _runner(emulator: Emulator, zip_path: Path, name: str, **kwargs: Any) -> Runner:
    return Runner(emulator.endpoint, zip_path, function_prefix=name, **kwargs)


def test_discover_reads_the_deployment(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(batch_size=4, window=2, max_concurrency=3, max_receive_count=5, visibility=40)
    [settings] = discover(emulator.endpoint, d.name)
    assert (settings.batch_size, settings.batching_window_s, settings.max_concurrency) == (4, 2, 3)
    assert settings.report_batch_item_failures
    assert settings.handler == "testfn.handler"
    assert settings.environment == {"TRACE_FILE": str(d.trace)}
    assert (settings.visibility_timeout_s, settings.max_receive_count) == (40, 5)
    assert settings.dlq_arn is not None and settings.dlq_arn.endswith(f"{d.name}-dlq")
    assert settings.code_sha256 == zip_sha256(function_zip)


def test_refuses_a_different_zip(emulator: Emulator, deploy: Deploy, tmp_path: Path) -> None:
    d = deploy()
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("x.py", "")
    with pytest.raises(RunnerError, match="CodeSha256"):
        _runner(emulator, other, d.name)


def test_batch_size_window_and_artifact(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(batch_size=3, window=1, max_concurrency=None, reserved=1)
    d.send([{"n": i} for i in range(7)])
    with _runner(emulator, function_zip, d.name) as runner:
        _wait("the queue drained", lambda: d.count(d.queue_url) == 0, runner)
        metrics = runner.metrics()[d.name]
    calls = d.invocations()
    sizes = sorted(len(call["records"]) for call in calls)
    assert sum(sizes) == 7 and max(sizes) == 3 and sizes.count(3) >= 2
    assert metrics.records == 7 and metrics.deleted == 7 and metrics.max_concurrency == 1
    # The code ran from the extracted zip, in a subprocess, with a Lambda-like context.
    assert all("stepqueue-runner-" in call["file"] for call in calls)
    assert all(call["source"].endswith(f":{d.name}") for call in calls)
    assert all(0 < call["remaining_ms"] <= 10_000 for call in calls)


def test_max_concurrency_honoured(emulator: Emulator, deploy: Deploy, function_zip: Path) -> None:
    d = deploy(batch_size=1, max_concurrency=3)
    d.send([{"n": i, "sleep": 0.4} for i in range(15)])
    with _runner(emulator, function_zip, d.name) as runner:
        _wait("15 invocations", lambda: len(d.invocations()) == 15, runner)
        metrics = runner.metrics()[d.name]
    calls = d.invocations()
    # Independent of the runner's own count: overlap of the handler's measured intervals.
    edges = sorted([(c["start"], 1) for c in calls] + [(c["end"], -1) for c in calls])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak == 3
    assert metrics.peak_in_flight == 3
    assert len({call["pid"] for call in calls}) <= 3  # warm containers are reused


def test_partial_failures_are_redelivered(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(batch_size=2, window=1, max_concurrency=None, reserved=1, max_receive_count=5)
    d.send([{"n": 0}, {"n": 1, "fail_below": 3}])
    with _runner(emulator, function_zip, d.name, failed_visibility_s=1) as runner:
        _wait("the queue drained", lambda: d.count(d.queue_url) == 0, runner)
        metrics = runner.metrics()[d.name]
    seen = [record for call in d.invocations() for record in call["records"]]
    assert [count for n, count in seen if n == 0] == [1]  # succeeded once, deleted
    assert [count for n, count in seen if n == 1] == [1, 2, 3]  # redelivered until it passed
    assert d.count(d.dlq_url) == 0
    assert metrics.item_failures == 2 and metrics.deleted == 2


def test_without_hastening_failed_records_wait_for_the_visibility_timeout(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(visibility=3)
    d.send([{"n": 0, "fail_below": 2}])
    with _runner(emulator, function_zip, d.name) as runner:
        _wait("the queue drained", lambda: d.count(d.queue_url) == 0, runner)
    first, second = d.invocations()
    assert second["start"] - first["end"] >= 2.5


def test_poison_goes_to_the_dlq_and_nothing_is_lost(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(batch_size=5, window=1, max_concurrency=2, max_receive_count=2)
    d.send([{"n": i} for i in range(10)] + [{"n": 100, "poison": True}, {"n": 101, "crash": True}])
    with _runner(emulator, function_zip, d.name, failed_visibility_s=1) as runner:
        _wait(
            "the 2 poison records dead-lettered, the queue drained",
            lambda: d.count(d.dlq_url) == 2 and d.count(d.queue_url) == 0,
            runner,
        )
        metrics = runner.metrics()[d.name]
    dead = d.sqs.receive_message(
        QueueUrl=d.dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert sorted(json.loads(m["Body"])["n"] for m in dead) == [100, 101]
    # The crashing body failed its whole batch each time: its batch-mates were redelivered
    # too, and still succeeded. Lost = sent - deleted - dead-lettered.
    assert metrics.deleted == 10
    assert 12 - metrics.deleted - len(dead) == 0
    assert metrics.invoke_errors >= 2


def test_stop_ends_every_container(emulator: Emulator, deploy: Deploy, function_zip: Path) -> None:
    d = deploy(max_concurrency=2)
    d.send([{"n": i, "sleep": 0.2} for i in range(4)])
    runner = _runner(emulator, function_zip, d.name).start()
    _wait("2 invocations", lambda: len(d.invocations()) >= 2, runner)
    containers = [c for m in runner.mappings for c in m._all]
    runner.stop()
    assert containers and all(c.proc.poll() is not None for c in containers)
    assert all(not m._poller.is_alive() for m in runner.mappings)


def _visible(d: Deployment) -> int:
    attributes = d.sqs.get_queue_attributes(
        QueueUrl=d.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_prewarm_starts_every_container_first(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    d = deploy(max_concurrency=3)
    with _runner(emulator, function_zip, d.name, prewarm=True) as runner:
        [mapping] = runner.mappings
        warm = {c.proc.pid for c in mapping._all}
        assert len(warm) == 3 and all(c.proc.poll() is None for c in mapping._all)
        d.send([{"n": i, "sleep": 0.3} for i in range(6)])
        _wait("6 invocations", lambda: len(d.invocations()) == 6, runner)
    assert {call["pid"] for call in d.invocations()} <= warm  # no container started later


def test_a_batch_held_while_slots_are_busy_is_given_back_at_stop(
    emulator: Emulator, deploy: Deploy, function_zip: Path
) -> None:
    """Both slots busy, one more batch received and waiting for a slot: stopping returns it to
    the queue at once instead of leaving it invisible for the visibility timeout (30 s)."""
    d = deploy(max_concurrency=2, visibility=30)
    d.send([{"n": i, "sleep": 2} for i in range(4)])
    runner = _runner(emulator, function_zip, d.name).start()
    try:
        _wait(
            "both slots busy and one batch held",
            lambda: _visible(d) == 1 and runner.metrics()[d.name].in_flight == 2,
            runner,
        )
    finally:
        runner.stop()  # lets the two running invocations finish, then their records are deleted
    assert len(d.invocations()) == 2
    assert _visible(d) == 2  # the one never received, and the held one given back


def test_event_shape(emulator: Emulator, deploy: Deploy) -> None:
    d = deploy()
    [settings] = discover(emulator.endpoint, d.name)
    d.sqs.send_message(
        QueueUrl=d.queue_url,
        MessageBody="{}",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    [message] = d.sqs.receive_message(
        QueueUrl=d.queue_url, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    from stepqueue.local.runner import MappingRunner

    mapping = MappingRunner(settings, emulator.endpoint, Path("."), io.StringIO(), None, None)  # type: ignore[arg-type]
    record = mapping._record(message)
    assert set(record) >= {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["k"]["stringValue"] == "v"
    assert record["eventSource"] == "aws:sqs"
