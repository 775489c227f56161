"""`stepqueue plan --env local` finds the emulator `stepqueue emulator` runs by its port file."""

from __future__ import annotations

from pathlib import Path

from stepqueue.local import deployment
from stepqueue.local.emulator import Emulator


def test_a_running_emulator_is_found(emulator: Emulator, tmp_path: Path) -> None:
    port_file = tmp_path / "emulator.port"
    port_file.write_text(f"{emulator.port}\n")
    assert deployment.running_emulator_endpoint(port_file) == emulator.endpoint
