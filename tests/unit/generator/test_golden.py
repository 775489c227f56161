"""Generated output matches the golden files byte for byte, and is deterministic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.api import load_and_validate, render
from generator.diagram import diagram
from tests.unit.generator.helpers import GOLDEN, LAMBDA_SRC, WORKFLOWS, asl_validator, run_cli


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    workflows, diagnostics = load_and_validate(WORKFLOWS, lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diagnostics]
    assert diagnostics == [], "the example workflows should not even warn"
    return render(workflows)


def test_at_least_the_required_examples_exist() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert {"burst", "orders", "media", "glue", "reports"} <= names


@pytest.mark.parametrize("spec", WORKFLOWS, ids=lambda p: p.stem)
def test_asl_matches_golden(rendered: dict[str, str], spec: Path) -> None:
    name = f"asl/{spec.stem}.asl.json"
    golden = (GOLDEN / name).read_text(encoding="utf-8")
    assert rendered[name] == golden, "run `make regen` and review the diff if this is intended"


def test_tfvars_match_golden(rendered: dict[str, str]) -> None:
    golden = (GOLDEN / "workflows.tfvars.json").read_text(encoding="utf-8")
    assert rendered["workflows.tfvars.json"] == golden


def test_artifacts_match_golden(rendered: dict[str, str]) -> None:
    """The worker artifacts to build, the same bytes wherever the project is checked out."""
    golden = (GOLDEN / "artifacts.json").read_text(encoding="utf-8")
    assert rendered["artifacts.json"] == golden


def test_tfvars_name_every_worker_setting(rendered: dict[str, str]) -> None:
    """Terraform has no worker defaults of its own: every entry carries every setting."""
    tfvars = json.loads(rendered["workflows.tfvars.json"])
    keys = {
        "handler",
        "timeout_seconds",
        "memory_mb",
        "batch_size",
        "batching_window_seconds",
        "max_concurrency",
        "reserved_concurrency",  # null when unset: nothing reserved
        "max_receive_count",
        "visibility_timeout_seconds",
        "message_retention_seconds",
        "delay_seconds",
        "ephemeral_storage_mb",
        # the worker's own Lambda settings (docs/contracts.md), defaults when it declares none
        "artifact",
        "architecture",
        "environment",
        "secrets",
        "policy_statements",
        "managed_policy_arns",
        "log_retention_days",
        "subnet_ids",
        "security_group_ids",
        "layers",
        "tags",
    }
    workers = [w for wf in tfvars["workflows"].values() for w in wf["workers"].values()]
    assert workers and all(set(w) == keys for w in workers)
    # null where null means something: nothing reserved, the shared zip, the root's retention
    nullable = {"reserved_concurrency", "artifact", "log_retention_days"}
    assert all(v is not None for w in workers for k, v in w.items() if k not in nullable)


@pytest.mark.parametrize("spec", WORKFLOWS, ids=lambda p: p.stem)
def test_diagram_matches_golden(spec: Path) -> None:
    workflows, _ = load_and_validate([spec], lambda_src=LAMBDA_SRC)
    assert workflows is not None
    golden = (GOLDEN / "diagrams" / f"{spec.stem}.mmd").read_text(encoding="utf-8")
    assert diagram(workflows[0]) == golden


def test_no_golden_file_is_stale(rendered: dict[str, str]) -> None:
    on_disk = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*.json")}
    assert on_disk == set(rendered)


def test_generate_twice_gives_identical_bytes(tmp_path: Path) -> None:
    specs = [str(p) for p in WORKFLOWS]
    for out in ("one", "two"):
        assert run_cli("generate", *specs, "--out", str(tmp_path / out)).returncode == 0
    one = {
        p.relative_to(tmp_path / "one"): p.read_bytes()
        for p in (tmp_path / "one").rglob("*")
        if p.is_file()
    }
    two = {
        p.relative_to(tmp_path / "two"): p.read_bytes()
        for p in (tmp_path / "two").rglob("*")
        if p.is_file()
    }
    assert one == two
    assert all(data.endswith(b"\n") for data in one.values())


def test_every_generated_asl_passes_asl_validator(rendered: dict[str, str], tmp_path: Path) -> None:
    files = []
    for name, text in rendered.items():
        if name.startswith("asl/"):
            files.append(tmp_path / Path(name).name)
            files[-1].write_text(text, encoding="utf-8")
    result = asl_validator(files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("is valid") == len(files)
