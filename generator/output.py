"""All-or-nothing writes: a complete new output directory appears, or nothing changes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_tree(files: dict[str, str], out_dir: Path) -> None:
    """Write `files` (relative path -> text) to a sibling temp dir, then swap it into place.

    The temp dir sits next to `out_dir` so the renames stay on one filesystem (atomic). The old
    directory is moved aside before the new one moves in and is deleted last; if the second
    rename fails, the old one is put back.
    """
    out_dir = out_dir.absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for relative, text in sorted(files.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the output is not secret
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rmdir(old)  # only its unique name was wanted
    os.rename(out_dir, old)
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
