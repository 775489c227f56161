"""Turns a workflow model into the ASL template: escape user text, expand `Worker:` tasks
(recursively, inside Map and Parallel too), then wrap the body in the semaphore if any."""

from __future__ import annotations

from typing import Any

from generator.limits import TASK_TIMEOUT_DEFAULT
from generator.model import Workflow
from generator.render import Renderer
from generator.semaphore import wrap

# User keys a worker task keeps as they are; everything else is generated.
_KEPT = (
    "Comment",
    "InputPath",
    "OutputPath",
    "ResultSelector",
    "ResultPath",
    "Catch",
    "Next",
    "End",
    "HeartbeatSeconds",
    "Credentials",
    "Assign",
)


def queue_url_placeholder(worker: str) -> str:
    return "${queue_url." + worker + "}"


def escape(value: Any) -> Any:
    """Make user text survive templatefile(): `${` -> `$${` and `%{` -> `%%{`, keys too."""
    if isinstance(value, str):
        if "{" in value:
            return value.replace("${", "$${").replace("%{", "%%{")
        return value
    if isinstance(value, dict):
        return {escape(k): escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape(v) for v in value]
    return value


def expand(workflow: Workflow, renderer: Renderer) -> dict[str, Any]:
    definition: dict[str, Any] = escape(workflow.definition)
    definition["States"] = _scope(definition["States"], workflow, renderer)
    if workflow.concurrency is not None:
        definition = wrap(definition, workflow.concurrency, renderer)
    return definition


def _scope(states: dict[str, Any], workflow: Workflow, renderer: Renderer) -> dict[str, Any]:
    return {name: _state(state, workflow, renderer) for name, state in states.items()}


def _state(state: dict[str, Any], workflow: Workflow, renderer: Renderer) -> dict[str, Any]:
    kind = state["Type"]
    if kind == "Parallel":
        state["Branches"] = [
            {**b, "States": _scope(b["States"], workflow, renderer)} for b in state["Branches"]
        ]
    elif kind == "Map":
        field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        body = state[field]
        state[field] = {**body, "States": _scope(body["States"], workflow, renderer)}
    elif kind == "Task" and "Worker" in state:
        return _worker_task(state, workflow, renderer)
    return state


def _worker_task(state: dict[str, Any], workflow: Workflow, renderer: Renderer) -> dict[str, Any]:
    worker = state["Worker"]
    has_params = "Parameters" in state
    task: dict[str, Any] = renderer.fragment(
        "worker_task.json.j2",
        queue_url=queue_url_placeholder(worker),
        input_key="input" if has_params else "input.$",
        input_value=state["Parameters"] if has_params else "$",
        workflow=workflow.name,
        worker=worker,
        timeout_seconds=state.get("TimeoutSeconds", TASK_TIMEOUT_DEFAULT),
    )
    if "HeartbeatSeconds" in state:
        # The runtime heartbeats well within this; contracts.md: present only when set.
        task["Parameters"]["MessageBody"]["context"]["heartbeatSeconds"] = state["HeartbeatSeconds"]
    task.update({k: state[k] for k in _KEPT if k in state})
    task["Retry"] = _with_sqs_retry(state.get("Retry", []), renderer.fragment("sqs_retry.json.j2"))
    return task


def _with_sqs_retry(user: list[dict[str, Any]], sqs: dict[str, Any]) -> list[dict[str, Any]]:
    """User retriers first, then ours; but States.ALL must stay last, so ours goes before it."""
    if user and "States.ALL" in user[-1].get("ErrorEquals", []):
        return [*user[:-1], sqs, user[-1]]
    return [*user, sqs]
