"""An installed stepqueue, as a user has it: the wheel built from this checkout, installed into
a fresh virtual environment outside the repository (its dependencies from the package index or
the local pip cache, pinned by requirements.txt), never an editable install.

`hidden(command)` runs a command with this repository out of sight: in a mount namespace where
an empty tmpfs covers the checkout, so any file of it a command would read is simply not there
(processes it starts in the background stay in that namespace). The rest of the machine keeps
its view: nothing else is disturbed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stepqueue.paths import REPO

LEFT_OUT = (".git", ".venv", "node_modules", "build", "*.egg-info", "__pycache__", ".*_cache")


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    home: Path  # where the test's projects live, outside the repository

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "STEPQUEUE_", "VIRTUAL_ENV", "PYTEST", "COV_"))
        }
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env["TF_CLI_CONFIG_FILE"] = os.devnull
        env["BC_SKIP_MAPPING"] = "TRUE"
        return env

    def hidden(
        self, command: str, cwd: Path, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """`command` (a bash command line) in `cwd`, with the repository covered."""
        cover = f"mount -t tmpfs stepqueue-hidden {shlex.quote(str(REPO))}"
        inner = f"{cover} && cd {shlex.quote(str(cwd))} && {command}"
        return subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "bash", "-c", inner],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def _can_hide() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "x", "/mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    if not _can_hide():
        pytest.fail("unshare cannot make a mount namespace here: the proof needs one")
    base = tmp_path_factory.mktemp("installed")
    assert REPO not in base.parents
    source = base / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = base.glob("stepqueue-*.whl")
    shutil.rmtree(source)
    venv = base / "venv"
    python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            *(str(venv / "bin" / "python"), "-m", "pip", "install", "-q"),
            *("--disable-pip-version-check", "-c", str(REPO / "requirements.txt")),
            f"{wheel}[local]",
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    home = base / "home"
    home.mkdir()
    yield Installed(venv, wheel, home)
