"""The wheel built from the repository is the tool: the CLI, the generator, the Lambda
runtime packages and the Terraform root and modules deployments use (stepqueue/_shipped/), and
nothing of the test kit, the tests or the benchmarks (scenarios,
stresses and test doubles live in testkit/, beside tests/ and bench/)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from stepqueue.paths import REPO

LEFT_OUT = (".git", ".venv", "node_modules", "build", "*.egg-info", "__pycache__", ".*_cache")
TEST_ONLY = ("testkit/", "tests/", "bench/")


def test_the_wheel_holds_the_tool_and_no_test_code(tmp_path: Path) -> None:
    # A copy, so the build writes nothing into the repository.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    assert (source / "testkit").is_dir() and (source / "tests").is_dir()
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("stepqueue-*.whl")
    names = zipfile.ZipFile(wheel).namelist()

    assert [n for n in names if n.startswith(TEST_ONLY)] == []
    assert [n for n in names if "scenario" in n or "stress" in n or "stand_in" in n] == []
    for shipped in ("stepqueue/cli.py", "generator/api.py", "stepqueue_runtime/worker.py"):
        assert shipped in names, shipped

    # The Terraform it deploys, every file of terraform/ and modules/ but no state or data dir.
    for folder in ("terraform", "modules"):
        expected = {
            f"stepqueue/_shipped/{path.relative_to(source).as_posix()}"
            for path in (source / folder).rglob("*.tf")
            if ".terraform" not in path.parts
        }
        assert expected and expected <= set(names), sorted(expected - set(names))[:5]
    assert "stepqueue/_shipped/requirements.txt" in names
    assert [n for n in names if n.endswith((".tfstate", ".tfplan")) or "/.terraform/" in n] == []
