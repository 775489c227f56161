"""Dependencies are honest: every third-party import is declared in requirements.in, every
declared library is imported somewhere, and what pyproject.toml says it ships exists."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib

from stepqueue.paths import REPO

SOURCE_DIRS = ("generator", "stepqueue", "bench", "testkit", "tests", "lambda_src")
# Our own top-level packages and modules (lambda_src is the zip root, so its packages too).
OURS = {"generator", "stepqueue", "bench", "testkit", "tests"} | {
    path.name if path.is_dir() else path.stem for path in (REPO / "lambda_src").iterdir()
}
# A worker's own dependencies (its spec's `dependencies:`): shipped in its artifact, never
# installed here, so the handler that imports them is not the project's to declare.
WORKER_DEPENDENCIES = {"PIL"}
# Declared but used as commands or plugins, never imported.
TOOLS = {"pytest-timeout", "pytest-xdist", "ruff", "mypy", "types-pyyaml", "checkov"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return found - OURS - WORKER_DEPENDENCIES - set(sys.stdlib_module_names) - {"__future__"}


def _declared() -> set[str]:
    names = set()
    for line in (REPO / "requirements.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(_normalise(re.split(r"[\[=<>~!; ]", line)[0]))
    return names


def test_every_import_is_declared_and_every_declared_library_is_imported() -> None:
    distributions = importlib.metadata.packages_distributions()
    imported = {
        _normalise(dist)
        for module in _imported_top_levels()
        for dist in distributions.get(module, [module])
    }
    declared = _declared()
    assert imported - declared == set(), "imported but not declared in requirements.in"
    assert declared - TOOLS - imported == set(), "declared in requirements.in but never imported"


def test_shipped_package_data_exists() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    for package, patterns in config["tool"]["setuptools"]["package-data"].items():
        for pattern in patterns:
            assert list((REPO / package).glob(pattern)), f"{package}/{pattern} is declared"
