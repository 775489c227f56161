"""STEPQUEUE_SECRETS against the emulator's SSM and Secrets Manager: the runtime reads a
parameter and a secret by the ARNs the spec names (GetParameter takes an ARN as its Name), and a
missing one is reported with its variable, not raised."""

from __future__ import annotations

import json
import uuid

from stepqueue_runtime import secrets

from stepqueue.local.emulator import Emulator


def test_secrets_are_read_by_arn(emulator: Emulator) -> None:
    ssm, manager = emulator.client("ssm"), emulator.client("secretsmanager")
    name = f"/stepqueue-test/{uuid.uuid4().hex}"
    ssm.put_parameter(Name=name, Value="t0ken", Type="SecureString")
    parameter_arn = ssm.get_parameter(Name=name)["Parameter"]["ARN"]
    secret_arn = manager.create_secret(Name=f"db-{uuid.uuid4().hex[:8]}", SecretString="pw")["ARN"]
    clients = {"ssm": ssm, "secretsmanager": manager}
    secrets._done.clear()
    env = {secrets.ENV: json.dumps({"API_TOKEN": parameter_arn, "DB_PASSWORD": secret_arn})}
    assert secrets.resolve(env, clients.__getitem__) is None
    assert (env["API_TOKEN"], env["DB_PASSWORD"]) == ("t0ken", "pw")

    gone = parameter_arn + "-gone"
    problem = secrets.resolve({secrets.ENV: json.dumps({"GONE": gone})}, clients.__getitem__)
    assert problem is not None and "GONE" in problem and gone in problem
    assert "ParameterNotFound" in problem
    secrets._done.clear()
