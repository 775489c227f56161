"""The session's emulator as DynamoDB and Step Functions clients."""

from __future__ import annotations

from typing import Any

import pytest

from stepqueue.local.emulator import Emulator


@pytest.fixture
def ddb(emulator: Emulator) -> Any:
    return emulator.client("dynamodb")


@pytest.fixture
def sfn(emulator: Emulator) -> Any:
    return emulator.client("stepfunctions")
