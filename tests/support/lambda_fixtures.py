"""Fixtures for the runtime tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepqueue_runtime import aws

from stepqueue.local.emulator import Emulator
from tests.support.lambda_support import REGION, Moto, RecordingClient


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, a region, no endpoint leaking in, and a fresh runtime client."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("STEPQUEUE_LOG_PAYLOADS", raising=False)
    aws.set_client(None)
    # Never a real SQS client in tests: a record sent back to the queue is recorded instead
    # (tests that want moto's queue inject it).
    aws.set_client(RecordingClient(), aws.SQS)
    yield
    aws.set_client(None)
    aws.set_client(None, aws.SQS)


@pytest.fixture
def moto_endpoint(emulator: Emulator) -> str:
    """The session's shared emulator (tests/conftest.py): moto in a child process with Step
    Functions execution enabled and MOTO_PORT set inside it. Names are unique per test."""
    return emulator.endpoint


@pytest.fixture
def moto(moto_endpoint: str) -> Moto:
    return Moto(moto_endpoint)


@pytest.fixture
def use_handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    def _use(spec: str) -> None:
        monkeypatch.setenv("STEPQUEUE_HANDLER", spec)

    return _use
