"""A worker's own dependencies (`dependencies:` or `requirements:`), and the imports check.

Each dependency is pinned (`name==version`): the worker's artifact is built from exactly these,
for Lambda's platform (stepqueue/deploy/worker_zip.py), so the same spec gives the same bytes.
A handler that imports what its function will not have (neither the standard library, the
project's own code, the Lambda runtime's nor a declared dependency) fails only at cold start in
AWS; `validate` says so first, with the file and line of the import.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

from generator.errors import Diagnostic, Severity
from generator.loader import Node
from generator.report import Reporter, join

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)==(?P<version>[0-9][A-Za-z0-9.+!_-]*)$"
)
DEPENDENCIES_MAX = 100
REQUIREMENTS_MAX_BYTES = 64 * 1024
_TWICE = "is listed twice"
_PIN_FIX = "pin an exact version, e.g. pillow==11.1.0: the artifact is rebuilt from the pins"
# What the Lambda Python runtime provides (boto3 and what it needs), and what the shared zip
# ships to every function (stepqueue/deploy/lambda_zip.py DEPENDENCIES).
RUNTIME_MODULES = frozenset(
    {
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "urllib3",
        "six",
        "aws_lambda_powertools",
        "typing_extensions",
    }
)
# Distributions whose import name is not their own (normalised) name.
IMPORT_NAMES = {
    "attrs": ("attr", "attrs"),
    "beautifulsoup4": ("bs4",),
    "opencv-python": ("cv2",),
    "opencv-python-headless": ("cv2",),
    "pillow": ("PIL",),
    "protobuf": ("google",),
    "pyjwt": ("jwt",),
    "pymupdf": ("fitz", "pymupdf"),
    "python-dateutil": ("dateutil",),
    "pyyaml": ("yaml",),
    "scikit-learn": ("sklearn",),
    "scikit-image": ("skimage",),
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def import_names(pin: str) -> tuple[str, ...]:
    """The top-level modules a pinned distribution is imported as (best known)."""
    name = normalise(pin.split("==", 1)[0])
    return IMPORT_NAMES.get(name, (name.replace("-", "_"),))


def dependencies(r: Reporter, worker: Node, path: str, spec: Path | None) -> tuple[str, ...]:
    """The worker's pins, `name==version` with normalised names, sorted."""
    r.exclusive(worker, path, [("dependencies", "requirements")])
    if (v := worker.get("dependencies")) is not None:
        return _pins_of_list(r, v, join(path, "dependencies"))
    if (v := worker.get("requirements")) is not None:
        return _pins_of_file(r, v, join(path, "requirements"), spec)
    return ()


def _pins_of_list(r: Reporter, node: Node, path: str) -> tuple[str, ...]:
    if not r.is_seq(node, path, "dependencies"):
        return ()
    pins: dict[str, str] = {}
    for i, item in enumerate(node.items):
        text = r.string(item, join(path, i), "dependency")
        if text is None:
            continue
        problem = _add_pin(pins, text.strip())
        if problem:
            fix = "list each package once" if problem == _TWICE else _PIN_FIX
            r.error(item, join(path, i), f"dependency {text!r} {problem}", fix)
    _bounded(r, node, path, pins)
    return tuple(f"{n}=={v}" for n, v in sorted(pins.items()))


def _add_pin(pins: dict[str, str], text: str) -> str | None:
    match = _PIN.match(text)
    if match is None:
        return "is not pinned as name==version"
    name = normalise(match["name"])
    if name in pins:
        return _TWICE
    pins[name] = match["version"]
    return None


def _bounded(r: Reporter, node: Node, path: str, pins: dict[str, str]) -> None:
    if len(pins) > DEPENDENCIES_MAX:
        r.error(
            node,
            path,
            f"{len(pins)} dependencies; at most {DEPENDENCIES_MAX} per worker",
            "package fewer, or put them in a layer (layers:)",
        )


def _pins_of_file(r: Reporter, node: Node, path: str, spec: Path | None) -> tuple[str, ...]:
    given = r.string(node, path, "requirements")
    if given is None:
        return ()
    file = (spec.parent if spec else Path.cwd()) / given
    fix = f"write the path of a requirements file relative to the spec ({given} was not found)"
    try:
        if file.stat().st_size > REQUIREMENTS_MAX_BYTES:
            r.error(node, path, f"{given} is over {REQUIREMENTS_MAX_BYTES} bytes", "trim it")
            return ()
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        r.error(node, path, f"cannot read requirements {given}: {error.__class__.__name__}", fix)
        return ()
    pins: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line and (problem := _add_pin(pins, line)):
            r.error(
                node,
                path,
                f"{given} line {number}: {line!r} {problem} (options and ranges are not read)",
                _PIN_FIX,
            )
    _bounded(r, node, path, pins)
    return tuple(f"{n}=={v}" for n, v in sorted(pins.items()))


# -- the imports check -------------------------------------------------------------------


def _own_modules(lambda_src: Path) -> frozenset[str]:
    names = set()
    for entry in lambda_src.iterdir():
        if entry.is_dir() and not entry.name.startswith((".", "__")):
            names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
    return frozenset(names)


def _guarded(tree: ast.Module) -> set[int]:
    """Lines of imports inside a `try:` (optional imports, their absence handled)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for stmt in node.body:
                lines.update(
                    n.lineno for n in ast.walk(stmt) if isinstance(n, ast.Import | ast.ImportFrom)
                )
    return lines


def top_level_imports(source: str) -> list[tuple[str, int, int]]:
    """(top-level module, line, column) of every absolute import outside a `try:`."""
    tree = ast.parse(source)
    guarded = _guarded(tree)
    found: list[tuple[str, int, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and node.lineno not in guarded:
            found += [(a.name.split(".")[0], node.lineno, node.col_offset + 1) for a in node.names]
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.lineno not in guarded
        ):
            found.append((node.module.split(".")[0], node.lineno, node.col_offset + 1))
    return sorted(set(found), key=lambda f: (f[1], f[2], f[0]))


def _shown(file: Path) -> str:
    try:
        relative = os.path.relpath(file)
    except ValueError:
        return str(file)
    return str(file) if relative.startswith("..") else relative


def check_imports(
    lambda_src: Path, handler: str, worker: str, pins: tuple[str, ...]
) -> list[Diagnostic]:
    """Warnings for the handler module's imports its function would not find."""
    module = handler.rpartition(".")[0]
    file = lambda_src / Path(*module.split(".")).with_suffix(".py")
    if not file.is_file():
        file = lambda_src / Path(*module.split("."), "__init__.py")
    try:
        imports = top_level_imports(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []  # the handler check reports what is wrong with the file
    known = (
        set(sys.stdlib_module_names)
        | RUNTIME_MODULES
        | _own_modules(lambda_src)
        | {name for pin in pins for name in import_names(pin)}
    )
    path = join(join("workers", worker), "dependencies")
    return [
        Diagnostic(
            _shown(file),
            line,
            col,
            path,
            f"{module} imports {name}, which is neither the standard library, the project's "
            f"own code, the Lambda runtime's (boto3, botocore, ...) nor a dependency of worker "
            f"{worker!r}: the function would fail at cold start",
            f"add the package that provides {name} to workers.{worker}.dependencies, pinned "
            "(e.g. pillow==11.1.0 for PIL), or remove the import",
            Severity.WARNING,
        )
        for name, line, col in imports
        if name not in known
    ]
