"""What every command that reads a deployed stack shares: where it runs (a running emulator, or
AWS with credentials), its Terraform outputs, boto3 clients for it, and one-line failures.

`stepqueue semaphore`, `stepqueue drift` and `stepqueue redrive` find a deployment the way
`plan` and `apply` do (`--env`, `--stage`, the backend flags) and report every failure as one
error (docs/cli.md) with exit status 1, or 2 for bad input. Where the deployment runs (the
emulator's endpoint, or AWS) is decided by the command line (stepqueue/environment.py) and
handed in: nothing here knows the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepqueue.deploy.terraform import TerraformError

if TYPE_CHECKING:
    from stepqueue.deploy.commands import Target

TargetFor = Callable[[str | None], "Target"]  # emulator endpoint (or None) -> the deployment


def deployment_outputs(target: Target) -> dict[str, Any]:
    from stepqueue.deploy.backend import backend_override

    tf = target.terraform
    tf.stream = False  # stdout is this command's answer (--json): Terraform's chatter stays out
    with backend_override(tf.root, target.backend):
        tf.init()
        return tf.output()


def client_error(error: Any) -> str:
    info = error.response.get("Error", {})
    operation = getattr(error, "operation_name", "call")
    return f"{operation} failed: {info.get('Code', 'error')}: {info.get('Message', '')}".rstrip(
        ": "
    )


def reporting_failures(
    prog: str, command: Callable[[], int], refusals: tuple[type[Exception], ...]
) -> int:
    """`command()`'s status; a refusal (`refusals`, a Terraform failure) or an AWS error ends
    the command as one error (stepqueue.console: a line, or JSON under --json), exit 1, or 2
    for bad input. Never a traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    from stepqueue import console

    try:
        return command()
    except (*refusals, TerraformError, BotoCoreError) as error:
        raise console.from_exception(error) from None
    except ClientError as error:
        raise console.CommandError(client_error(error), kind="aws") from None
