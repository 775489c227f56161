"""The Terraform root deployed to the local emulator: the same code and inputs as on AWS, with
the endpoint, fast-failing retries and disabled event source mappings (the local runner does
their job)."""

from __future__ import annotations

import sys
from pathlib import Path

from stepqueue.deploy.inputs import DeployInputs, check_stage
from stepqueue.deploy.terraform import Terraform, TerraformError
from stepqueue.local.emulator import aws_env, is_reachable
from stepqueue.paths import TERRAFORM_ROOT

# Low locally: with the shims nothing should fail, and a gap must fail fast, not after minutes
# of the provider's default 25 retries.
LOCAL_MAX_RETRIES = 2
# Every resource of a root in flight at once: the emulator answers at once, and the provider's
# fixed ~25 s of polling per SQS queue would otherwise queue up ten at a time.
LOCAL_PARALLELISM = 64


def local_deployment(
    endpoint: str,
    work_dir: Path,
    *,
    root: Path = TERRAFORM_ROOT,
    generated_dir: Path,
    lambda_zip: Path,
    name_prefix: str = "",
    stage: str | None = None,
    stream: bool = False,
) -> Terraform:
    """The root against the emulator at `endpoint`, with state and data dir in `work_dir`."""
    check_stage(stage)
    inputs = DeployInputs(generated_dir, lambda_zip)
    tfvars = inputs.tfvars
    variables = inputs.variables()
    variables.update(
        aws_endpoint_url=endpoint,
        max_retries=LOCAL_MAX_RETRIES,
        # moto would run an enabled mapping's Lambda in Docker (absent): the local runner
        # (stepqueue.local.runner) does the mapping's job instead.
        event_source_mapping_enabled=False,
        # The local runner runs handlers with its own interpreter: the functions declare that
        # runtime, and worker artifacts are built for it (the runner refuses a mismatch).
        lambda_runtime=f"python{sys.version_info.major}.{sys.version_info.minor}",
    )
    if name_prefix:
        variables["name_prefix"] = name_prefix
    if stage:
        variables["stage"] = stage
    return Terraform(
        root=root,
        work_dir=work_dir,
        variables=variables,
        var_files=[tfvars],
        env=aws_env(endpoint),
        stream=stream,
        parallelism=LOCAL_PARALLELISM,
    )


def running_emulator_endpoint(port_file: Path) -> str:
    """The endpoint of the emulator `stepqueue emulator` runs (its port in the project's
    `port_file`), or an error saying to start it."""
    hint = (
        "start it first: `stepqueue emulator --background` (or `stepqueue emulator` in another "
        "terminal)"
    )
    try:
        port = int(port_file.read_text().strip())
    except (OSError, ValueError):
        raise TerraformError(f"no emulator port in {port_file}: {hint}") from None
    endpoint = f"http://127.0.0.1:{port}"
    if not is_reachable(endpoint):
        raise TerraformError(f"the emulator at {endpoint} ({port_file}) is not answering: {hint}")
    return endpoint
