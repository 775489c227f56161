"""Escaping of user text and the Python twin of templatefile()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import render_definition
from generator.api import load_and_validate, render
from tests.unit.generator.helpers import GOLDEN, LAMBDA_SRC, write_spec

SPEC = """
name: esc
concurrency: {limit: 2}
workers:
  w: {handler: examples.common.echo}
StartAt: "Say ${hi}"
States:
  "Say ${hi}":
    Type: Pass
    Result: {"${literal}": "keep ${this} and %{ if x } and $${already} and 100%"}
    Next: Work
  Work:
    Type: Task
    Worker: w
    Comment: "cost: $5 {not a placeholder}"
    End: true
"""


def _template(tmp_path: Path) -> str:
    workflows, diags = load_and_validate([write_spec(tmp_path, SPEC)], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diags]
    return render(workflows)["asl/esc.asl.json"]


def test_user_text_is_escaped_in_the_template(tmp_path: Path) -> None:
    text = _template(tmp_path)
    assert "$${hi}" in text and "$${literal}" in text and "%%{ if x }" in text
    assert "$$${already}" in text
    assert "${queue_url.w}" in text and "${gatekeeper_queue_url}" in text
    assert "${arrivals_queue_url}" in text
    json.loads(text)  # still valid JSON


def test_round_trip_restores_the_user_text(tmp_path: Path) -> None:
    rendered = render_definition(
        _template(tmp_path),
        {"w": "https://sqs/q-w"},
        gatekeeper_queue_url="https://sqs/room",
        arrivals_queue_url="https://sqs/arrivals",
    )
    asl = json.loads(rendered)
    assert asl["States"]["Say ${hi}"]["Result"] == {
        "${literal}": "keep ${this} and %{ if x } and $${already} and 100%"
    }
    assert asl["States"]["Work"]["Comment"] == "cost: $5 {not a placeholder}"
    assert asl["States"]["Work"]["Parameters"]["QueueUrl"] == "https://sqs/q-w"
    assert asl["States"]["StepQueue:Acquire"]["Parameters"]["QueueUrl"] == "https://sqs/arrivals"
    releases = [s for n, s in asl["States"].items() if n.startswith("StepQueue:Release")]
    assert releases and all(
        s["Parameters"]["QueueUrl"] == "https://sqs/room" for s in releases if "Parameters" in s
    )
    assert asl["States"]["StepQueue:Acquire"]["Next"] == "Say ${hi}"


def test_every_golden_template_renders_to_valid_json() -> None:
    for path in (GOLDEN / "asl").glob("*.json"):
        template = path.read_text(encoding="utf-8")
        workers = {
            w
            for w in json.loads((GOLDEN / "workflows.tfvars.json").read_text())["workflows"][
                path.name.split(".")[0]
            ]["workers"]
        }
        rendered = render_definition(template, {w: f"https://q/{w}" for w in workers}, "t")
        assert "${" not in rendered
        json.loads(rendered)


def test_errors() -> None:
    with pytest.raises(KeyError):
        render_definition('"${queue_url.nope}"', {}, "t")
    with pytest.raises(KeyError):
        render_definition('"${other}"', {}, "t")
    # Only the retired polling acquire named the table; Terraform no longer passes it.
    with pytest.raises(KeyError):
        render_definition('"${semaphore_table}"', {}, "t")
    with pytest.raises(ValueError):
        render_definition('"${semaphore_table"', {}, "t")
    with pytest.raises(ValueError):
        render_definition('"%{ if x }"', {}, "t")
    assert render_definition("$ % $x %x", {}, "t") == "$ % $x %x"
