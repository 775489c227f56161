"""The admission controls in the generator: what the acquire sends and what the gatekeeper is
told (docs/design.md §4b). Bad specs are in bad_specs/admission_*.yaml and
shared_semaphore_rules/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from generator.api import load_and_validate, render
from tests.unit.generator.helpers import LAMBDA_SRC, write_spec

BODY = "StartAt: A\nStates:\n  A: {Type: Pass, End: true}\n"


def _generate(tmp_path: Path, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    workflows, diagnostics = load_and_validate([write_spec(tmp_path, text)], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diagnostics]
    files = render(workflows)
    (asl_name,) = [n for n in files if n.startswith("asl/")]
    return json.loads(files[asl_name]), json.loads(files["workflows.tfvars.json"])


def _acquire(asl: dict[str, Any]) -> dict[str, Any]:
    (state,) = [s for n, s in asl["States"].items() if n.endswith("Acquire")]
    return state


def test_the_acquire_sends_the_key_and_the_priority_from_the_input(tmp_path: Path) -> None:
    asl, tfvars = _generate(
        tmp_path,
        "name: api\nconcurrency:\n  limit: 9\n  per_key: {key: $.tenant, limit: 3}\n"
        "  rate: {per_second: 0.1}\n  priority: $.urgency\n" + BODY,
    )
    body = _acquire(asl)["Parameters"]["MessageBody"]
    assert body["key.$"] == "$.tenant" and body["priority.$"] == "$.urgency"
    assert tfvars["semaphores"]["api"] == {
        "limit": 9,
        "mode": "waiting_room",
        "admission": {"key_limit": 3, "rate": 0.1},
    }


def test_without_admission_controls_nothing_changes(tmp_path: Path) -> None:
    asl, tfvars = _generate(tmp_path, "name: plain\nconcurrency: {limit: 4}\n" + BODY)
    body = _acquire(asl)["Parameters"]["MessageBody"]
    assert "key.$" not in body and "priority.$" not in body
    assert tfvars["semaphores"]["plain"] == {"limit": 4, "mode": "waiting_room"}


def test_a_per_key_limit_alone_leaves_the_global_limit_at_its_maximum(tmp_path: Path) -> None:
    _, tfvars = _generate(
        tmp_path, "name: keyed\nconcurrency:\n  per_key: {key: $.tenant, limit: 2}\n" + BODY
    )
    assert tfvars["semaphores"]["keyed"]["limit"] == 100_000
    assert tfvars["semaphores"]["keyed"]["admission"] == {"key_limit": 2}


def test_a_jsonata_workflow_sends_expressions(tmp_path: Path) -> None:
    asl, _ = _generate(
        tmp_path,
        "name: jn\nQueryLanguage: JSONata\nconcurrency:\n  limit: 5\n"
        "  per_key: {key: '{% $states.input.account.id %}', limit: 1}\n"
        "  priority: '{% $states.input.vip ? 9 : 0 %}'\n"
        "StartAt: A\nStates:\n  A: {Type: Pass, End: true}\n",
    )
    body = _acquire(asl)["Arguments"]["MessageBody"]
    assert body["key"] == "{% $states.input.account.id %}"
    assert body["priority"] == "{% $states.input.vip ? 9 : 0 %}"
