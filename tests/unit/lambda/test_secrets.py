"""STEPQUEUE_SECRETS: secrets read into the environment at cold start, and a refused read
failing each task with a named error instead of crashing the container."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stepqueue_aws import inject_client
from stepqueue_runtime import aws, entry, secrets

from tests.support.lambda_support import RecordingClient, body, client_error, event, sqs_record

SSM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


class FakeStore:
    """SSM and Secrets Manager answering from a dict; a missing ARN is refused as IAM does."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads: list[str] = []

    def _value(self, arn: str, op: str) -> str:
        self.reads.append(arn)
        if arn not in self.values:
            raise client_error("AccessDeniedException", op, message=f"not authorized on {arn}")
        return self.values[arn]

    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:
        assert WithDecryption
        return {"Parameter": {"Value": self._value(Name, "GetParameter")}}

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        return {"SecretString": self._value(SecretId, "GetSecretValue")}


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    secrets._done.clear()
    yield
    secrets._done.clear()
    secrets._clients.clear()


def test_secrets_land_in_the_environment() -> None:
    store = FakeStore({SSM_ARN: "t0ken", SECRET_ARN: '{"user": "u"}'})
    env = {secrets.ENV: json.dumps({"API_TOKEN": SSM_ARN, "DB": SECRET_ARN})}
    assert secrets.resolve(env, lambda service: store) is None
    assert env["API_TOKEN"] == "t0ken" and env["DB"] == '{"user": "u"}'
    # Once per container: the next invocation reads nothing.
    assert secrets.resolve(env, lambda service: store) is None
    assert sorted(store.reads) == sorted([SSM_ARN, SECRET_ARN])


def test_nothing_to_resolve_reads_nothing() -> None:
    env: dict[str, str] = {}
    assert secrets.resolve(env, lambda service: pytest.fail("no read expected")) is None
    assert env == {}


def test_a_refused_read_names_the_variable_and_sets_nothing() -> None:
    store = FakeStore({SSM_ARN: "t0ken"})
    env = {secrets.ENV: json.dumps({"API_TOKEN": SSM_ARN, "DB": SECRET_ARN})}
    problem = secrets.resolve(env, lambda service: store)
    assert problem is not None
    assert "DB" in problem and SECRET_ARN in problem and "AccessDeniedException" in problem
    assert "API_TOKEN" not in env  # all or nothing
    store.values[SECRET_ARN] = "granted later"
    assert secrets.resolve(env, lambda service: store) is None  # read again, now allowed
    assert env["DB"] == "granted later"


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '{"A": 3}'])
def test_a_malformed_variable_is_a_problem_not_a_crash(raw: str) -> None:
    problem = secrets.resolve({secrets.ENV: raw}, lambda service: FakeStore({}))
    assert problem is not None and secrets.ENV in problem


@given(st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True), st.text()))
def test_any_map_of_readable_secrets_is_resolved_whole(values: dict[str, str]) -> None:
    secrets._done.clear()
    arns = {name: f"{SSM_ARN}/{i}" for i, name in enumerate(values)}
    store = FakeStore({arns[name]: value for name, value in values.items()})
    env = {secrets.ENV: json.dumps(arns)}
    assert secrets.resolve(env, lambda service: store) is None
    assert {name: env[name] for name in values} == values


def test_each_task_fails_with_a_named_error_when_a_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = RecordingClient()
    aws.set_client(client)
    inject_client(secrets._clients, "ssm", FakeStore({}))
    monkeypatch.setenv(secrets.ENV, json.dumps({"API_TOKEN": SSM_ARN}))
    # The handler module is never imported: it may read the secret when it is.
    monkeypatch.setenv("STEPQUEUE_HANDLER", "no_such_module.handler")
    records = [sqs_record(body({}, token=f"t{i}"), f"m{i}") for i in range(2)]
    response = entry.handler(event(*records), None)
    assert response == {"batchItemFailures": []}  # answered, not crashed
    for token in ("t0", "t1"):
        [failed] = client.ops("send_task_failure", token)
        assert failed.kwargs["error"] == secrets.SECRET_UNAVAILABLE
        assert "API_TOKEN" in failed.kwargs["cause"] and SSM_ARN in failed.kwargs["cause"]
    assert client.ops("send_task_success") == []
