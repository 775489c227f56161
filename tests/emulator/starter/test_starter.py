"""The starter against moto: a submission starts exactly once however often it arrives,
throttling and the open-execution quota put records back with a doubling visibility backoff
(never lost), and what can never start (a name already used for another input among it) lands
in the DLQ with its reason, deleted from the start queue by the starter itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from stepqueue_aws import inject_client
from stepqueue_starter import entry
from stepqueue_starter.dead_letter import CAUSE, ERROR, RECEIVES, SOURCE_MESSAGE, WORKFLOW
from stepqueue_starter.outcome import NAME_TAKEN, classify, execution_arn

from tests.support.waiting import wait_until_ended

from .conftest import Deliver, StartQueue, body, client_error, record


def _metrics(out: str) -> dict[str, float]:
    """The sum of the starter's EMF lines printed so far."""
    totals: dict[str, float] = {}
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        data = json.loads(line)
        for metric in data["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            totals[metric["Name"]] = totals.get(metric["Name"], 0) + data[metric["Name"]]
    return totals


def _outcomes(metrics: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] for k in ("Started", "DuplicateSubmissions", "DeadLettered")}


def _drain(deliver: Deliver, start_queue: StartQueue, rounds: int = 10) -> None:
    for _ in range(rounds):
        if start_queue.depth() == 0:
            return
        deliver()
    assert start_queue.depth() == 0


