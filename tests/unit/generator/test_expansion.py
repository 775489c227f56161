"""Worker-task expansion and the semaphore wrapping, checked on the generated ASL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from generator.vocabulary import (
    ACQUIRE,
    ACQUIRE_TIMEOUT,
    NO_MATCH,
    RELEASE,
    RELEASE_BEFORE,
    RELEASE_NO_MATCH,
    RELEASE_ON_ERROR,
    RERAISE,
)

Expand = Callable[[str], dict[str, Any]]
SQS = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"

LINEAR = """
name: lin
concurrency: {limit: 3}
workers:
  w: {handler: examples.common.echo}
StartAt: A
States:
  A: {Type: Task, Worker: w, Next: B}
  B: {Type: Pass, Next: Done}
  Done: {Type: Succeed}
"""


def test_worker_task_matches_the_contract(expand_spec: Expand) -> None:
    asl = expand_spec(
        """
        name: wt
        workers:
          enrich: {handler: examples.orders.enrich}
        StartAt: Enrich
        States:
          Enrich:
            Type: Task
            Worker: enrich
            HeartbeatSeconds: 300
            ResultPath: $.enriched
            Retry:
              - ErrorEquals: [States.Timeout]
                MaxAttempts: 1
            Catch:
              - ErrorEquals: [States.ALL]
                ResultPath: $.errorInfo
                Next: Failed
            Next: Done
          Failed: {Type: Fail, Error: X}
          Done: {Type: Succeed}
        """
    )
    task = asl["States"]["Enrich"]
    assert task["Resource"] == SQS
    assert task["Parameters"] == {
        "QueueUrl": "${queue_url.enrich}",
        "MessageBody": {
            "input.$": "$",
            "taskToken.$": "$$.Task.Token",
            "context": {
                "workflow": "wt",
                "worker": "enrich",
                "state.$": "$$.State.Name",
                "execution.$": "$$.Execution.Id",
                "heartbeatSeconds": 300,
            },
        },
    }
    assert task["TimeoutSeconds"] == 1800 and task["HeartbeatSeconds"] == 300
    assert task["Retry"][0] == {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}
    assert task["Retry"][1]["ErrorEquals"] == ["SQS.SdkClientException", "SQS.AmazonSQSException"]
    assert task["Retry"][1]["JitterStrategy"] == "FULL"
    assert task["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.errorInfo", "Next": "Failed"}
    ]
    assert task["ResultPath"] == "$.enriched" and task["Next"] == "Done"
    assert "Worker" not in task


def test_user_parameters_become_the_input_verbatim(expand_spec: Expand) -> None:
    asl = expand_spec(
        """
        name: wt
        workers:
          w: {handler: examples.common.echo}
        StartAt: A
        States:
          A:
            Type: Task
            Worker: w
            Parameters: {id.$: $.order_id, fixed: 1}
            Retry:
              - ErrorEquals: [States.ALL]
            End: true
        """
    )
    body = asl["States"]["A"]["Parameters"]["MessageBody"]
    assert body["input"] == {"id.$": "$.order_id", "fixed": 1} and "input.$" not in body
    assert "heartbeatSeconds" not in body["context"]
    # States.ALL must stay the last retrier, so the SQS retrier goes before it.
    assert [r["ErrorEquals"][0] for r in asl["States"]["A"]["Retry"]] == [
        "SQS.SdkClientException",
        "States.ALL",
    ]


def test_worker_tasks_inside_map_and_parallel(expand_spec: Expand) -> None:
    asl = expand_spec(
        """
        name: nested
        workers:
          w: {handler: examples.common.echo}
        StartAt: M
        States:
          M:
            Type: Map
            MaxConcurrency: 2
            Iterator:
              StartAt: P
              States:
                P:
                  Type: Parallel
                  Branches:
                    - StartAt: X
                      States:
                        X: {Type: Task, Worker: w, End: true}
                  End: true
            End: true
        """
    )
    inner = asl["States"]["M"]["Iterator"]["States"]["P"]["Branches"][0]["States"]["X"]
    assert inner["Resource"] == SQS and inner["Parameters"]["QueueUrl"] == "${queue_url.w}"


def test_no_semaphore_means_no_generated_states(expand_spec: Expand) -> None:
    asl = expand_spec(LINEAR.replace("concurrency: {limit: 3}\n", ""))
    assert asl["StartAt"] == "A" and set(asl["States"]) == {"A", "B", "Done"}


def test_semaphore_adds_two_states_to_the_happy_path(expand_spec: Expand) -> None:
    asl = expand_spec(LINEAR)
    states = asl["States"]
    path = [asl["StartAt"]]
    while "Next" in states[path[-1]]:
        path.append(states[path[-1]]["Next"])
    assert path == [ACQUIRE, "A", "B", RELEASE_BEFORE + "Done", "Done"]


def test_waiting_room_acquire_and_release_match_the_contract(expand_spec: Expand) -> None:
    asl = expand_spec(
        LINEAR.replace("{limit: 3}", "{limit: 3, max_wait_seconds: 86400, mode: waiting_room}")
    )
    acquire = asl["States"][ACQUIRE]
    # Its send outlasts a burst's surplus over the arrivals queue's 300 sends a second, longer
    # than any other SQS send retries.
    [retry] = acquire["Retry"]
    assert retry["ErrorEquals"] == ["SQS.SdkClientException", "SQS.AmazonSQSException"]
    assert retry["MaxAttempts"] == 12 and retry["MaxDelaySeconds"] == 30
    entry = "States.Hash(States.Format('{} {}', $$.Execution.Id, $$.State.EnteredTime), 'SHA-256')"
    assert acquire["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert acquire["Parameters"] == {
        # The semaphore's own arrivals queue: a burst's backlog never hides a release (they go
        # to the control queue) nor another semaphore.
        "QueueUrl": "${arrivals_queue_url}",
        "MessageGroupId": "lin:arrivals",  # recorded in their own group: releases never wait
        "MessageDeduplicationId.$": entry,
        "MessageBody": {
            "op": "acquire",
            "semaphore": "lin",
            "execution.$": "$$.Execution.Id",
            "acquire.$": entry,
            "token.$": "$$.Task.Token",
        },
    }
    # Waiting costs nothing: one Task state, no retry on "full", whatever the wait.
    assert acquire["TimeoutSeconds"] == 86400
    assert acquire["Catch"] == [{"ErrorEquals": ["States.Timeout"], "Next": ACQUIRE_TIMEOUT}]
    assert all("States.Timeout" not in r["ErrorEquals"] for r in acquire["Retry"])
    assert asl["States"][ACQUIRE_TIMEOUT]["Error"] == "Semaphore.Timeout"
    releases = {n: s for n, s in asl["States"].items() if n.startswith("StepQueue:Release")}
    assert releases
    for name, release in releases.items():
        assert release["Resource"] == "arn:aws:states:::sqs:sendMessage"
        assert release["Parameters"]["MessageBody"] == {
            "op": "release",
            "semaphore": "lin",
            "execution.$": "$$.Execution.Id",
        }
        # It never fails the execution: after its retries it carries on where it was going.
        (catch,) = release["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] is None
        assert catch["Next"] == release.get("Next", "StepQueue:ReleaseNotPosted"), name


def test_every_exit_releases(expand_spec: Expand) -> None:
    asl = expand_spec(
        """
        name: exits
        concurrency: {limit: 2}
        workers:
          w: {handler: examples.common.echo}
        StartAt: C
        States:
          C:
            Type: Choice
            Choices:
              - {Variable: $.x, BooleanEquals: true, Next: Bad}
            Default: Work
          Bad: {Type: Fail, Error: My.Error, Cause: because}
          Work:
            Type: Task
            Worker: w
            Catch:
              - {ErrorEquals: [My.Retryable], Next: Bad}
            Next: M
          M:
            Type: Map
            ItemProcessor:
              StartAt: In
              States:
                In: {Type: Task, Worker: w, End: true}
            Next: P
          P:
            Type: Parallel
            Branches:
              - StartAt: Q
                States:
                  Q: {Type: Pass, End: true}
            Catch:
              - {ErrorEquals: [States.ALL], Next: Done}
            Next: NoDefault
          NoDefault:
            Type: Choice
            Choices:
              - {Variable: $.y, IsPresent: true, Next: Last}
          Last: {Type: Pass, End: true}
          Done: {Type: Succeed}
        """
    )
    states = asl["States"]
    # The user's Fail keeps its Error/Cause and is reached only through a release.
    assert states["Bad"] == {"Type": "Fail", "Error": "My.Error", "Cause": "because"}
    assert states["C"]["Choices"][0]["Next"] == RELEASE_BEFORE + "Bad"
    assert states["Work"]["Catch"][0]["Next"] == RELEASE_BEFORE + "Bad"
    # Fallible states get a last Catch States.ALL -> release -> re-raise.
    for name in ("Work", "M"):
        assert states[name]["Catch"][-1] == {
            "ErrorEquals": ["States.ALL"],
            "Next": RELEASE_ON_ERROR,
            "ResultPath": "$",
        }
    # A user States.ALL catcher already covers every error: nothing appended.
    assert states["P"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "Next": RELEASE_BEFORE + "Done"}
    ]
    assert states[RELEASE_ON_ERROR]["Next"] == RERAISE
    assert states[RERAISE] == {
        "Type": "Fail",
        "Comment": states[RERAISE]["Comment"],
        "ErrorPath": "$.Error",
        "CausePath": "$.Cause",
    }
    assert states["Last"]["Next"] == RELEASE and states[RELEASE]["End"] is True
    # A Choice without Default releases before failing with the error AWS would raise.
    assert states["NoDefault"]["Default"] == RELEASE_NO_MATCH
    assert states[RELEASE_NO_MATCH]["Next"] == NO_MATCH
    assert states[NO_MATCH]["Error"] == "States.NoChoiceMatched"
    # Inner scopes are untouched: ending a Map iteration is not ending the execution.
    assert states["M"]["ItemProcessor"]["States"]["In"]["End"] is True
    _assert_no_exit_without_release(asl)


def _assert_no_exit_without_release(asl: dict[str, Any]) -> None:
    """Without the release states, nothing after the acquire can reach an end."""
    states = asl["States"]
    releases = {n for n in states if n.startswith(RELEASE)}
    seen: set[str] = set()
    todo = [states[ACQUIRE]["Next"]]
    while todo:
        name = todo.pop()
        if name in seen or name in releases:
            continue
        seen.add(name)
        state = states[name]
        assert state["Type"] not in ("Succeed", "Fail") and not state.get("End"), name
        todo += [state[k] for k in ("Next", "Default") if k in state]
        todo += [r["Next"] for r in state.get("Choices", []) + state.get("Catch", [])]


def test_example_workflows_never_exit_without_release() -> None:
    from tests.unit.generator.helpers import GOLDEN

    for path in (GOLDEN / "asl").glob("*.json"):
        asl = json.loads(path.read_text(encoding="utf-8"))
        if ACQUIRE in asl["States"]:
            _assert_no_exit_without_release(asl)


def test_worker_task_whose_name_needs_escaping(expand_spec: Expand) -> None:
    asl = expand_spec(
        """
        name: esc
        workers:
          w: {handler: examples.common.echo}
        StartAt: "A${x}"
        States:
          "A${x}": {Type: Task, Worker: w, End: true}
        """
    )
    assert asl["States"]["A$${x}"]["Resource"] == SQS
