"""Does `lambda_src/<module path>.py` define the handler function? Parsed with `ast`, never
imported: importing user code would run it, and its dependencies may not be installed here.

Also the one rule for what the Lambda zip takes from a lambda_src tree (`packaged_files`): the
zip builder packages exactly those files, so a handler this check accepts is in the zip by
construction, wherever it lives in the tree.
"""

from __future__ import annotations

import ast
import functools
import os
from pathlib import Path

ENV_VAR = "STEPQUEUE_LAMBDA_SRC"


def find_lambda_src(spec: Path) -> Path | None:
    """$STEPQUEUE_LAMBDA_SRC, else the nearest `lambda_src/` above the spec."""
    if env := os.environ.get(ENV_VAR):
        return Path(env)
    for parent in spec.resolve().parents:
        candidate = parent / "lambda_src"
        if candidate.is_dir():
            return candidate
    return None


def is_packaged(relative: Path) -> bool:
    """Whether a file of a lambda_src tree (path relative to it) goes into the Lambda zip:
    everything but bytecode, caches and hidden files and folders."""
    hidden = any(part.startswith(".") or part == "__pycache__" for part in relative.parts)
    return not hidden and relative.suffix not in {".pyc", ".pyo"}


def packaged_files(lambda_src: Path) -> dict[str, Path]:
    """Archive name → file, for every file of `lambda_src` the Lambda zip holds."""
    files: dict[str, Path] = {}
    for path in sorted(lambda_src.rglob("*")):
        relative = path.relative_to(lambda_src)
        if path.is_file() and is_packaged(relative):
            files[relative.as_posix()] = path
    return files


@functools.lru_cache(maxsize=256)
def _top_level_names(file: Path, mtime_ns: int) -> frozenset[str] | None:
    del mtime_ns  # part of the cache key only: an edited file is parsed again
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
        elif isinstance(stmt, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
    return frozenset(names)


def check_handler(lambda_src: Path, handler: str) -> tuple[str, str] | None:
    """None when the handler exists; otherwise (what is wrong, how to fix it).

    Messages name files relative to lambda_src so they read the same on every machine.
    """
    module, _, function = handler.rpartition(".")
    relative = Path(*module.split(".")).with_suffix(".py")
    file = lambda_src / relative
    if not file.is_file():
        package = Path(*module.split("."), "__init__.py")
        if not (lambda_src / package).is_file():
            return (
                f"handler module {module!r} not found: no {relative.as_posix()} in lambda_src",
                f"create lambda_src/{relative.as_posix()} defining {function}(payload, ctx), "
                "or fix the handler name",
            )
        relative, file = package, lambda_src / package
    if not is_packaged(relative):  # unreachable for identifiers; kept as the contract's guard
        return (f"lambda_src/{relative.as_posix()} is not packaged", "move it out of there")
    names = _top_level_names(file, file.stat().st_mtime_ns)
    shown = f"lambda_src/{relative.as_posix()}"
    if names is None:
        return (f"cannot parse {shown}", "fix the syntax error in the handler module")
    if function not in names:
        return (
            f"{shown} does not define {function!r}",
            f"add def {function}(payload, ctx): ... to {shown}, or fix the handler name",
        )
    return None
