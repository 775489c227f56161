"""Turns a workflow model into the ASL template: escape user text, expand `Worker:` tasks
(recursively, inside Map and Parallel too), then wrap the body in the semaphore if any."""

from __future__ import annotations

from typing import Any

from generator.model import WorkerTask, Workflow
from generator.render import Renderer
from generator.semaphore import wrap
from generator.vocabulary import ERROR_ALL, JSONATA_FORMS
from generator.workers import message_group_id

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
    "Credentials",
    "Assign",
    "Output",  # JSONata
    "QueryLanguage",
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
    # Keyed like the escaped definition, whose state names went through escape() too.
    tasks = {escape(name): task for name, task in workflow.worker_tasks.items()}
    expander = _Expander(workflow.name, tasks, renderer)
    definition["States"] = expander.scope(definition["States"])
    if workflow.concurrency is not None:
        definition = wrap(definition, workflow.concurrency, renderer)
    return definition


class _Expander:
    def __init__(self, workflow: str, tasks: dict[str, WorkerTask], renderer: Renderer) -> None:
        self.workflow = workflow
        self.tasks = tasks
        self.renderer = renderer

    def scope(self, states: dict[str, Any]) -> dict[str, Any]:
        return {name: self.state(name, state) for name, state in states.items()}

    def state(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        kind = state["Type"]
        if kind == "Parallel":
            state["Branches"] = [
                {**b, "States": self.scope(b["States"])} for b in state["Branches"]
            ]
        elif kind == "Map":
            field = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            body = state[field]
            state[field] = {**body, "States": self.scope(body["States"])}
        elif name in self.tasks:
            return self.worker_task(state, self.tasks[name])
        return state

    def worker_task(self, state: dict[str, Any], worker_task: WorkerTask) -> dict[str, Any]:
        # The same message body in both languages (docs/contracts.md): the state's input, or
        # what its Parameters / Arguments make of it, with the token and the context.
        jsonata = worker_task.jsonata
        if jsonata:
            template, body_of = "worker_task_jsonata.json.j2", "Arguments"
            values = {"input_value": state.get("Arguments", JSONATA_FORMS["input"])}
        else:
            has_params = "Parameters" in state
            template, body_of = "worker_task.json.j2", "Parameters"
            values = {
                "input_key": "input" if has_params else "input.$",
                "input_value": state["Parameters"] if has_params else "$",
            }
        # Fair queues: the tenant's hash as the message group (user text: escaped like the rest).
        group_by = worker_task.group_by
        group_id = None if group_by is None else escape(message_group_id(group_by, jsonata))
        task: dict[str, Any] = self.renderer.fragment(
            template,
            queue_url=queue_url_placeholder(worker_task.worker),
            workflow=self.workflow,
            worker=worker_task.worker,
            timeout_seconds=worker_task.timeout_seconds,
            group_id=group_id,
            **values,
        )
        if (heartbeat := worker_task.heartbeat_seconds) is not None:
            # The runtime heartbeats well within this; contracts.md: present only when set.
            task[body_of]["MessageBody"]["context"]["heartbeatSeconds"] = heartbeat
            task["HeartbeatSeconds"] = heartbeat
        task.update({k: state[k] for k in _KEPT if k in state})
        sqs_retry = self.renderer.fragment("sqs_retry.json.j2")
        task["Retry"] = _with_sqs_retry(state.get("Retry", []), sqs_retry)
        return task


def _with_sqs_retry(user: list[dict[str, Any]], sqs: dict[str, Any]) -> list[dict[str, Any]]:
    """User retriers first, then ours; but States.ALL must stay last, so ours goes before it."""
    if user and ERROR_ALL in user[-1].get("ErrorEquals", []):
        return [*user[:-1], sqs, user[-1]]
    return [*user, sqs]
