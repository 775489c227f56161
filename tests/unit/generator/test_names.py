"""AWS names derived from the specs: no two resources share one, none exceeds AWS's limit.

Collisions and overflows fail only at `terraform apply`, half-deployed; the generator rejects
them across every spec generated together, naming both sides.
"""

from __future__ import annotations

from pathlib import Path

from generator.api import load_and_validate, render_paths
from generator.errors import Diagnostic
from tests.unit.generator.helpers import LAMBDA_SRC, WORKFLOWS, write_spec


def _spec(tmp: Path, workflow: str, *workers: str, file: str | None = None) -> Path:
    lines = [f"name: {workflow}", "workers:"]
    lines += [f"  {w}: {{handler: examples.common.echo}}" for w in workers]
    lines += ["StartAt: S0", "States:"]
    for i, w in enumerate(workers):
        end = "End: true" if i == len(workers) - 1 else f"Next: S{i + 1}"
        lines.append(f"  S{i}: {{Type: Task, Worker: {w}, TimeoutSeconds: 99999, {end}}}")
    return write_spec(tmp, "\n".join(lines) + "\n", name=file or f"{workflow}.yaml")


def _check(paths: list[Path], name_prefix: str = "") -> list[Diagnostic]:
    workflows, diagnostics = load_and_validate(
        paths, lambda_src=LAMBDA_SRC, name_prefix=name_prefix
    )
    errors = [d for d in diagnostics if d.is_error]
    assert (workflows is None) == bool(errors)
    return diagnostics


def _errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.is_error]


def test_worker_named_sfn_takes_the_state_machine_role(tmp_path: Path) -> None:
    [d] = _errors(_check([_spec(tmp_path, "x", "sfn")]))
    assert (d.file, d.line, d.col, d.path) == (str(tmp_path / "x.yaml"), 3, 3, "workers.sfn")
    assert "worker 'sfn' of workflow 'x' would get the same AWS names as workflow 'x'" in d.message
    assert f"({tmp_path / 'x.yaml'}:1:7)" in d.message and "IAM role 'x-sfn'" in d.message
    assert d.fix.startswith("rename the worker")


def test_workflow_stepqueue_worker_gatekeeper_takes_the_gatekeepers_names(tmp_path: Path) -> None:
    [d] = _errors(_check([_spec(tmp_path, "stepqueue", "gatekeeper")], name_prefix="p-"))
    assert d.path == "workers.gatekeeper" and "the semaphore gatekeeper" in d.message
    assert "Lambda function 'p-stepqueue-gatekeeper'" in d.message
    assert "IAM role 'p-stepqueue-gatekeeper'" in d.message
    assert "terraform/main.tf" in d.message


def test_the_retired_reclaimers_names_are_free(tmp_path: Path) -> None:
    assert _errors(_check([_spec(tmp_path, "stepqueue", "reclaimer")], name_prefix="p-")) == []


def test_dashes_make_names_of_two_specs_collide(tmp_path: Path) -> None:
    first = _spec(tmp_path, "a", "b")
    second = _spec(tmp_path, "a-b", "dlq")
    [d] = _errors(_check([first, second]))
    assert (d.file, d.line, d.path) == (str(second), 3, "workers.dlq")
    assert "worker 'dlq' of workflow 'a-b'" in d.message
    assert f"worker 'b' of workflow 'a' ({first}:3:3)" in d.message
    assert "SQS queue 'a-b-dlq'" in d.message


def test_names_over_aws_limits_are_errors_with_the_prefix(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "w" * 30, "k" * 30)  # 30 + 1 + 30 = 61: fits without a prefix
    assert _errors(_check([spec])) == []
    prefix = "team-platform-prod1-"  # 20 characters
    [d] = _errors(_check([spec], name_prefix=prefix))
    assert d.path == f"workers.{'k' * 30}" and d.line == 3
    assert f"Lambda function '{prefix}{'w' * 30}-{'k' * 30}' has 81 characters, AWS allows 64" in (
        d.message
    )
    assert f"SQS queue (DLQ) '{prefix}{'w' * 30}-{'k' * 30}-dlq' has 85 characters" in d.message
    assert "by at least 17 characters" in d.fix and repr(prefix) in d.fix


def test_a_stage_that_would_overflow_is_a_warning(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "w" * 25, "k" * 30)  # 56 characters: 64 leaves room for a 7-char stage
    diagnostics = _check([spec])
    assert _errors(diagnostics) == []
    [w] = diagnostics
    assert w.path == f"workers.{'k' * 30}" and "with a stage" in w.message
    assert "'abcdefghij-" in w.message and "stages of at most 7 characters" in w.fix


def test_the_state_machine_role_counts_too(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "w" * 30, "k")
    [d] = _errors(_check([spec], name_prefix="a" * 20 + "qa12345678-"))  # 31 + 30 + 4 = 65
    assert d.path == "name" and "IAM role" in d.message and "-sfn' has 65 characters" in d.message


def test_an_invalid_prefix_is_reported(tmp_path: Path) -> None:
    [d] = _errors(_check([_spec(tmp_path, "x", "w")], name_prefix="Bad_Prefix"))
    assert d.file == "<name_prefix>" and d.line == 0
    assert d.format().startswith("<name_prefix>: error: name prefix 'Bad_Prefix'")


def test_render_paths_takes_the_prefix(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "w" * 30, "k" * 30)
    files, _ = render_paths([spec], lambda_src=LAMBDA_SRC)
    assert "workflows.tfvars.json" in files


def test_the_examples_fit_with_any_stage() -> None:
    diagnostics = _check(list(WORKFLOWS), name_prefix="stepqueue-")
    assert _errors(diagnostics) == []
    assert not [d for d in diagnostics if "stage" in d.message]


def test_cli_takes_the_name_prefix(tmp_path: Path) -> None:
    from tests.unit.generator.helpers import run_cli

    spec = _spec(tmp_path, "w" * 30, "k" * 30)
    assert run_cli("validate", str(spec)).returncode == 0
    result = run_cli("validate", "--name-prefix", "team-platform-prod1-", str(spec))
    assert result.returncode == 1 and "has 81 characters, AWS allows 64" in result.stderr
    assert "Traceback" not in result.stderr
