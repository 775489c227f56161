"""The unit tier: no emulator, no Terraform (tests/tiers.py). Enforced here, for every test
under this folder, so a new test cannot drift into it with either."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tiers import guard_unit_tier


@pytest.fixture(autouse=True)
def _unit_tier(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    yield from guard_unit_tier(monkeypatch)


@pytest.fixture(scope="session")
def emulator() -> None:
    pytest.fail(
        "a test under tests/unit/ asked for the emulator: move it to tests/emulator/",
        pytrace=False,
    )
