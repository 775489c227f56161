"""All-or-nothing writes: a complete new output directory appears, or nothing changes.

The output directory is replaced as a whole, so it must hold nothing but a previous output of
the generator: `--out .` must never delete the spec next to it. A marker file listing what the
generator wrote proves that a directory is its own; anything else that is not empty is refused
before anything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from generator.errors import Diagnostic, GeneratorError

MARKER = ".stepqueue-generated"
_MARKER_HEADER = "# written by the stepqueue generator; the whole directory is replaced on each run"
# What the generator wrote before it wrote a marker: such a directory is recognised by its shape.
_LEGACY_FILES = ("workflows.tfvars.json",)
_LEGACY_DIR = "asl"


class OutputRefused(GeneratorError):
    """The output directory holds something the generator did not write: nothing was written.

    A GeneratorError, so callers that report invalid specs report this the same way; its one
    diagnostic names the directory (no line: it is not a file).
    """

    def __init__(self, out_dir: Path, reason: str, fix: str) -> None:
        self.out_dir = out_dir
        super().__init__(
            [Diagnostic(str(out_dir), 0, 0, "--out", f"output directory {reason}", fix)]
        )


def write_tree(files: dict[str, str], out_dir: Path) -> None:
    """Write `files` (relative path -> text) to a sibling temp dir, then swap it into place.

    Raises OutputRefused, before writing anything, when `out_dir` exists and is neither empty
    nor a previous output. The temp dir sits next to `out_dir` so the renames stay on one
    filesystem (atomic). The old directory is moved aside before the new one moves in and is
    deleted last; if the second rename fails, the old one is put back.
    """
    check_replaceable(out_dir)
    out_dir = Path(os.path.abspath(out_dir))  # also folds `..`, which rename cannot take
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    try:
        for relative, text in sorted({**files, MARKER: marker_text(files)}.items()):
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(staging, 0o755)  # mkdtemp makes it 0700; the output is not secret
        _swap(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def marker_text(files: dict[str, str]) -> str:
    """The marker: every file written, one per line, so a later run can tell its own output."""
    return "\n".join([_MARKER_HEADER, *sorted(files)]) + "\n"


def check_replaceable(given: Path) -> None:
    """Raise OutputRefused unless `given` is absent, empty, or exactly a previous output."""
    out_dir = Path(os.path.abspath(given))
    fix = (
        f"choose a new or empty directory for --out, or remove {given} yourself if nothing in "
        "it is needed"
    )
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise OutputRefused(given, "exists but is not a directory", fix)
    cwd = Path(os.path.abspath(Path.cwd()))
    if out_dir == cwd or out_dir in cwd.parents:  # replacing it would pull the floor away
        raise OutputRefused(
            given,
            "is the current directory or holds it, and --out replaces the whole directory",
            "write to a directory of its own, e.g. --out build/generated",
        )
    present = _files_under(out_dir)
    if not present:
        return
    owned = _owned(out_dir)
    extra = sorted(present - owned) if owned is not None else sorted(present)
    if not extra:
        return
    shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
    what = "holds files the generator did not write" if owned is not None else "is not empty"
    raise OutputRefused(given, f"{what} ({shown}), and --out replaces the whole directory", fix)


def _files_under(out_dir: Path) -> set[str]:
    """Every entry below `out_dir`, relative; directories end with '/' (an empty one counts)."""
    found: set[str] = set()
    for root, dirs, names in os.walk(out_dir):  # does not follow links to directories
        base = Path(root).relative_to(out_dir)
        found.update((base / n).as_posix() for n in names)
        for d in dirs:
            link = (Path(root) / d).is_symlink()
            found.add((base / d).as_posix() + ("" if link else "/"))
    return found


def _with_parents(files: set[str]) -> set[str]:
    """The files and the directories that hold them, as `_files_under` lists them."""
    return files | {p.as_posix() + "/" for f in files for p in Path(f).parents if p != Path(".")}


def _owned(out_dir: Path) -> set[str] | None:
    """What the generator wrote there (marker included), or None when it is not its output."""
    marker = out_dir / MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            lines = marker.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        if lines[:1] == [_MARKER_HEADER]:
            return _with_parents({MARKER, *lines[1:]})
        return None
    # Output written before the marker existed: workflows.tfvars.json and asl/*.asl.json only.
    present = _files_under(out_dir)
    legacy = all(
        p in _LEGACY_FILES
        or p == f"{_LEGACY_DIR}/"
        or (p.startswith(f"{_LEGACY_DIR}/") and p.count("/") == 1 and p.endswith(".asl.json"))
        for p in present
    )
    return present if legacy else None


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
