"""JSONata: definitions pass through unchanged, the project's expansions are written in the
state's language with the same message bodies, every generated JSONata definition passes
asl-validator, and expression errors are located inside the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator import render_definition
from generator.api import load_and_validate, render
from generator.asl.jsonata import Place, check_references, is_expression
from generator.model import Workflow
from tests.unit.generator.helpers import LAMBDA_SRC, REPO, asl_validator, write_spec

DEFINITIONS = sorted((Path(__file__).parent / "jsonata_definitions").glob("*.json"))


def _spec(tmp: Path, name: str, definition: dict[str, Any], extra: str = "") -> Path:
    # JSON is YAML: the spec is the definition plus `name` (and the project's own keys).
    body = json.dumps({"name": name, **definition}, indent=2)
    return write_spec(
        tmp, extra + body if not extra else body[:-2] + ",\n" + extra + "\n}", f"{name}.yaml"
    )


def _validated(paths: list[Path]) -> list[Workflow]:
    workflows, diagnostics = load_and_validate(paths, lambda_src=LAMBDA_SRC)
    assert workflows is not None and diagnostics == [], [d.format() for d in diagnostics]
    return workflows


def _rendered(workflows: list[Workflow], tmp: Path) -> dict[str, dict[str, Any]]:
    """name -> the definition as Terraform deploys it; the template and the substituted
    definition written to `tmp` for asl-validator."""
    out = {}
    for name, text in render(workflows).items():
        if name.startswith("asl/"):
            wf = name.removeprefix("asl/").removesuffix(".asl.json")
            workers = next(w for w in workflows if w.name == wf).workers
            urls = {w.name: f"https://sqs.us-east-1.amazonaws.com/1/{wf}-{w.name}" for w in workers}
            gatekeeper = "https://sqs.us-east-1.amazonaws.com/1/stepqueue-gatekeeper.fifo"
            arrivals = gatekeeper.replace(".fifo", "-orders-arrivals.fifo")
            final = render_definition(
                text, urls, "stepqueue-semaphores", gatekeeper, arrivals_queue_url=arrivals
            )
            (tmp / f"{wf}.template.json").write_text(text, encoding="utf-8")
            (tmp / f"{wf}.json").write_text(final, encoding="utf-8")
            out[wf] = json.loads(final)
    return out


def test_fixture_set_covers_every_jsonata_field() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in DEFINITIONS)
    for field in (
        '"QueryLanguage": "JSONata"',
        '"Arguments"',
        '"Output"',
        '"Assign"',
        '"Items"',
        '"ItemSelector"',
        '"Condition"',
        '"TimeoutSeconds": "{%',
        '"HeartbeatSeconds": "{%',
        '"MaxConcurrency": "{%',
        '"ToleratedFailurePercentage": "{%',
        '"ToleratedFailureCount": "{%',
        '"Seconds": "{%',
        '"Timestamp": "{%',
        '"Error": "{%',
        '"Cause": "{%',
        "$states.errorOutput",
        "$states.result",
        "$states.context",
    ):
        assert field in text, field


def test_definitions_pass_through_unchanged(tmp_path: Path) -> None:
    originals = {p.stem.replace("_", "-"): json.loads(p.read_text()) for p in DEFINITIONS}
    specs = [_spec(tmp_path, name, d) for name, d in originals.items()]
    out = _rendered(_validated(specs), tmp_path)
    assert out == originals
    result = asl_validator(sorted(tmp_path.glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr


def _orders(tmp: Path, jsonata: bool) -> dict[str, Any]:
    name = "jsonata-orders" if jsonata else "orders"
    text = (REPO / "workflows" / f"{name}.yaml").read_text(encoding="utf-8")
    spec = write_spec(tmp, text, f"{name}.yaml")
    return _rendered(_validated([spec]), tmp)[name]


def _body(state: dict[str, Any]) -> dict[str, Any]:
    """The message body's shape: keys without the JSONPath `.$` suffix."""

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return {k.removesuffix(".$"): shape(v) for k, v in value.items()}
        return type(value).__name__ if not isinstance(value, str) else "value"

    request = state.get("Parameters") or state["Arguments"]
    return {k.removesuffix(".$"): shape(v) for k, v in request["MessageBody"].items()}