def test_a_submission_made_several_times_starts_once(
    start_queue: StartQueue, deliver: Deliver, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(3):
        start_queue.send(body("order-1", {"id": 1}))
    start_queue.send(body("order-2", {"id": 2}))
    _drain(deliver, start_queue)

    assert sorted(e["name"] for e in start_queue.executions("orders")) == ["order-1", "order-2"]
    metrics = _metrics(capsys.readouterr().out)
    assert _outcomes(metrics) == {"Started": 2, "DuplicateSubmissions": 2, "DeadLettered": 0}
    assert start_queue.depth(start_queue.dlq_url) == 0


def test_the_same_name_and_input_after_the_execution_ended_is_a_duplicate(
    start_queue: StartQueue, deliver: Deliver, capsys: pytest.CaptureFixture[str]
) -> None:
    # Started by another caller with other spacing and key order: the same JSON value.
    arn = start_queue.sfn.start_execution(
        stateMachineArn=start_queue.machines["orders"], name="order-1", input='{ "b": [1], "a": 2 }'
    )["executionArn"]
    # No longer RUNNING: Step Functions answers ExecutionAlreadyExists.
    wait_until_ended(start_queue.sfn, arn, timeout=10)
    start_queue.send(body("order-1", {"a": 2, "b": [1]}))
    assert deliver() == {"batchItemFailures": []}

    assert [e["executionArn"] for e in start_queue.executions("orders")] == [arn]
    metrics = _metrics(capsys.readouterr().out)
    assert _outcomes(metrics) == {"Started": 0, "DuplicateSubmissions": 1, "DeadLettered": 0}
    assert start_queue.depth() == 0
    assert start_queue.depth(start_queue.dlq_url) == 0


def test_a_name_reused_for_another_input_lands_in_the_dlq_with_the_reason(
    start_queue: StartQueue,
    deliver: Deliver,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    start_queue.send(body("order-1", {"id": 1}))
    deliver()
    start_queue.send(body("order-1", {"id": 2}))
    assert deliver() == {"batchItemFailures": []}

    [execution] = start_queue.executions("orders")
    described = start_queue.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"]) == {"id": 1}  # the first one, untouched
    [dead] = _dead_letters(start_queue)
    assert json.loads(dead["Body"])["input"] == {"id": 2}
    attributes = _attributes(dead)
    assert attributes[ERROR] == NAME_TAKEN
    assert execution["executionArn"] in attributes[CAUSE]
    assert "already used for another input" in attributes[CAUSE]
    assert "--name" in attributes[CAUSE]
    assert start_queue.depth() == 0
    metrics = _metrics(capsys.readouterr().out)
    assert _outcomes(metrics) == {"Started": 1, "DuplicateSubmissions": 0, "DeadLettered": 1}
    [logged] = [r for r in caplog.records if r.getMessage() == "moved to the DLQ"]
    assert logged.levelname == "ERROR"
    assert (logged.__dict__["error_code"], logged.__dict__["workflow"]) == (NAME_TAKEN, "orders")


class TakenName:
    """Step Functions whose every StartExecution answers ExecutionAlreadyExists, and whose
    DescribeExecution fails with the given error."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.described: list[str] = []

    def start_execution(self, **kwargs: Any) -> Any:
        raise client_error("ExecutionAlreadyExists", "StartExecution")

    def describe_execution(self, executionArn: str) -> Any:
        self.described.append(executionArn)
        raise self.error


@pytest.mark.parametrize(
    ("error", "failed", "metric"),
    [
        (client_error("ThrottlingException", "DescribeExecution"), 1, "StartRetries"),
        (client_error("InternalFailure", "DescribeExecution", status=500), 1, "StartRetries"),
        (ReadTimeoutError(endpoint_url="https://states"), 1, "StartRetries"),
        # Its history expired between the two calls: nothing to compare with.
        (client_error("ExecutionDoesNotExist", "DescribeExecution"), 0, "DuplicateSubmissions"),
        # No permission to read it: said loudly rather than guessed.
        (client_error("AccessDeniedException", "DescribeExecution"), 0, "DeadLettered"),
    ],
    ids=["throttled", "5xx", "timeout", "expired", "denied"],
)
def test_a_failed_describe_is_retried_taken_for_a_duplicate_or_dead_lettered(
    start_queue: StartQueue,
    deliver: Deliver,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
    failed: int,
    metric: str,
) -> None:
    sfn = TakenName(error)
    inject_client(entry._clients, "stepfunctions", sfn)
    start_queue.send(body("order-1"))
    assert len(deliver()["batchItemFailures"]) == failed
    machine = start_queue.machines["orders"]
    assert sfn.described == [machine.replace(":stateMachine:", ":execution:") + ":order-1"]
    assert _metrics(capsys.readouterr().out)[metric] == 1
    assert start_queue.depth(start_queue.dlq_url) == (metric == "DeadLettered")


class RunningReplies:
    """Step Functions answering StartExecution with the RUNNING execution of that name, started
    after the records were sent: what a repeat of name and input gets while it runs."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC) + timedelta(seconds=1)

    def start_execution(self, **kwargs: Any) -> Any:
        return {
            "executionArn": f"arn:aws:states:x:1:execution:m:{kwargs['name']}",
            "startDate": self.start,
        }


def test_a_repeat_within_one_batch_of_a_running_execution_counts_as_a_duplicate(
    start_queue: StartQueue, deliver: Deliver, capsys: pytest.CaptureFixture[str]
) -> None:
    inject_client(entry._clients, "stepfunctions", RunningReplies())
    for _ in range(2):
        start_queue.send(body("order-1", {"id": 1}))
    start_queue.send(body("order-2", {"id": 2}))
    deliver()  # one batch: the three records together
    assert start_queue.depth() == 0
    metrics = _metrics(capsys.readouterr().out)
    assert (metrics["Started"], metrics["DuplicateSubmissions"]) == (2, 1)


@pytest.mark.parametrize(
    ("machine", "execution"),
    [
        ("arn:aws:states:eu-west-1:1:stateMachine:sm", "arn:aws:states:eu-west-1:1:execution:sm:n"),
        (
            "arn:aws:states:eu-west-1:1:stateMachine:sm:3",
            "arn:aws:states:eu-west-1:1:execution:sm:n",
        ),
        (
            "arn:aws-us-gov:states:us-gov-west-1:1:stateMachine:sm:prod",
            "arn:aws-us-gov:states:us-gov-west-1:1:execution:sm:n",
        ),
    ],
    ids=["plain", "version", "alias"],
)
def test_the_execution_arn_is_built_from_the_state_machine_arn(
    machine: str, execution: str
) -> None:
    assert execution_arn(machine, "n") == execution


class FlakySfn:
    """Step Functions that answers the first calls with the given errors, then moto."""

    def __init__(self, real: Any, errors: list[Exception]) -> None:
        self.real, self.errors, self.calls = real, list(errors), 0

    def start_execution(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.real.start_execution(**kwargs)


class RecordingSqs:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.visibility: list[int] = []

    def change_message_visibility_batch(self, **kwargs: Any) -> Any:
        self.visibility += [e["VisibilityTimeout"] for e in kwargs["Entries"]]
        return self.real.change_message_visibility_batch(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_throttling_and_the_open_execution_quota_are_retried_with_backoff_and_not_lost(
    start_queue: StartQueue, deliver: Deliver
) -> None:
    flaky = FlakySfn(
        start_queue.sfn,
        [
            client_error("ThrottlingException", "StartExecution"),
            client_error("ExecutionLimitExceeded", "StartExecution"),
        ],
    )
    sqs = RecordingSqs(start_queue.sqs)
    inject_client(entry._clients, "stepfunctions", flaky)
    inject_client(entry._clients, "sqs", sqs)
    start_queue.send(body("burst-1"))

    first = deliver()
    assert len(first["batchItemFailures"]) == 1
    assert sqs.visibility == [1]  # receive 1: back after 1 s, not the 30 s visibility timeout
    assert start_queue.receive() == []  # hidden meanwhile
    second = deliver()  # back within about a second
    assert len(second["batchItemFailures"]) == 1
    assert sqs.visibility == [1, 2]  # doubled, at the 2 s cap set in the environment
    assert deliver()["batchItemFailures"] == []
    assert flaky.calls == 3
    assert [e["name"] for e in start_queue.executions("orders")] == ["burst-1"]
    assert start_queue.depth() == 0
    assert start_queue.depth(start_queue.dlq_url) == 0


def _dead_letters(start_queue: StartQueue) -> list[dict[str, Any]]:
    messages = start_queue.receive(start_queue.dlq_url, wait_s=1)
    return messages


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}


def test_a_permanent_error_lands_in_the_dlq_with_the_reason_and_leaves_the_queue(
    start_queue: StartQueue,
) -> None:
    # The workflow is configured but its state machine does not exist.
    start_queue.send(body("never", {"x": 1}, workflow="gone"))
    [message] = start_queue.receive(wait_s=1)
    # No mapping delete here: the starter deletes the record itself once the DLQ has it.
    reply = entry.handler({"Records": [record(message)]}, None)
    assert reply == {"batchItemFailures": []}
    assert start_queue.depth() == 0
    [dead] = _dead_letters(start_queue)
    assert dead["Body"] == message["Body"]  # unchanged: a redrive to the start queue works
    attributes = _attributes(dead)
    assert attributes[ERROR] == "StateMachineDoesNotExist"
    assert "gone" in attributes[WORKFLOW]
    assert attributes[RECEIVES] == "1"
    assert attributes[SOURCE_MESSAGE] == message["MessageId"]
    assert attributes[CAUSE]


@pytest.mark.parametrize(
    ("raw", "code", "why"),
    [
        ("not json", "Stepqueue.MalformedBody", "not JSON"),
        ("[1, 2]", "Stepqueue.MalformedBody", "not a JSON object"),
        (json.dumps({**body("a"), "extra": 1}), "Stepqueue.MalformedBody", "unknown field"),
        (json.dumps(body("has space")), "Stepqueue.MalformedBody", "not an execution name"),
        (json.dumps(body("x" * 81)), "Stepqueue.MalformedBody", "not an execution name"),
        (json.dumps({"name": "a", "input": {}}), "Stepqueue.MalformedBody", "workflow"),
        ('{"workflow": "orders", "name": "a", "input": NaN}', "Stepqueue.MalformedBody", "NaN"),
        ("[" * 300 + "]" * 300, "Stepqueue.MalformedBody", "deeper"),
        (json.dumps(body("a", workflow="payroll")), "Stepqueue.UnknownWorkflow", "payroll"),
    ],
    ids=["text", "array", "extra", "space", "long", "no-workflow", "nan", "deep", "unknown"],
)
def test_a_malformed_body_lands_in_the_dlq_with_the_reason(
    start_queue: StartQueue, deliver: Deliver, raw: str, code: str, why: str
) -> None:
    start_queue.send(raw)
    assert deliver() == {"batchItemFailures": []}
    [dead] = _dead_letters(start_queue)
    attributes = _attributes(dead)
    assert attributes[ERROR] == code
    assert why in attributes[CAUSE]
    assert start_queue.executions("orders") == []


def test_a_start_failing_until_its_last_attempt_goes_to_the_dlq_with_its_reason(
    start_queue: StartQueue, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MAX_RECEIVE_COUNT 5: the starter tries 4 receives and keeps the 5th in reserve.
    flaky = FlakySfn(start_queue.sfn, [client_error("ThrottlingException", "StartExecution")])
    inject_client(entry._clients, "stepfunctions", flaky)
    start_queue.send(body("late"))
    [message] = start_queue.receive(wait_s=1)
    event = record(message)
    event["attributes"]["ApproximateReceiveCount"] = "4"
    assert entry.handler({"Records": [event]}, None) == {"batchItemFailures": []}
    [dead] = _dead_letters(start_queue)
    assert _attributes(dead)[ERROR] == "ThrottlingException"
    assert _attributes(dead)[RECEIVES] == "4"
    assert start_queue.executions("orders") == []


class Deadline:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_records_the_pace_leaves_no_time_for_go_back_unstarted(
    start_queue: StartQueue, deliver: Deliver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STARTS_PER_SECOND", "1")  # one token: the second record must wait 1 s
    start_queue.send(body("first"))
    start_queue.send(body("second"))
    # 15.5 s left, the margin is 15 s: time for the first, not for waiting a second.
    reply = deliver(Deadline(15_500))
    assert len(reply["batchItemFailures"]) == 1
    assert len(start_queue.executions("orders")) == 1


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("ThrottlingException", "StartExecution"), "retry"),
        (client_error("ExecutionLimitExceeded", "StartExecution"), "retry"),
        (client_error("InternalFailure", "StartExecution", status=500), "retry"),
        (client_error("Whatever", "StartExecution", status=503), "retry"),
        (ReadTimeoutError(endpoint_url="https://states"), "retry"),
        (client_error("ExecutionAlreadyExists", "StartExecution"), "duplicate"),
        (client_error("InvalidExecutionInput", "StartExecution"), "dead"),
        (client_error("InvalidName", "StartExecution"), "dead"),
        (client_error("StateMachineDeleting", "StartExecution"), "dead"),
        (client_error("AccessDeniedException", "StartExecution"), "dead"),
    ],
)
def test_errors_are_classified(error: Exception, kind: str) -> None:
    assert classify(error).kind == kind


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STATE_MACHINE_ARNS", "[]"),
        ("STATE_MACHINE_ARNS", '{"orders": "not an arn"}'),
        ("STARTS_PER_SECOND", "0"),
        ("STARTS_PER_SECOND", "fast"),
        ("START_DLQ_URL", ""),
    ],
)
def test_a_wrong_environment_is_a_deployment_error(
    start_queue: StartQueue, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    start_queue.send(body("x"))
    with pytest.raises(entry.SettingsError):
        entry.handler({"Records": []}, None)
