"""Does `lambda_src/<module path>.py` define the handler function? Parsed with `ast`, never
imported: importing user code would run it, and its dependencies may not be installed here."""

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
