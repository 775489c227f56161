"""The request resolver: the acquire/release the bench sends are the generated ASL's, exactly."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from testkit.semaphore_requests import (
    SemaphoreRequests,
    UnsupportedParameters,
    generate_spec_file,
    iso_time,
    lookup_context_path,
    render,
    requests_for_limit,
    resolve_parameters,
    simulated_context,
    update_item_kwargs,
)

ARN = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
START = "2026-11-23T12:00:00.123Z"
TABLE = "stepqueue-semaphores"


@pytest.fixture
def ctx() -> dict[str, Any]:
    return simulated_context(execution_arn=ARN, start_time=START, state_name="S")


@pytest.fixture(scope="module")
def generated() -> tuple[SemaphoreRequests, dict[str, Any]]:
    # The generator CLI on a spec with a concurrency block: the one source of the requests.
    return requests_for_limit(3, table=TABLE, name="reqtest")


def test_context_paths_resolve(ctx: dict[str, Any]) -> None:
    assert lookup_context_path("$$.Execution.Id", ctx) == ARN
    assert lookup_context_path("$$.Execution.StartTime", ctx) == START
    assert lookup_context_path("$$.Execution.Name", ctx) == "run-1"
    assert lookup_context_path("$$.StateMachine.Id", ctx).endswith(":stateMachine:orders")
    assert lookup_context_path("$$.State.Name", ctx) == "S"


@pytest.mark.parametrize(
    "path",
    [
        "$.input",  # an input path: the bench has no state input
        "$",
        "$$",
        "States.Format('{}', $$.Execution.Id)",  # intrinsic function
        "$$.Execution.Missing",
        "$$.Execution.Id.More",  # walks into a string
        "$$.Execution['Id']",  # bracket notation
        "$$.Execution.*",
        "$$..Id",
    ],
)
def test_everything_else_is_refused(path: str, ctx: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameters):
        resolve_parameters({"x.$": path}, ctx)


def test_resolution_at_every_depth_and_in_lists(ctx: dict[str, Any]) -> None:
    params = {
        "a": {"b": [{"c.$": "$$.Execution.Id"}, "plain", 3]},
        "keep": {"S": "literal $ sign"},
        "n": None,
    }
    assert resolve_parameters(params, ctx) == {
        "a": {"b": [{"c": ARN}, "plain", 3]},
        "keep": {"S": "literal $ sign"},
        "n": None,
    }


def test_input_is_not_mutated(ctx: dict[str, Any]) -> None:
    params = {"x": {"y.$": "$$.Execution.Id"}}
    before = copy.deepcopy(params)
    resolve_parameters(params, ctx)
    assert params == before


@pytest.mark.parametrize(
    "params",
    [
        {"k": 1, "k.$": "$$.Execution.Id"},  # both spellings of one key
        {"k.$": 5},  # a .$ key must hold a path string
        {"TableName": "${semaphore_table}"},  # not rendered like Terraform would
    ],
)
def test_malformed_parameters_are_refused(params: dict[str, Any], ctx: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedParameters):
        resolve_parameters(params, ctx)


def test_update_item_kwargs_refuse_unknown_members(ctx: dict[str, Any]) -> None:
    base = {"TableName": TABLE, "Key": {"id": {"S": "x"}}, "UpdateExpression": "REMOVE #a"}
    assert update_item_kwargs(base, ctx) == base
    with pytest.raises(UnsupportedParameters, match="Tablename"):
        update_item_kwargs({**base, "Tablename": TABLE}, ctx)
    with pytest.raises(UnsupportedParameters, match="UpdateExpression"):
        update_item_kwargs({"TableName": TABLE, "Key": {}}, ctx)


def test_iso_time_is_step_functions_format() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(1795435200.5) == "2026-11-23T12:00:00.500Z"


def test_generated_acquire_is_the_contract(generated: tuple[SemaphoreRequests, Any]) -> None:
    requests, definition = generated
    assert definition["StartAt"] == requests.acquire_state
    assert requests.limit == 3
    # The exact request Step Functions sends for this execution (docs/contracts.md).
    assert requests.acquire_kwargs(ARN, START) == {
        "TableName": TABLE,
        "Key": {"id": {"S": "reqtest"}},
        "UpdateExpression": "SET #h.#e = :t",
        "ConditionExpression": "attribute_exists(#h.#e) OR size(#h) < :limit",
        "ExpressionAttributeNames": {"#h": "holders", "#e": ARN},
        "ExpressionAttributeValues": {":t": {"S": START}, ":limit": {"N": "3"}},
    }
    retry_errors = [e for r in requests.acquire_retry for e in r["ErrorEquals"]]
    assert "DynamoDB.ConditionalCheckFailedException" in retry_errors


def test_generated_release_is_the_contract(generated: tuple[SemaphoreRequests, Any]) -> None:
    requests, _ = generated
    assert requests.release_kwargs(ARN, START) == {
        "TableName": TABLE,
        "Key": {"id": {"S": "reqtest"}},
        "UpdateExpression": "REMOVE #h.#e",
        "ExpressionAttributeNames": {"#h": "holders", "#e": ARN},
    }


def test_every_release_state_is_found(generated: tuple[SemaphoreRequests, Any]) -> None:
    requests, definition = generated
    removing = sorted(
        name
        for name, state in definition["States"].items()
        if state.get("Resource") == "arn:aws:states:::dynamodb:updateItem"
        and state["Parameters"]["UpdateExpression"].startswith("REMOVE")
    )
    assert list(requests.release_states) == removing


def test_divergent_releases_are_refused(generated: tuple[SemaphoreRequests, Any]) -> None:
    _, definition = generated
    broken = copy.deepcopy(definition)
    release = next(
        s
        for s in broken["States"].values()
        if "REMOVE" in s.get("Parameters", {}).get("UpdateExpression", "")
    )
    broken["States"]["Other"] = copy.deepcopy(release)
    broken["States"]["Other"]["Parameters"]["Key"] = {"id": {"S": "another"}}
    with pytest.raises(ValueError, match="differ"):
        SemaphoreRequests.from_definition(broken)


def test_a_definition_without_acquire_is_refused() -> None:
    plain = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    with pytest.raises(ValueError, match="concurrency block"):
        SemaphoreRequests.from_definition(plain)


def test_a_workflow_with_workers_yields_the_same_requests(tmp_path: Path) -> None:
    # workflows/burst.yaml in polling mode: a worker Task gets a Catch that releases, so the
    # definition has two release states; they must be the same request, and the one the bench
    # sends.
    source = Path(__file__).resolve().parents[3] / "workflows" / "burst.yaml"
    spec = tmp_path / "burst.yaml"
    spec.write_text(
        source.read_text().replace("\nconcurrency:\n", "\nconcurrency:\n  mode: polling\n")
    )
    definition = render(generate_spec_file(spec), TABLE)
    requests = SemaphoreRequests.from_definition(definition)
    assert len(requests.release_states) >= 2
    assert requests.limit == 10
    assert requests.acquire_kwargs(ARN, START)["Key"] == {"id": {"S": "burst"}}
    assert requests.release_kwargs(ARN, START)["ExpressionAttributeNames"]["#e"] == ARN
