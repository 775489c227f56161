"""A directory of installed dependencies, filled once: what both Lambda builds cache."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def fill_once(final: Path, fill: Callable[[Path], None]) -> bool:
    """Make `final` by calling `fill(staging)` on an empty staging directory beside it, unless
    it already exists; whether `fill` ran.

    Staged and renamed so that a build interrupted half-way leaves no half-filled cache that a
    later build would trust, and two concurrent builds cannot mix their files: one wins the
    rename, the other finds it done."""
    if final.is_dir():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        staging = Path(tmp) / "site"
        staging.mkdir()
        fill(staging)
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: not importable
        try:
            staging.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    return True
