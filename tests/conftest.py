"""Shared fixtures.

`generated_dir`, `lambda_zip`: the generator's output for workflows/*.yaml and the Lambda zip,
built once per session into temp dirs (never a stale build/).

`emulator`: one moto server (with the shims of docs/design.md §8, DynamoDB item operations atomic)
per test session — under `pytest -n 2 --dist loadgroup` that is one per xdist worker, each on its
own free port, so workers never share state. Tests share it within a worker: create resources
with unique names (`unique_name`) instead of resetting it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stepqueue.deploy.artifacts import build_lambda_zip, generate
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = sorted((REPO / "workflows").glob("*.yaml"))
    assert specs, "no workflows/*.yaml"
    return generate(specs, tmp_path_factory.mktemp("generated") / "out")


def _before_admission_controls() -> list[Path]:
    """workflows/*.yaml without the specs that use admission controls: those need the
    waiting room, so no deployment made before it had them."""
    specs = sorted((REPO / "workflows").glob("*.yaml"))
    keys = ("per_key", "rate", "priority")
    return [s for s in specs if not any(f"\n  {k}:" in s.read_text() for k in keys)]


@pytest.fixture(scope="session")
def polling_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every semaphore in the first version's `polling` mode: what a deployment made before
    the waiting room looked like."""
    specs_dir = tmp_path_factory.mktemp("polling-specs")
    for spec in _before_admission_controls():
        text = spec.read_text()
        (specs_dir / spec.name).write_text(
            text.replace("\nconcurrency:\n", "\nconcurrency:\n  mode: polling\n")
        )
    specs = sorted(specs_dir.glob("*.yaml"))
    return generate(specs, tmp_path_factory.mktemp("generated-polling") / "out")


@pytest.fixture(scope="session")
def room_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same workflows as `polling_generated_dir`, in the waiting room (the default)."""
    return generate(_before_admission_controls(), tmp_path_factory.mktemp("generated-room") / "out")


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
