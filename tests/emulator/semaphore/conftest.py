"""The session's emulator as a Step Functions client (DynamoDB: tests/emulator/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from stepqueue.local.emulator import Emulator


@pytest.fixture
def sfn(emulator: Emulator) -> Any:
    return emulator.client("stepfunctions")
