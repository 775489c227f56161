"""What the installed package ships, and where: the one place that knows.

A wheel carries the Terraform root and modules (and the pins the Lambda zips install) under
stepqueue/_shipped/ (setup.py copies them at build time); a checkout, or an editable install of
one, reads them in place (terraform/, modules/, requirements.txt). The Lambda runtime packages
(stepqueue_runtime, ...) are installed packages either way. Where a project's own files are
(workflows, handlers, build output, state) is stepqueue.project's business, never this module's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_IN_WHEEL = PACKAGE / "_shipped"
# The checkout this package was imported from, when it was (the tests, the build); in an
# installed wheel the parent is site-packages, and nothing below is read from it.
REPO = PACKAGE.parent
SHIPPED = _IN_WHEEL if (_IN_WHEEL / "terraform").is_dir() else REPO
TERRAFORM_ROOT = SHIPPED / "terraform"
MODULES = SHIPPED / "modules"
REQUIREMENTS = SHIPPED / "requirements.txt"
# The checkout's handler tree (runtime packages and the examples' handlers): this repository's
# project's `handlers`; meaningless outside a checkout.
LAMBDA_SRC = REPO / "lambda_src"

# The packages every Lambda zip carries beside a project's handlers.
RUNTIME_PACKAGES = (
    "stepqueue_aws",
    "stepqueue_gatekeeper",
    "stepqueue_runtime",
    "stepqueue_starter",
    "stepqueue_watchdog",
)


def runtime_package_dirs() -> dict[str, Path]:
    """Package name → its installed folder (lambda_src/ in a checkout, site-packages in a
    wheel's environment)."""
    found: dict[str, Path] = {}
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"the Lambda runtime package {name} is not installed")
        found[name] = Path(next(iter(spec.submodule_search_locations)))
    return found


def version() -> str:
    """The installed distribution's version (pyproject.toml's, the one place it is written)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version("stepqueue")
    except PackageNotFoundError:
        return "0+unknown"
