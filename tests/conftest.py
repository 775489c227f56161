"""Shared fixtures, the tiers (tests/tiers.py) and the scheduling (tests/scheduling.py).

`generated_dir`, `lambda_zip`: the generator's output for workflows/*.yaml and the Lambda zip,
built once per session into temp dirs (never a stale build/).

`emulator`: one moto server (with the shims of docs/design.md §8, DynamoDB item operations atomic)
per test session — under `pytest -n 2` that is one per xdist worker, each on its own free port,
so workers never share state. Tests share it within a worker: create resources with unique
names (`unique_name`) instead of resetting it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepqueue.deploy.artifacts import build_lambda_zip, generate
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO
from tests.scheduling import Plugin
from tests.tiers import apply_tiers


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Plugin(config), "stepqueue-scheduling")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    apply_tiers(items)


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = sorted((REPO / "workflows").glob("*.yaml"))
    assert specs, "no workflows/*.yaml"
    return generate(specs, tmp_path_factory.mktemp("generated") / "out")


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_zip(tmp_path_factory.mktemp("lambda"))


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(atomic_dynamodb=True) as emu:
        yield emu


@pytest.fixture
def unique_name() -> str:
    """A short name unique within the session, valid for every AWS resource we create."""
    return f"t{uuid.uuid4().hex[:10]}"
