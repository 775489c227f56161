"""A deployment made by the root of commit BEFORE (before the shared Lambda module existed, and
when the polling semaphore was the only design) planned with the current root against the same
state: the plan must destroy and replace nothing but the reclaimer.

The BEFORE deployment is made as it was then: the root of BEFORE (`git archive`) applied with
what the generator of BEFORE rendered from the specs of BEFORE, in a subprocess run from an
archive of that commit (`python -m generator generate`, its CLI then). The current generator
refuses `mode: polling`, and the current root refuses tfvars whose semaphore has no `mode`
(BEFORE's, written when polling was the only design) with how to migrate: that is the first
plan. The migration is the second: the same specs, rendered by the current generator (the
waiting room, the only mode), planned with the current root. The moved blocks of
modules/worker keep every worker's function, role, policy and log group; the gatekeeper is
added, the table gains its index and the state machines their new definitions in place; the
reclaimer, which the retired polling design needed, is destroyed (the root's `removed` block),
and nothing else is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.artifacts import generate
from stepqueue.deploy.terraform import Terraform, TerraformError
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO
from tests.system.terraform.support import archive_of

# The last commit whose modules/worker and modules/reclaimer held their Lambda resources
# themselves; its workflows' semaphores polled (the only design then).
BEFORE = "e31931d"
WHAT = "the deployment before the shared Lambda module and the waiting room"
# What each worker held and now leaves to module.function.
MOVED = (
    "aws_lambda_function.this",
    "aws_iam_role.this",
    "aws_iam_role_policy.this",
    "aws_cloudwatch_log_group.this",
)
# The one in-place update of a worker since that commit: each worker function's environment
# gained STEPQUEUE_MAX_RECEIVE_COUNT (the runtime's last-receive rule at the deadline).
WORKER_FUNCTION = 'module.worker["{key}"].module.function.aws_lambda_function.this'
# Modules that did not exist at BEFORE: a plan may create (and then update) theirs.
NEW_SINCE_BEFORE = ("module.monitoring[0].", "module.watchdog[0].", "module.start_queue[0].")
RECLAIMER = "module.reclaimer[0]."
GATEKEEPER = "module.gatekeeper[0]."

# The smallest deployment that shows every moved block and the reclaimer's removal: a workflow
# whose semaphore polled (a worker and the reclaimer) and one without a semaphore (a worker
# alone). Neither uses anything newer than BEFORE.
SPECS = ("burst", "media")


@pytest.fixture(scope="module")
def before_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPECS as the deployment made at BEFORE had them: the specs of BEFORE rendered by the
    generator of BEFORE, run as it was run then (`python -m generator generate SPEC... --out
    DIR --lambda-src DIR`, its handler check reading the lambda_src of BEFORE), from an
    archive of that commit in a subprocess, so the current generator is not imported."""
    source = archive_of(
        BEFORE,
        tmp_path_factory.mktemp("before-src"),
        *("generator", "workflows", "lambda_src"),
        what=WHAT,
    )
    out = tmp_path_factory.mktemp("generated-before") / "out"
    # `python -m` puts the working directory first on sys.path: BEFORE's generator package.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    env.pop("STEPQUEUE_LAMBDA_SRC", None)
    specs = [f"workflows/{name}.yaml" for name in SPECS]
    command = [sys.executable, "-m", "generator", "generate", *specs, "--out", str(out)]
    result = subprocess.run(
        [*command, "--lambda-src", "lambda_src"],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"the generator of {BEFORE} failed:\n{result.stderr}"
    # What only that generator writes: semaphores without a mode (polling was the only
    # design), and an acquire that names the table.
    tfvars = json.loads((out / "workflows.tfvars.json").read_text())
    assert tfvars["semaphores"] and all("mode" not in s for s in tfvars["semaphores"].values())
    assert "${semaphore_table}" in (out / "asl" / "burst.asl.json").read_text()
    return out


@pytest.fixture(scope="module")
def room_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same workflows rendered by the current generator: the waiting room, the only mode."""
    specs = [REPO / "workflows" / f"{name}.yaml" for name in SPECS]
    return generate(specs, tmp_path_factory.mktemp("generated-room") / "out")


def _changes(tf: Terraform, plan_file: Path) -> list[dict[str, Any]]:
    tf.plan_to_file(plan_file)
    return list(json.loads(tf.show_plan(plan_file)).get("resource_changes", []))


def _worker_keys(generated_dir: Path) -> list[str]:
    tfvars = json.loads((generated_dir / "workflows.tfvars.json").read_text())
    return sorted(
        f"{workflow}/{worker}"
        for workflow, spec in tfvars["workflows"].items()
        for worker in spec["workers"]
    )


def test_a_deployment_made_before_the_lambda_module_and_the_waiting_room_migrates_in_place(
    emulator: Emulator,
    before_generated_dir: Path,
    room_generated_dir: Path,
    lambda_zip: Path,
    tmp_path: Path,
) -> None:
    work_dir = tmp_path / "state"
    prefix = "mv-"

    before = local_deployment(
        emulator.endpoint,
        work_dir,
        root=archive_of(BEFORE, tmp_path / "before", "terraform", "modules", what=WHAT)
        / "terraform",
        generated_dir=before_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    before.init()
    before.apply()
    state = json.loads(before.state_path.read_text())
    assert any(r.get("module", "").startswith("module.reclaimer") for r in state["resources"])

    # Same work dir, so same state file; the init marker sees other code and inits again.
    # Nothing is destroyed afterwards: the names are this test's own on the session emulator.
    # The current root with the inputs of BEFORE: refused at plan time, with how to migrate
    # (before polling was retired, this plan was the one without replacements).
    current = local_deployment(
        emulator.endpoint,
        work_dir,
        generated_dir=before_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    current.init()
    with pytest.raises(TerraformError) as refused:
        current.plan_to_file(tmp_path / "refused.bin")
    assert "mode must be waiting_room: polling was retired" in str(refused.value)
    assert "Regenerate workflows.tfvars.json" in str(refused.value)

    # The migration: the same deployment, its workflows rendered by the current generator.
    room = local_deployment(
        emulator.endpoint,
        work_dir,
        generated_dir=room_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    room.init()
    changes = _changes(room, tmp_path / "room.bin")
    actions = {c["address"]: c["change"]["actions"] for c in changes}
    replaced = sorted(a for a, act in actions.items() if "delete" in act and "create" in act)
    assert replaced == [], f"moving to the waiting room would replace: {replaced}"
    # Only the reclaimer goes (the root's `removed` block), at the addresses BEFORE gave its
    # resources: its module, and so its moved blocks, no longer exist.
    destroyed = sorted(a for a, act in actions.items() if act == ["delete"])
    assert destroyed and all(a.startswith(RECLAIMER) for a in destroyed), destroyed
    assert {RECLAIMER + address for address in MOVED} <= set(destroyed), destroyed
    created = sorted(a for a, act in actions.items() if act == ["create"])
    assert any(a.startswith(GATEKEEPER) for a in created), created
    assert all(a.startswith((GATEKEEPER, *NEW_SINCE_BEFORE)) for a in created), created
    updated = sorted(
        a for a, act in actions.items() if act == ["update"] and not a.startswith(NEW_SINCE_BEFORE)
    )
    assert "module.semaphore[0].aws_dynamodb_table.this" in updated  # the holders index
    assert all(
        a.startswith(
            ("module.semaphore[0].aws_dynamodb_table.", "module.state_machine[", "module.worker[")
        )
        for a in updated
    ), updated
    workers = _worker_keys(room_generated_dir)
    assert workers == _worker_keys(before_generated_dir)
    assert {WORKER_FUNCTION.format(key=key) for key in workers} <= set(updated), updated

    # The moved blocks were used: every old address of a worker shows up as the previous
    # address of its new one.
    moved = {c["previous_address"]: c["address"] for c in changes if "previous_address" in c}
    owners = [f'module.worker["{key}"]' for key in workers]
    expected = {
        f"{owner}.{address}": f"{owner}.module.function.{address}"
        for owner in owners
        for address in MOVED
    }
    assert moved == expected
