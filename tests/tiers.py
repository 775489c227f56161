"""A test's folder decides its tier; nothing else does (no hand-kept marks).

- tests/unit/: neither the emulator nor Terraform. `make test-fast` runs this tier alone, and
  a unit test that asks for the emulator or starts Terraform or a moto server fails, naming
  the folder it belongs in.
- tests/emulator/: the session's emulator (moto), no Terraform.
- tests/system/: Terraform and end to end. Each direct subfolder is a group (`stack`: the
  session's deployed stack; `terraform`: tests whose subject is Terraform itself; `project`:
  the installed wheel used from a project of its own) whose tests run on one xdist worker, one
  after another (tests/scheduling.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

TIERS = ("system", "emulator", "unit")  # also the order they start in: longest first
TESTS = Path(__file__).resolve().parent


class TierViolation(AssertionError):
    """A test did what its tier forbids."""


def tier_of(nodeid: str) -> str:
    """The tier of a test from its node id (`tests/<tier>/...`; the handler tests a user keeps
    beside the handlers, `lambda_src/.../tests/`, are unit tests)."""
    parts = PurePosixPath(nodeid.split("::", 1)[0]).parts
    if len(parts) >= 3 and parts[0] == "tests" and parts[1] in TIERS:
        return parts[1]
    if parts and parts[0] == "lambda_src" and "tests" in parts[1:-1]:
        return "unit"
    raise pytest.UsageError(
        f"{nodeid}: every test lives under tests/unit/, tests/emulator/ or tests/system/ "
        "(tests/tiers.py); move it to the folder of its tier"
    )


def group_of(nodeid: str) -> str | None:
    """The group a system test belongs to (the subfolder under tests/system/), else None."""
    parts = PurePosixPath(nodeid.split("::", 1)[0]).parts
    if tier_of(nodeid) != "system" or len(parts) < 4:
        return None
    return f"system/{parts[2]}"


def _forbidden(args: Any) -> str | None:
    """What `args` (a Popen command) would start that a unit test must not: Terraform or
    the emulator's server."""
    argv: Sequence[str] = [args] if isinstance(args, (str, bytes, Path)) else list(args)
    words = [str(a) for a in argv]
    if not words:
        return None
    if Path(words[0].split()[0]).name == "terraform":
        return "Terraform"
    if "stepqueue.local.emulator" in words or any("moto_server" in w for w in words):
        return "the emulator"
    return None


def guard_unit_tier(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuses (and records) any Terraform or emulator process a unit test starts; the test
    fails at teardown even if the code under test swallowed the refusal."""
    started: list[str] = []
    real = subprocess.Popen

    class GuardedPopen(real):  # type: ignore[type-arg,misc]
        def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
            what = _forbidden(args)
            if what is not None:
                started.append(what)
                raise TierViolation(f"a unit test started {what}")
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", GuardedPopen)
    yield started
    if started:
        pytest.fail(
            f"this test started {' and '.join(sorted(set(started)))}: tests/unit/ needs "
            "neither; move it to tests/emulator/ (moto) or tests/system/ (Terraform)",
            pytrace=False,
        )


def apply_tiers(items: list[pytest.Item]) -> None:
    """Marks each test with its tier and orders the collection system → emulator → unit (file
    order kept within each), so the longest work starts first."""
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item.nodeid)))
    items.sort(key=lambda item: TIERS.index(tier_of(item.nodeid)))
