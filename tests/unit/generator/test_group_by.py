"""`group_by` on a worker (fair queues): what each Task sending to it renders, and the rules.

The rendered MessageGroupId is evaluated here too (the JSONata form with jsonata-rs, the
JSONPath form's text checked by the project's JSONPath checker); the emulator test
(tests/e2e/test_fair_queues.py) shows both forms on a running workflow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import jsonata
import pytest

from generator import intrinsics, render_definition
from generator.api import load_and_validate, render
from generator.asl.jsonata import syntax_error
from generator.workers import message_group_id
from tests.unit.generator.helpers import LAMBDA_SRC, asl_validator, write_spec

JSONPATH_SPEC = """
name: t
workers:
  w: {handler: examples.common.echo, group_by: $.tenant}
  plain: {handler: examples.common.echo}
StartAt: A
States:
  A: {Type: Task, Worker: w, Parameters: {title.$: $.title}, ResultPath: $.a, Next: B}
  B: {Type: Task, Worker: plain, ResultPath: $.b, Next: Each}
  Each:
    Type: Map
    ItemsPath: $.orders
    ItemProcessor:
      StartAt: C
      States:
        C: {Type: Task, Worker: w, End: true}
    End: true
"""

JSONATA_SPEC = """
name: t
QueryLanguage: JSONata
workers:
  w: {handler: examples.common.echo, group_by: "{% $tenant & '${x}' %}"}
StartAt: Keep
States:
  Keep: {Type: Pass, Assign: {tenant: "{% $states.input.tenant %}"}, Next: A}
  A: {Type: Task, Worker: w, Arguments: {title: "{% $states.input.title %}"}, End: true}
