"""Where a command runs, from its `--env`: the running emulator (`local`) or AWS.

The one place that maps `--env local` to the emulator; deploy and ops code is handed the
endpoint (None for AWS) and a client factory, and never looks either up.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def endpoint_for(env: str, port_file: Path) -> str | None:
    """The running emulator's endpoint for `--env local` (the project's emulator: its port in
    `port_file`); None for AWS, once credentials are known to exist (checked before anything
    is built or asked)."""
    if env == "local":
        from stepqueue.local.deployment import running_emulator_endpoint

        return running_emulator_endpoint(port_file)
    from stepqueue.deploy.inputs import require_aws_credentials

    require_aws_credentials()
    return None


def aws_clients(endpoint: str | None, region: str | None) -> Callable[[str], Any]:
    """boto3 clients for the emulator at `endpoint`, or for AWS in `region`."""
    if endpoint is not None:
        from stepqueue.local.emulator import make_client

        return lambda service: make_client(endpoint, service)
    import boto3

    return lambda service: boto3.client(service, region_name=region)
