"""README.md's `## Quick start` block, run as written (the first line's install source aside:
the wheel is already installed), in an empty directory, with this repository out of sight."""

from __future__ import annotations

import re

import pytest

from stepqueue.paths import REPO
from tests.system.project.conftest import Installed


def quick_start() -> list[str] | None:
    """The commands of the one ```bash block under `## Quick start`, or None without one."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    if section is None:
        return None
    block = re.search(r"^```bash\n(.*?)^```", section.group(1), re.M | re.S)
    assert block is not None, "## Quick start has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_quick_start_runs_as_written(installed: Installed) -> None:
    lines = quick_start()
    if lines is None:
        pytest.skip("README.md has no `## Quick start` section yet (the user-first README adds it)")
    assert lines[0].startswith("pip install stepqueue"), lines[0]
    # The install line, with the wheel this test built instead of the package index.
    script = "\n".join(
        ["set -euo pipefail", f"pip install --no-deps -q {installed.wheel}", *lines[1:]]
    )
    workdir = installed.home / "readme"
    workdir.mkdir()
    (workdir / "quickstart.sh").write_text(script + "\n")
    result = installed.hidden("bash quickstart.sh", workdir, timeout=900)
    if result.returncode != 0:
        installed.hidden("stepqueue emulator --stop", workdir / "hello")
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "SUCCEEDED" in result.stdout
