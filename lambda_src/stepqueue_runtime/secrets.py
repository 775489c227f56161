"""A worker's secret environment variables: read at cold start, never written anywhere.

The spec names each secret by ARN (`environment: {TOKEN: {ssm: arn:...}}`); Terraform passes
the map as one variable, ``STEPQUEUE_SECRETS`` (JSON: name -> ARN of an SSM parameter or a
Secrets Manager secret), and grants the function read access to exactly those. The runtime
reads them into ``os.environ`` before the user's module is imported, so the handler reads a
secret like any variable. A refused or failed read does not crash the container (Lambda would
retry it in a loop): it is reported, and every task of the invocation fails with
``Stepqueue.SecretUnavailable`` naming the variable and the ARN; the next invocation reads
again, so a permission granted later takes effect without a new container.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, MutableMapping
from typing import Any

from stepqueue_aws import Retries, cached_client

ENV = "STEPQUEUE_SECRETS"
SECRET_UNAVAILABLE = "Stepqueue.SecretUnavailable"
_RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=10)
_clients: dict[str, Any] = {}
_done: set[str] = set()  # the STEPQUEUE_SECRETS values already resolved in this container


def _client(service: str) -> Any:
    return cached_client(_clients, service, _RETRIES)


def _read(arn: str, client: Callable[[str], Any]) -> str:
    service = arn.split(":", 3)[2] if arn.count(":") >= 3 else ""
    if service == "ssm":
        found = client("ssm").get_parameter(Name=arn, WithDecryption=True)
        return str(found["Parameter"]["Value"])
    if service == "secretsmanager":
        found = client("secretsmanager").get_secret_value(SecretId=arn)
        if "SecretString" not in found:
            raise ValueError("the secret holds binary data, not text")
        return str(found["SecretString"])
    raise ValueError("not the ARN of an SSM parameter or a Secrets Manager secret")


def _error_name(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def resolve(
    environ: MutableMapping[str, str] | None = None,
    client: Callable[[str], Any] = _client,
) -> str | None:
    """Put every secret of ``STEPQUEUE_SECRETS`` into the environment; None when done (or
    none), else why not (the cause every task of the invocation fails with)."""
    env = os.environ if environ is None else environ
    raw = env.get(ENV, "")
    if not raw or raw in _done:
        return None
    try:
        wanted = json.loads(raw)
    except ValueError:
        wanted = None
    if not isinstance(wanted, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in wanted.items()
    ):
        return f"{ENV} is not a JSON object of variable name to ARN"
    values: dict[str, str] = {}
    for name, arn in sorted(wanted.items()):
        try:
            values[name] = _read(arn, client)
        except Exception as exc:  # any failure is reported, never raised into Lambda
            return (
                f"environment variable {name}: reading {arn} failed ({_error_name(exc)}: "
                f"{exc}); check that the secret exists and that the function's role may read "
                "it (and decrypt it with its KMS key)"
            )
    env.update(values)  # all or nothing: a handler never sees half of its secrets
    _done.add(raw)
    return None
