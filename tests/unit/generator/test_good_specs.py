"""Valid specs using most of ASL: no diagnostics (no false positives), and what we generate
from them passes asl-validator both as a template and after templatefile() substitution."""

from __future__ import annotations

import json
from pathlib import Path

from generator import render_definition
from generator.api import load_and_validate, render
from generator.errors import Severity
from testkit.synthetic_specs import spec_text
from tests.unit.generator.helpers import GOOD_SPECS, HERE, LAMBDA_SRC, asl_validator

# Accepted, as Step Functions accepts it, with a warning per path that ends with whitespace.
TRAILING_WHITESPACE = HERE / "good_specs" / "with_warnings" / "trailing_whitespace.yaml"


def test_good_specs_have_no_diagnostics() -> None:
    workflows, diagnostics = load_and_validate(GOOD_SPECS, lambda_src=LAMBDA_SRC)
    assert workflows is not None and diagnostics == [], [d.format() for d in diagnostics]


def test_generated_asl_passes_asl_validator(tmp_path: Path) -> None:
    bench_spec = tmp_path / "bench.yaml"
    bench_spec.write_text(spec_text(0, 25), encoding="utf-8")
    workflows, diagnostics = load_and_validate([*GOOD_SPECS, bench_spec], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diagnostics]
    files = []
    for name, text in render(workflows).items():
        if not name.startswith("asl/"):
            continue
        template = tmp_path / Path(name).name
        template.write_text(text, encoding="utf-8")
        wf = next(w for w in workflows if name == f"asl/{w.name}.asl.json")
        urls = {
            w.name: f"https://sqs.us-east-1.amazonaws.com/123456789012/{wf.name}-{w.name}"
            for w in wf.workers
        }
        final = tmp_path / f"rendered-{template.name}"
        gatekeeper = "https://sqs.us-east-1.amazonaws.com/123456789012/stepqueue-gatekeeper.fifo"
        arrivals = gatekeeper.replace(".fifo", "-sem-arrivals.fifo")
        rendered = render_definition(
            text, urls, "stepqueue-semaphores", gatekeeper, arrivals_queue_url=arrivals
        )
        final.write_text(rendered, encoding="utf-8")
        files += [template, final]
    result = asl_validator(files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("is valid") == len(files)


def test_user_text_survives_the_round_trip() -> None:
    workflows, _ = load_and_validate(GOOD_SPECS, lambda_src=LAMBDA_SRC)
    assert workflows is not None
    sink = next(w for w in workflows if w.name == "kitchen-sink")
    text = render([sink])["asl/kitchen-sink.asl.json"]
    asl = json.loads(render_definition(text, {"step": "u1", "slow": "u2"}, "t"))
    assert asl["Comment"] == sink.definition["Comment"]
    assert asl["States"]["Init"]["Result"] == sink.definition["States"]["Init"]["Result"]


def test_trailing_whitespace_after_a_path_is_a_warning_not_an_error(tmp_path: Path) -> None:
    workflows, diagnostics = load_and_validate([TRAILING_WHITESPACE], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diagnostics]
    assert {d.severity for d in diagnostics} == {Severity.WARNING}
    assert [d.path for d in diagnostics] == [
        "States.Start.InputPath",
        "States.Start.Parameters.name.$",
        "States.Start.ResultPath",
        "States.Route.Choices[0].Variable",
        "States.Failed.ErrorPath",
    ]
    assert all("ends with whitespace" in d.message for d in diagnostics)
    # The definition keeps the whitespace as written, and asl-validator accepts it too.
    text = render(workflows)["asl/trailing-whitespace.asl.json"]
    assert json.loads(text)["States"]["Start"]["Parameters"]["name.$"] == "$$.Execution.Name "
    asl = tmp_path / "trailing-whitespace.asl.json"
    asl.write_text(text, encoding="utf-8")
    result = asl_validator([asl])
    assert result.returncode == 0, result.stdout + result.stderr
