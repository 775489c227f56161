"""What a deployment is made of: the generated inputs, the Lambda zip and the stage; and the
fingerprint that tells whether a saved plan still describes them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepqueue.console import BadInput
from stepqueue.deploy.terraform import (
    DEFAULT_WORKSPACE,
    Terraform,
    TerraformError,
    file_digest,
    tf_digest,
)
from stepqueue.paths import TERRAFORM_ROOT

TFVARS_FILE = "workflows.tfvars.json"
# The root's `stage` variable enforces the same rule; checked here too so a bad name fails
# before Terraform starts.
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,9}$")


class StageInvalid(TerraformError, BadInput):
    """--stage names no stage one can deploy (bad input, exit 2)."""


def check_stage(stage: str | None) -> None:
    if stage == DEFAULT_WORKSPACE:
        # It would share the unstaged deployment's workspace (state) under other names.
        raise StageInvalid(
            f"stage {DEFAULT_WORKSPACE!r} is reserved: leave --stage out for the unstaged "
            "deployment, or pick another name; a stage prefixes every resource name"
        )
    if stage is not None and not STAGE_PATTERN.match(stage):
        raise StageInvalid(
            f"stage {stage!r} is not valid: use 1-10 lowercase letters or digits, starting "
            "with a letter (e.g. dev, prod, qa2); it prefixes every resource name"
        )


@dataclass(frozen=True)
class DeployInputs:
    """The generator's output directory and the Lambda zip one deployment uses."""

    generated_dir: Path
    lambda_zip: Path

    @property
    def tfvars(self) -> Path:
        path = self.generated_dir / TFVARS_FILE
        if not path.is_file():
            raise TerraformError(
                f"{path} is missing: run `stepqueue plan` (it generates the specs and builds the "
                "Lambda zip), review it, then apply"
            )
        if not self.lambda_zip.is_file():
            raise TerraformError(
                f"{self.lambda_zip} is missing: run `stepqueue plan` (it builds the zip), review "
                "it, then apply"
            )
        return path

    def variables(self) -> dict[str, Any]:
        return {
            "generated_dir": str(self.generated_dir.resolve()),
            "lambda_zip_path": str(self.lambda_zip),
        }

    def fingerprint(
        self, terraform: Terraform, account: str | None = None, backend: str | None = None
    ) -> dict[str, Any]:
        """Everything a saved plan was made from, by content: generated files, the zip, the
        Terraform code, the variables, the backend config, the workspace and the account."""
        self.tfvars  # noqa: B018 - raises with the fix when an input is missing
        generated = {
            str(path.relative_to(self.generated_dir)): file_digest(path)
            for path in sorted(self.generated_dir.rglob("*"))
            if path.is_file()
        }
        config = terraform.backend_config
        return {
            "generated": generated,
            "lambda_zip": file_digest(self.lambda_zip),
            # Each worker's own artifact (stepqueue/deploy/worker_zip.py), beside the zip.
            "worker_artifacts": {
                path.name: file_digest(path)
                for path in sorted((self.lambda_zip.parent / "workers").glob("*.zip"))
            },
            "terraform_code": tf_digest(terraform.root),
            "variables": {key: str(value) for key, value in sorted(terraform.variables.items())},
            "backend_config": file_digest(config) if config else None,
            "backend_type": backend,
            "workspace": terraform.workspace,
            "account": account,
        }


def aws_deployment(
    *,
    inputs: DeployInputs,
    stage: str | None = None,
    backend_config: Path | None = None,
    root: Path = TERRAFORM_ROOT,
    stream: bool = True,
) -> Terraform:
    """The root against real AWS, its state in the root's backend, one workspace per stage;
    credentials from the environment."""
    check_stage(stage)
    variables = inputs.variables()
    if stage:
        variables["stage"] = stage
    return Terraform(
        root=root,
        variables=variables,
        var_files=[inputs.tfvars],
        stream=stream,
        backend_config=backend_config,
        workspace=stage or DEFAULT_WORKSPACE,
    )


def require_aws_credentials() -> None:
    """Fail before Terraform does, with the fix, when no credential source answers at all."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        credentials = boto3.Session().get_credentials()
    except BotoCoreError as error:  # e.g. AWS_PROFILE names a profile that does not exist
        raise TerraformError(f"AWS credentials: {error}; fix AWS_PROFILE or its config") from None
    if credentials is None:
        raise TerraformError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or try it locally: `stepqueue emulator` in another "
            "terminal, then --env local"
        )


def aws_account_id() -> str:
    """The account the credentials act in: a saved plan is applied only in the account it was
    made for."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return str(boto3.client("sts").get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as error:
        raise TerraformError(f"which AWS account do the credentials act in? {error}") from None
