"""The emulator tier: every test here may use the session's emulator (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from stepqueue.local.emulator import Emulator


@pytest.fixture
def ddb(emulator: Emulator) -> Any:
    """The session emulator's DynamoDB."""
    return emulator.client("dynamodb")
