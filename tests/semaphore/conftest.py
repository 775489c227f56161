"""Helpers for the semaphore tests: a fresh semaphore table per test on the shared emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from stepqueue.local.emulator import ACCOUNT_ID, Emulator

ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/stepqueue-test"  # moto does not enforce IAM


def create_table(ddb: Any, table: str, *semaphores: str) -> None:
    """The table and its items as Terraform creates them (contracts.md): holders = {}."""
    ddb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for name in semaphores:
        ddb.put_item(TableName=table, Item={"id": {"S": name}, "holders": {"M": {}}})


def holders(ddb: Any, table: str, semaphore: str) -> dict[str, Any]:
    item = ddb.get_item(TableName=table, Key={"id": {"S": semaphore}}, ConsistentRead=True)
    return dict(item["Item"]["holders"]["M"])


def until(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    """Waits until check() holds; fails naming what did not happen in time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def wait_until_ended(sfn: Any, arn: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} still RUNNING after {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def ddb(emulator: Emulator) -> Any:
    return emulator.client("dynamodb")


@pytest.fixture
def sfn(emulator: Emulator) -> Any:
    return emulator.client("stepfunctions")
