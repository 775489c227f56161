"""Mermaid flowchart of the EXPANDED workflow: what Step Functions will actually run,
including the semaphore's acquire/release states, queued tasks and Catch edges."""

from __future__ import annotations

from typing import Any

from generator.expand import expand
from generator.model import Workflow
from generator.render import renderer
from generator.vocabulary import ACQUIRE, NESTING, RELEASE, TERMINAL

_SQS = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
_SQS_SEND = "arn:aws:states:::sqs:sendMessage"
_DYNAMODB = "arn:aws:states:::dynamodb:updateItem"


def _label(text: str) -> str:
    # Mermaid labels are quoted; `#quot;` is its escape for a double quote.
    return text.replace("$${", "${").replace("%%{", "%{").replace('"', "#quot;")


class _Writer:
    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.lines = ["flowchart TD"]
        self.count = 0

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def scope(self, states: dict[str, Any], start: str, indent: str, end_id: str) -> str:
        ids = {name: self.new_id() for name in states}
        for name, state in states.items():
            self.node(ids[name], name, state, indent)
        for name, state in states.items():
            self.edges(ids, ids[name], state, indent, end_id)
        return ids[start]

    def _admission(self) -> str:
        """The semaphore's admission controls, as one line of the Acquire node."""
        c = self.workflow.concurrency
        if c is None:
            return ""
        a = c.admission
        parts = []
        if a.key is not None:
            parts.append(f"{a.key_limit} per {a.key}")
        if a.rate is not None:
            parts.append(f"{a.rate:g}/s (burst {a.burst or 1})")
        if a.priority is not None:
            parts.append(f"priority {a.priority}")
        return ", ".join(parts)

    def node(self, node_id: str, name: str, state: dict[str, Any], indent: str) -> None:
        kind = state["Type"]
        resource = state.get("Resource", "")
        request = state.get("Parameters") or state.get("Arguments") or {}  # JSONPath / JSONata
        if name.startswith((ACQUIRE, RELEASE)) and resource in (_SQS, _SQS_SEND):
            # The waiting room: acquire parks in the gatekeeper's queue, release posts to it.
            sem = request["MessageBody"]["semaphore"]  # the acquire's group is its arrivals'
            verb = "wait in the waiting room of" if name == ACQUIRE else "release"
            text = f"{name}<br/>{verb} semaphore {sem}<br/>queue: gatekeeper (FIFO)"
            if name == ACQUIRE and (rules := self._admission()):
                text += f"<br/>{rules}"
            self.lines.append(f'{indent}{node_id}[/"{_label(text)}"/]')
        elif resource == _SQS:
            context = request["MessageBody"]["context"]
            worker = self.workflow.worker(context["worker"])
            queue = f"{self.workflow.name}-{worker.name}"
            if "MessageGroupId.$" in request or "MessageGroupId" in request:
                queue += " (fair: one message group per tenant)"  # the worker's group_by
            text = f"{name}<br/>queue: {queue}<br/>worker: {worker.name} ({worker.handler})"
            self.lines.append(f'{indent}{node_id}[/"{_label(text)}"/]')
        elif resource == _DYNAMODB and name.startswith((ACQUIRE, RELEASE)):
            sem = request["Key"]["id"]["S"]
            verb = "acquire" if name == ACQUIRE else "release"
            self.lines.append(
                f'{indent}{node_id}[("{_label(f"{name}<br/>{verb} semaphore {sem}")}")]'
            )
        elif kind == "Choice":
            self.lines.append(f'{indent}{node_id}{{"{_label(name)}"}}')
        elif kind in TERMINAL:
            self.lines.append(f'{indent}{node_id}(["{_label(f"{name} ({kind})")}"])')
        elif kind in NESTING:
            self.lines.append(f'{indent}{node_id}[["{_label(self.nested_title(name, state))}"]]')
            self.nested(node_id, name, state, indent)
        else:
            self.lines.append(f'{indent}{node_id}["{_label(f"{name} ({kind})")}"]')

    def nested_title(self, name: str, state: dict[str, Any]) -> str:
        if state["Type"] == "Map" and "MaxConcurrency" in state:
            return f"{name} (Map, max {state['MaxConcurrency']} at once)"
        return f"{name} ({state['Type']})"

    def nested(self, node_id: str, name: str, state: dict[str, Any], indent: str) -> None:
        if state["Type"] == "Map":
            body = state.get("ItemProcessor") or state["Iterator"]
            bodies = [("each item", body)]
        else:
            bodies = [(f"branch {i + 1}", b) for i, b in enumerate(state["Branches"])]
        for title, body in bodies:
            sub = self.new_id()
            self.lines.append(f'{indent}subgraph {sub}["{_label(f"{name}: {title}")}"]')
            done = self.new_id()
            first = self.scope(body["States"], body["StartAt"], indent + "  ", done)
            self.lines.append(f"{indent}  {done}((done))")
            self.lines.append(f"{indent}end")
            self.lines.append(f"{indent}{node_id} --> {first}")

    def edges(
        self, ids: dict[str, str], src: str, state: dict[str, Any], indent: str, end_id: str
    ) -> None:
        if "Next" in state:
            self.lines.append(f"{indent}{src} --> {ids[state['Next']]}")
        if state.get("End") is True or state["Type"] in TERMINAL:
            self.lines.append(f"{indent}{src} --> {end_id}")
        for i, rule in enumerate(state.get("Choices", [])):
            self.lines.append(
                f'{indent}{src} -- "{_label(_rule_text(rule, i))}" --> {ids[rule["Next"]]}'
            )
        if "Default" in state:
            self.lines.append(f'{indent}{src} -- "default" --> {ids[state["Default"]]}')
        for catcher in state.get("Catch", []):
            errors = ", ".join(catcher["ErrorEquals"])
            self.lines.append(
                f'{indent}{src} -. "catch {_label(errors)}" .-> {ids[catcher["Next"]]}'
            )


def _rule_text(rule: dict[str, Any], index: int) -> str:
    variable = rule.get("Variable")
    if "Condition" in rule:  # JSONata: the expression, without its delimiters
        return str(rule["Condition"]).strip().removeprefix("{%").removesuffix("%}").strip()
    for key, value in rule.items():
        if key not in ("Variable", "Next", "Comment", "Assign"):
            if key in ("And", "Or", "Not"):
                return f"rule {index + 1} ({key})"
            return f"{variable} {key} {value}"
    return f"rule {index + 1}"


def diagram(workflow: Workflow) -> str:
    definition = expand(workflow, renderer())
    writer = _Writer(workflow)
    start, end = writer.new_id(), writer.new_id()
    writer.lines.append(f"  {start}((start))")
    first = writer.scope(definition["States"], definition["StartAt"], "  ", end)
    writer.lines.append(f"  {end}((end))")
    writer.lines.append(f"  {start} --> {first}")
    return "\n".join(writer.lines) + "\n"
