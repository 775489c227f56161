"""Does `lambda_src/<module path>.py` define the handler function? Parsed with `ast`, never
imported: importing user code would run it, and its dependencies may not be installed here.

Also the one rule for what the Lambda zip takes from a lambda_src tree (`packaged_files`): the
zip builder packages exactly those files, so a handler this check accepts is in the zip by
construction, wherever it lives in the tree. Both follow symbolic links to folders (a package
linked in from elsewhere is packaged under the link's name); neither goes round a cycle of
links: a folder that resolves to one of its own ancestors is not entered, and a handler named
through one is refused.
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


# Tests beside the handlers (lambda_src/README.md, "Testing your handler") run on a
# developer's machine, never in Lambda: a `tests` folder and pytest's conftest.py stay out.
_TEST_ONLY = frozenset({"__pycache__", "tests", "conftest.py"})


def is_packaged(relative: Path) -> bool:
    """Whether a file of a lambda_src tree (path relative to it) goes into the Lambda zip:
    everything but bytecode, caches, hidden files and folders, and tests."""
    left_out = any(part.startswith(".") or part in _TEST_ONLY for part in relative.parts)
    return not left_out and relative.suffix not in {".pyc", ".pyo"}


def packaged_files(lambda_src: Path) -> dict[str, Path]:
    """Archive name → file, for every file of `lambda_src` the Lambda zip holds, in name order.

    Linked folders are followed (as `check_handler` follows them); a folder resolving to one of
    its ancestors (a cycle) is not entered. The same folder linked twice is packaged twice,
    under each name, since a handler may be named through either.
    """
    files: dict[str, Path] = {}
    top = str(lambda_src)
    # The real paths of each folder's ancestors and itself: the cycle guard.
    chains: dict[str, frozenset[str]] = {top: frozenset({os.path.realpath(top)})}
    for root, dirs, names in os.walk(top, followlinks=True):
        chain = chains.pop(root)
        base = Path(root).relative_to(lambda_src)
        kept = []
        for d in dirs:
            real = os.path.realpath(os.path.join(root, d))
            if real not in chain and is_packaged(base / d):  # also prunes hidden folders
                chains[os.path.join(root, d)] = chain | {real}
                kept.append(d)
        dirs[:] = kept
        for name in names:
            relative, path = base / name, Path(root, name)
            if is_packaged(relative) and path.is_file():  # not a dangling link
                files[relative.as_posix()] = path
    return dict(sorted(files.items()))


def _through_cycle(lambda_src: Path, relative: Path) -> bool:
    """Whether a folder on the way to `relative` resolves to one of its ancestors: a file
    reached so is not packaged (`packaged_files` does not go round cycles)."""
    seen = {os.path.realpath(lambda_src)}
    folder = lambda_src
    for part in relative.parts[:-1]:
        folder = folder / part
        real = os.path.realpath(folder)
        if real in seen:
            return True
        seen.add(real)
    return False


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
    if _through_cycle(lambda_src, relative):
        return (
            f"lambda_src/{relative.as_posix()} is reached through a cycle of symbolic links, "
            "which the Lambda zip does not follow",
            "name the module by its path without going round the cycle",
        )
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
