"""stepqueue_aws: the error codes and client caches the runtime, the gatekeeper, the watchdog
and the starter share."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from stepqueue_aws import Retries, aws_error_code, cached_client, error_code, inject_client
from stepqueue_runtime import aws as runtime
from stepqueue_starter import entry as starter

from stepqueue.paths import LAMBDA_SRC
from tests.support.lambda_support import client_error


def test_error_code_of_a_client_error() -> None:
    exc = client_error("TaskTimedOut", "SendTaskSuccess")
    assert error_code(exc) == "TaskTimedOut"
    assert aws_error_code(exc) == "TaskTimedOut"


def test_error_code_of_anything_else_is_its_class_name() -> None:
    for exc in (ValueError("boom"), EndpointConnectionError(endpoint_url="https://x")):
        assert error_code(exc) == type(exc).__name__
        # No service answered: the caller logs repr() instead.
        assert aws_error_code(exc) is None


def test_error_code_of_a_response_without_a_code() -> None:
    exc = client_error("", "Scan")
    assert error_code(exc) == "ClientError"


def test_cache_makes_one_client_per_service_with_the_callers_retries() -> None:
    cache: dict[str, Any] = {}
    retries = Retries(max_attempts=4, connect_timeout=2, read_timeout=7)
    sfn = cached_client(cache, "stepfunctions", retries)
    assert cached_client(cache, "stepfunctions", retries) is sfn
    ddb = cached_client(cache, "dynamodb", retries)
    assert ddb is not sfn and ddb.meta.service_model.service_name == "dynamodb"
    config = sfn.meta.config
    # botocore's max_attempts counts retries: the first call comes on top.
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert (config.connect_timeout, config.read_timeout) == (2, 7)


def test_concurrent_first_use_makes_one_client() -> None:
    cache: dict[str, Any] = {}
    barrier = threading.Barrier(8)
    seen: list[Any] = []

    def use() -> None:
        barrier.wait()
        seen.append(cached_client(cache, "sqs", Retries(max_attempts=1)))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8 and len({id(c) for c in seen}) == 1


def test_injected_client_is_used_until_cleared() -> None:
    cache: dict[str, Any] = {}
    stub = object()
    inject_client(cache, "stepfunctions", stub)
    assert cached_client(cache, "stepfunctions", Retries(max_attempts=1)) is stub
    inject_client(cache, "stepfunctions", None)
    assert cached_client(cache, "stepfunctions", Retries(max_attempts=1)) is not stub


def test_runtime_and_starter_keep_their_own_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(starter, "_clients", {})
    runtime_sfn = runtime.get_client()
    starter_sfn = starter.client("stepfunctions")
    assert runtime_sfn is not starter_sfn
    assert runtime_sfn.meta.config.retries["total_max_attempts"] == 3 + 1
    assert starter_sfn.meta.config.retries["total_max_attempts"] == 1 + 1
    stub = object()
    runtime.set_client(stub)
    assert runtime.get_client() is stub
    assert starter.client("stepfunctions") is starter_sfn


def test_importing_does_not_load_boto3() -> None:
    # Powertools imports the botocore package itself, which is cheap; a session is not.
    heavy = ("boto3", "botocore.session", "botocore.client", "botocore.config")
    code = (
        "import sys, stepqueue_aws, stepqueue_runtime.entry, stepqueue_starter.entry, "
        "stepqueue_watchdog.entry; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "[]"