def test_both_languages_expand_alike(tmp_path: Path) -> None:
    """The same states, transitions, retries and message bodies; the JSONata states carry
    no JSONPath field."""
    path, ata = _orders(tmp_path, False), _orders(tmp_path, True)
    assert ata["StartAt"] == path["StartAt"] == "StepQueue:Acquire"
    assert set(ata["States"]) == set(path["States"])
    for name, state in path["States"].items():
        other = ata["States"][name]
        assert other["Type"] == state["Type"], name
        assert other.get("Next") == state.get("Next"), name
        assert other.get("Retry") == state.get("Retry"), name
        assert [c["Next"] for c in other.get("Catch", [])] == [
            c["Next"] for c in state.get("Catch", [])
        ], name
        assert not {"Parameters", "ResultPath", "ResultSelector", "InputPath"} & set(other), name
        if "MessageBody" in (state.get("Parameters") or {}):
            assert _body(other) == _body(state), name
    enrich = ata["States"]["Enrich"]["Arguments"]["MessageBody"]
    assert enrich["input"] == "{% $states.input %}"
    assert enrich["taskToken"] == "{% $states.context.Task.Token %}"
    assert enrich["context"]["heartbeatSeconds"] == 300
    reraise = ata["States"]["StepQueue:Reraise"]
    assert (reraise["Error"], reraise["Cause"]) == (
        "{% $states.input.Error %}",
        "{% $states.input.Cause %}",
    )
    result = asl_validator(sorted(tmp_path.glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr


MIXED = """
name: mixed
concurrency: {limit: 2}
workers:
  step: {handler: examples.common.echo}
StartAt: Plain
States:
  Plain:
    Type: Task
    Worker: step
    Parameters: {a.$: $.a}
    ResultPath: $.plain
    Next: Fancy
  Fancy:
    Type: Task
    QueryLanguage: JSONata
    Worker: step
    Arguments: {a: "{% $states.input.a %}", fixed: 1}
    Output: "{% $states.result %}"
    End: true
"""


def test_jsonata_state_in_a_jsonpath_workflow(tmp_path: Path) -> None:
    """The JSONata task is expanded in JSONata, keeps its QueryLanguage, and its added
    catch-all is a JSONata catcher; the generated states stay JSONPath like the workflow."""
    states = _rendered(_validated([write_spec(tmp_path, MIXED, "mixed.yaml")]), tmp_path)["mixed"][
        "States"
    ]
    fancy, plain = states["Fancy"], states["Plain"]
    assert fancy["QueryLanguage"] == "JSONata"
    assert fancy["Arguments"]["MessageBody"]["input"] == {"a": "{% $states.input.a %}", "fixed": 1}
    assert fancy["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "Next": "StepQueue:ReleaseOnError",
            "Output": "{% $states.errorOutput %}",
        }
    ]
    assert plain["Parameters"]["MessageBody"]["input"] == {"a.$": "$.a"}
    assert plain["Catch"][0]["ResultPath"] == "$"
    assert (
        "Parameters" in states["StepQueue:Acquire"]
        and "QueryLanguage" not in states["StepQueue:Acquire"]
    )
    result = asl_validator(sorted(tmp_path.glob("*.json")))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("expression", "problems"),
    [
        ("$states.input.a", []),
        ("'$notAVariable' & \"$nor\"", []),  # inside strings
        ("$match($states.input.s, /\\$x+/)", []),  # inside a regex literal
        ("/* $comment */ $states.input", []),
        ("($v := 1; $v + 1)", []),  # a local binding
        ("$map([1], function($item, $i) { $item + $i })", []),  # parameters
        ("$map([1], $string)", []),  # a function passed as a value
        ("$$.a + $.b", []),  # the context value
        ("$known + 1", []),
        ("$unknown + 1", ["variable $unknown is not assigned"]),
        ("$states.result", ["$states.result is not available in Arguments"]),
        ("$states.errorOutput", ["$states.errorOutput is not available in Arguments"]),
        ("$states.inputs", ["$states has no field 'inputs'"]),
        ("$eval('1')", ["$eval is not available"]),
        ("$nope(1)", ["unknown JSONata function $nope"]),
        ("10 / $known", []),  # a division, not a regex
    ],
)
def test_references(expression: str, problems: list[str]) -> None:
    found = [
        p for _, p, _ in check_references(expression, Place("Arguments", frozenset({"known"})))
    ]
    assert len(found) == len(problems), found
    for message, expected in zip(found, problems, strict=True):
        assert message.startswith(expected), message


def test_expression_delimiters() -> None:
    assert is_expression("{% 1 %}") and is_expression("  {% $x %}  ")
    assert not is_expression("{% 1") and not is_expression("100 %}") and not is_expression(1)


@pytest.mark.parametrize(
    ("value_yaml", "line", "col"),
    [
        ('"{% $states.input.total + %}"', 7, 38),  # double-quoted
        ("'{% $states.input.total + %}'", 7, 38),  # single-quoted
        ("|\n      {% $states.input.a\n        + %}", 9, 10),  # a literal block, second line
    ],
)
def test_syntax_error_located_in_the_file(
    tmp_path: Path, value_yaml: str, line: int, col: int
) -> None:
    spec = write_spec(
        tmp_path,
        "name: s\nQueryLanguage: JSONata\nStartAt: A\nStates:\n  A:\n    Type: Pass\n"
        f"    Output: {value_yaml}\n    End: true\n",
    )
    _, diagnostics = load_and_validate([spec], lambda_src=LAMBDA_SRC)
    [error] = diagnostics
    assert "invalid JSONata" in error.message
    assert (error.line, error.col) == (line, col), error.format()
