"""`stepqueue emulator --background / --stop` in a project of its own: started once, found
again, stopped; a stale pid file naming a process that is no emulator is never signalled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stepqueue.local.emulator import is_reachable


def _stepqueue(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepqueue", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_background_then_stop(tmp_path: Path) -> None:
    (tmp_path / "stepqueue.toml").write_text("")
    started = _stepqueue(tmp_path, "emulator", "--background")
    try:
        assert started.returncode == 0, started.stderr
        port = int((tmp_path / "build" / "emulator.port").read_text())
        assert is_reachable(f"http://127.0.0.1:{port}")
        again = _stepqueue(tmp_path, "emulator", "--background")
        assert again.returncode == 0 and "already running" in again.stderr
    finally:
        stopped = _stepqueue(tmp_path, "emulator", "--stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    assert not is_reachable(f"http://127.0.0.1:{port}")
    assert not (tmp_path / "build" / "emulator.port").exists()
    # The emulator's own log stays in the build directory.
    assert (tmp_path / "build" / "emulator" / "server.log").is_file()


def test_a_stale_pid_file_is_never_signalled(tmp_path: Path) -> None:
    (tmp_path / "stepqueue.toml").write_text("")
    (tmp_path / "build" / "emulator").mkdir(parents=True)
    (tmp_path / "build" / "emulator" / "pid").write_text(f"{os.getpid()}\n")  # this test
    stopped = _stepqueue(tmp_path, "emulator", "--stop")
    assert stopped.returncode == 0 and "not running" in stopped.stderr
