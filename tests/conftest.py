"""Shared fixtures.

`emulator`: one moto server (with the shims of DESIGN.md §8, DynamoDB item operations atomic)
per test session — under `pytest -n 2 --dist loadgroup` that is one per xdist worker, each on its
own free port, so workers never share state. Tests share it within a worker: create resources
with unique names (`unique_name`) instead of resetting it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bench.local.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(atomic_dynamodb=True) as emu:
        yield emu


@pytest.fixture
def unique_name() -> str:
    """A short name unique within the session, valid for every AWS resource we create."""
    return f"t{uuid.uuid4().hex[:10]}"
