"""CLI behaviour: exit codes, --help speed, all-or-nothing writes, diagram."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tests.unit.generator.helpers import BAD_SPECS, REPO, WORKFLOWS, run_cli, write_spec


def test_help_is_fast_and_light() -> None:
    # CPU time of the child, best of 5: wall time on a loaded CI machine measures the machine.
    # (bench/generator.py reports the wall time.)
    best = min(_cpu_seconds([sys.executable, "-m", "generator", "--help"]) for _ in range(5))
    assert best < 0.3, f"--help took {best:.3f} s of CPU"
    probe = "import sys, generator.cli; print('jinja2' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"]


def _cpu_seconds(cmd: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0 and "validate" in result.stdout
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_validate_exit_codes() -> None:
    assert run_cli("validate", *map(str, WORKFLOWS)).returncode == 0
    bad = run_cli("validate", str(BAD_SPECS / "unknown_worker.yaml"))
    assert bad.returncode == 1 and "error: unknown worker 'ww'" in bad.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("validate").returncode == 2
    assert run_cli("frobnicate", "x.yaml").returncode == 2
    assert run_cli("generate", str(WORKFLOWS[0])).returncode == 2  # --out is required
    missing = run_cli("validate", "no/such/spec.yaml")
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        name: warn
        workers:
          w: {handler: examples.common.echo, timeout_seconds: 60}
          unused: {handler: examples.common.echo}
        StartAt: A
        States:
          A: {Type: Task, Worker: w, End: true}
        """,
    )
    result = run_cli("validate", str(spec))
    assert result.returncode == 0, result.stderr
    assert "warning: TimeoutSeconds 1800 is shorter than" in result.stderr
    assert "warning: worker 'unused' is not used" in result.stderr


def test_generate_is_all_or_nothing(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    out.mkdir()
    (out / "keep.txt").write_text("previous output")
    specs = [*map(str, WORKFLOWS), str(BAD_SPECS / "next_to_nowhere.yaml")]
    result = run_cli("generate", *specs, "--out", str(out))
    assert result.returncode == 2 and "nothing written" in result.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]  # no temp dirs left


def test_generate_replaces_the_whole_directory(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    (out / "asl").mkdir(parents=True)
    (out / "asl" / "stale.asl.json").write_text("{}")
    result = run_cli("generate", *map(str, WORKFLOWS), "--out", str(out))
    assert result.returncode == 0, result.stderr
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert names == sorted(
        [f"asl/{p.stem}.asl.json" for p in WORKFLOWS] + ["artifacts.json", "workflows.tfvars.json"]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_diagram_command() -> None:
    result = run_cli("diagram", "workflows/orders.yaml")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("flowchart TD\n")
    assert "StepQueue:Acquire<br/>wait in the waiting room of semaphore orders" in text
    assert "StepQueue:Release:Done<br/>release semaphore orders" in text
    assert "queue: orders-enrich<br/>worker: enrich (examples.orders.enrich)" in text
    assert '-. "catch Orders.PaymentDeclined" .->' in text
    assert '-. "catch States.ALL" .->' in text
    media = run_cli("diagram", "workflows/media.yaml").stdout
    assert "TranscodeAll (Map, max 4 at once)" in media and "subgraph" in media


def test_generate_reports_file_system_errors_without_a_traceback(tmp_path: Path) -> None:
    """`--out README.md/x`: the parent is a file. One `DIR: error:` line, exit 2, and nothing
    left behind."""
    (tmp_path / "README.md").write_text("# not a directory\n")
    out = tmp_path / "README.md" / "x"
    result = run_cli("generate", str(WORKFLOWS[0]), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{out}: error: cannot write the output directory (File exists: " in result.stderr
    assert "nothing written" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