"""

# Tenant keys SQS could not take as a MessageGroupId as they are: Unicode (an astral emoji
# too), a number, punctuation SQS does not list, a space, and a long one.
TENANTS: list[Any] = ["Zürich 東京 🚀", 42, 'a b\tc"{}', "ü" * 10000]


def _generate(tmp_path: Path, text: str) -> dict[str, Any]:
    workflows, diags = load_and_validate([write_spec(tmp_path, text)], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diags]
    rendered = render(workflows)
    (tmp_path / "t.asl.json").write_text(rendered["asl/t.asl.json"], encoding="utf-8")
    definition: dict[str, Any] = json.loads(rendered["asl/t.asl.json"])
    return definition


def _errors(tmp_path: Path, text: str) -> list[str]:
    _, diags = load_and_validate([write_spec(tmp_path, text)], lambda_src=LAMBDA_SRC)
    return [f"{d.line}:{d.col}: {d.message} (at {d.path}) — {d.fix}" for d in diags if d.is_error]


def test_jsonpath_tasks_send_the_hash_of_the_tenant(tmp_path: Path) -> None:
    definition = _generate(tmp_path, JSONPATH_SPEC)
    states = definition["States"]
    expected = "States.Hash(States.Format('{}', $.tenant), 'MD5')"
    # The state's own Parameters become the body; the group is read from the state's input.
    assert states["A"]["Parameters"]["MessageGroupId.$"] == expected
    assert states["A"]["Parameters"]["MessageBody"]["input"] == {"title.$": "$.title"}
    assert states["Each"]["ItemProcessor"]["States"]["C"]["Parameters"]["MessageGroupId.$"] == (
        expected
    )
    # A worker without group_by sends no group: its messages are not fair-queued.
    assert "MessageGroupId" not in json.dumps(states["B"])
    assert intrinsics.check_dynamic_value(expected) is None
    result = asl_validator([tmp_path / "t.asl.json"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_jsonata_tasks_send_the_hash_of_the_tenant(tmp_path: Path) -> None:
    definition = _generate(tmp_path, JSONATA_SPEC)
    arguments = definition["States"]["A"]["Arguments"]
    # User text is escaped for templatefile() like the rest of the definition ...
    assert arguments["MessageGroupId"] == "{% $hash($string(($tenant & '$${x}')), 'MD5') %}"
    # ... and comes back as written once Terraform renders it.
    rendered = json.loads(render_definition(json.dumps(definition), {"w": "https://q/w"}, "t"))
    group_id = rendered["States"]["A"]["Arguments"]["MessageGroupId"]
    assert group_id == "{% $hash($string(($tenant & '${x}')), 'MD5') %}"
    assert syntax_error(group_id[2:-2]) is None
    result = asl_validator([tmp_path / "t.asl.json"])
    assert result.returncode == 0, result.stdout + result.stderr


def _evaluate_jsonata(group_id: str, tenant: Any) -> Any:
    # `$hash` is Step Functions' own function: the hex digest of the string, as States.Hash.
    def md5(value: str, algorithm: str) -> str:
        assert algorithm == "MD5"
        return hashlib.md5(value.encode("utf-8")).hexdigest()

    states = json.dumps({"input": {"tenant": tenant}})
    compiled = jsonata.Jsonata(f"($states := {states}; {group_id[2:-2]})")
    compiled.register_function("hash", md5)
    return compiled.evaluate(None)


@pytest.mark.parametrize("tenant", TENANTS, ids=["unicode", "number", "punctuation", "long"])
def test_every_tenant_becomes_a_valid_message_group_id(tenant: Any) -> None:
    group_id = message_group_id("{% $states.input.tenant %}", jsonata=True)
    value = _evaluate_jsonata(group_id, tenant)
    text = tenant if isinstance(tenant, str) else json.dumps(tenant)
    assert value == hashlib.md5(text.encode("utf-8")).hexdigest()
    # SQS: 1..128 characters, alphanumerics and punctuation.
    assert 1 <= len(value) <= 128 and value.isascii() and value.isalnum()


def test_jsonpath_group_by_must_name_one_value_of_the_input(tmp_path: Path) -> None:
    spec = JSONPATH_SPEC.replace("group_by: $.tenant", "group_by: '$$.Execution.Id'")
    [error] = _errors(tmp_path, spec)
    assert error.startswith("3:48: group_by '$$.Execution.Id' is not a JSONPath to one value")
    assert "such as $.tenant" in error


def test_a_jsonata_group_by_reads_the_variables_of_each_state(tmp_path: Path) -> None:
    # $tenant is assigned in the task's scope, so it may be read; $states.result is not set
    # when the message is sent. (tests/generator/bad_specs/group_by_jsonata_variable.yaml: a
    # variable of another scope.)
    spec = """
    name: t
    QueryLanguage: JSONata
    workers:
      w: {handler: examples.common.echo, group_by: "{% $tenant & $states.result %}"}
    StartAt: Keep
    States:
      Keep: {Type: Pass, Assign: {tenant: "{% $states.input.tenant %}"}, Next: A}
      A: {Type: Task, Worker: w, End: true}
    """
    [error] = _errors(tmp_path, spec)
    assert error.startswith(
        "4:62: $states.result is not available in the group_by of worker 'w' "
        "(at workers.w.group_by, read by States.A)"
    )


def test_a_jsonata_group_by_no_jsonata_state_reads_is_still_parsed(tmp_path: Path) -> None:
    spec = """
    name: t
    workers:
      w: {handler: examples.common.echo, group_by: "{% $states.input.( %}"}
    StartAt: A
    States:
      A: {Type: Task, Worker: w, End: true}
    """
    errors = _errors(tmp_path, spec)
    assert len(errors) == 2, errors
    assert "invalid JSONata" in errors[0] and "(at workers.w.group_by)" in errors[0]
    assert "written in JSONata (line 3), but state 'A' uses JSONPath" in errors[1]


def test_a_worker_used_from_both_languages_names_the_other_state(tmp_path: Path) -> None:
    spec = """
    name: t
    workers:
      w: {handler: examples.common.echo, group_by: "{% $states.input.tenant %}"}
    StartAt: A
    States:
      A: {Type: Task, QueryLanguage: JSONata, Worker: w, Next: B}
      B: {Type: Task, Worker: w, End: true}
    """
    [error] = _errors(tmp_path, spec)
    assert error.startswith("7:19: worker 'w' groups its messages by")
    assert "but state 'B' uses JSONPath (at States.B.Worker)" in error
    assert "declare a second worker with the same handler" in error
