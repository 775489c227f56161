"""The session's deployed stack: the spine of every test in this folder.

The root is applied once per session, on this folder's own emulator (below), as three
deployments side by side, each under its own name prefix and applied at the same time (their
waits overlap):

- `main` (`wf-`): workflows/*.yaml, what a team deploys. Read back by test_applied.py (which
  runs first: it sees the stack as Terraform left it) and run end to end by the e2e tests.
- `ops` (`ops-`): two of the examples, for drift and redrive, which change things behind
  Terraform's back; nobody else reads it.
- `e2e` (`e2e-`): a user's own handlers outside lambda_src/examples (userfaults/) packaged
  into a zip of their own, workflows/payloads.yaml with the payload bucket on, and
  workflows/extras/thumbnails.yaml, whose worker ships Pillow in its own artifact (built for
  the local runner's Python) and reads the bucket with a permission of its own.

The emulator enforces IAM (`Emulator(enforce_iam=True)`, docs/local-emulator.md "IAM"): the
root is applied with the emulator's allow-everything test key, and every function the local
runner runs calls AWS with its own deployed role, so a permission a module forgets fails here.
It is this folder's own emulator (the session's one, tests/conftest.py, does not enforce: the
emulator tier's hand-made functions have roles Lambda could not assume).

All tests of this folder run on one xdist worker, one after another (tests/scheduling.py).
Nothing is destroyed at the end: the emulator goes with the session. Destroy is the subject
of tests/system/terraform/test_commands.py, on the smallest root that shows it.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.artifacts import build_lambda_zip, generate, local_python_version
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.burst import Deployment
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.paths import LAMBDA_SRC, REPO

HERE = Path(__file__).resolve().parent
WORKFLOWS = sorted((REPO / "workflows").glob("*.yaml"))
OPS_SPECS = ("burst", "media")
PAYLOAD_BUCKET = {"payload_bucket_enabled": True, "payload_expiration_days": 7}


@dataclasses.dataclass
class Applied:
    """One deployment of the root: its Terraform run, inputs and outputs."""

    emulator: Emulator
    prefix: str
    tf: Terraform
    generated_dir: Path
    lambda_zip: Path
    outputs: dict[str, Any]
    plan_json: Path  # the saved plan it was applied from, as `terraform show -json` prints it

    @property
    def tfvars(self) -> dict[str, Any]:
        tfvars: dict[str, Any] = json.loads(
            (self.generated_dir / "workflows.tfvars.json").read_text()
        )
        return tfvars

    @property
    def deployment(self) -> Deployment:
        return Deployment(self.emulator, self.outputs, self.tfvars, self.lambda_zip)


@dataclasses.dataclass
class Stack:
    emulator: Emulator
    main: Applied
    ops: Applied
    e2e: Applied


def _apply(
    emulator: Emulator,
    prefix: str,
    generated_dir: Path,
    lambda_zip: Path,
    work_dir: Path,
    variables: dict[str, Any] | None = None,
) -> Applied:
    base = local_deployment(
        emulator.endpoint,
        work_dir,
        generated_dir=generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    tf = dataclasses.replace(base, variables={**base.variables, **(variables or {})})
    tf.init()
    plan = work_dir / "deploy.tfplan"
    tf.plan_to_file(plan)
    plan_json = work_dir / "plan.json"
    plan_json.write_text(tf.show_plan(plan))
    (work_dir / "apply.log").write_text(tf.apply_plan(plan))
    return Applied(emulator, prefix, tf, generated_dir, lambda_zip, tf.output(), plan_json)


def _user_tree(dest: Path) -> Path:
    """A lambda_src of the user's own: the runtime packages plus userfaults/billing.py."""
    shutil.copytree(LAMBDA_SRC, dest, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(HERE / "userfaults" / "billing.py", dest / "billing.py")
    return dest


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """Overrides tests/conftest.py's for this folder: the same emulator, enforcing IAM."""
    with Emulator(atomic_dynamodb=True, enforce_iam=True) as emu:
        yield emu


@pytest.fixture(scope="session")
def stack(
    emulator: Emulator,
    lambda_zip: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    user_tree = _user_tree(tmp / "user-lambda-src")
    ops_specs = [REPO / "workflows" / f"{name}.yaml" for name in OPS_SPECS]
    e2e_specs = [
        HERE / "userfaults" / "userfaults.yaml",
        REPO / "workflows" / "payloads.yaml",
        REPO / "workflows" / "extras" / "thumbnails.yaml",
    ]
    e2e_gen = generate(e2e_specs, tmp / "e2e-gen", lambda_src=user_tree, name_prefix="e2e-")
    user_zip = build_lambda_zip(tmp / "user-lambda", user_tree, e2e_gen, local_python_version())
    plans = {
        "main": ("wf-", generate(WORKFLOWS, tmp / "main-gen", name_prefix="wf-"), lambda_zip, {}),
        "ops": ("ops-", generate(ops_specs, tmp / "ops-gen", name_prefix="ops-"), lambda_zip, {}),
        "e2e": ("e2e-", e2e_gen, user_zip, PAYLOAD_BUCKET),
    }
    with ThreadPoolExecutor(len(plans)) as pool:
        futures = {
            name: pool.submit(_apply, emulator, prefix, gen, zip_path, tmp / f"{name}-tf", extra)
            for name, (prefix, gen, zip_path, extra) in plans.items()
        }
        applied = {name: future.result() for name, future in futures.items()}
    yield Stack(emulator, applied["main"], applied["ops"], applied["e2e"])
