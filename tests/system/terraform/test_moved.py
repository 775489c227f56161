"""The `moved` blocks of the shared Lambda module: a deployment made by the root as it was before
the module existed (commit BEFORE, whose definitions only knew the polling semaphore) is planned
with the current root against the same state, and the plan must destroy and replace nothing.
Without the moved blocks every worker's and the reclaimer's function, role, policy and log group
would be destroyed and created again. Then the same deployment moved to the waiting room (the
default now): the gatekeeper is added, the table gains its index and the state machines their
new definitions in place; only the reclaimer goes, since no workflow polls any more."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.artifacts import generate
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO

# The last commit whose modules/worker and modules/reclaimer held their Lambda resources
# themselves.
BEFORE = "e31931d"
# What each of them held and now leaves to module.function.
MOVED = (
    "aws_lambda_function.this",
    "aws_iam_role.this",
    "aws_iam_role_policy.this",
    "aws_cloudwatch_log_group.this",
)
# The one in-place update since that commit: each worker function's environment gained
# STEPQUEUE_MAX_RECEIVE_COUNT (the runtime's last-receive rule at the deadline).
WORKER_FUNCTION = 'module.worker["{key}"].module.function.aws_lambda_function.this'
# Modules that did not exist at BEFORE: a plan may create (and then update) theirs, nothing else.
NEW_SINCE_BEFORE = ("module.monitoring[0].", "module.watchdog[0].", "module.start_queue[0].")


# The smallest deployment that shows every moved block: a workflow whose semaphore polled (a
# worker and the reclaimer) and one without a semaphore (a worker alone). Neither uses
# anything newer than BEFORE.
SPECS = ("burst", "media")


@pytest.fixture(scope="module")
def polling_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPECS with their semaphore in the first version's `polling` mode: what a deployment
    made before the waiting room looked like."""
    specs_dir = tmp_path_factory.mktemp("polling-specs")
    for name in SPECS:
        text = (REPO / "workflows" / f"{name}.yaml").read_text()
        (specs_dir / f"{name}.yaml").write_text(
            text.replace("\nconcurrency:\n", "\nconcurrency:\n  mode: polling\n")
        )
    specs = sorted(specs_dir.glob("*.yaml"))
    return generate(specs, tmp_path_factory.mktemp("generated-polling") / "out")


@pytest.fixture(scope="module")
def room_generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same workflows in the waiting room (the default)."""
    specs = [REPO / "workflows" / f"{name}.yaml" for name in SPECS]
    return generate(specs, tmp_path_factory.mktemp("generated-room") / "out")


def _extract_before(dest: Path) -> Path:
    """terraform/ and modules/ of commit BEFORE under `dest`; fails (never skips) without it."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", BEFORE, "terraform", "modules"],
        capture_output=True,
    )
    assert archive.returncode == 0, (
        f"commit {BEFORE} (the Terraform before the shared Lambda module) is not in this "
        f"repository, so the moved blocks cannot be proven: fetch it "
        f"({archive.stderr.decode(errors='replace').strip()})"
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "terraform"


def _changes(tf: Terraform, plan_file: Path) -> list[dict[str, Any]]:
    tf.plan_to_file(plan_file)
    return list(json.loads(tf.show_plan(plan_file)).get("resource_changes", []))


def test_current_root_plans_no_replacement_of_a_deployment_made_before_the_lambda_module(
    emulator: Emulator,
    polling_generated_dir: Path,
    room_generated_dir: Path,
    lambda_zip: Path,
    tmp_path: Path,
) -> None:
    work_dir = tmp_path / "state"
    prefix = "mv-"

    before = local_deployment(
        emulator.endpoint,
        work_dir,
        root=_extract_before(tmp_path / "before"),
        generated_dir=polling_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    before.init()
    before.apply()
    state = json.loads(before.state_path.read_text())
    assert any(r.get("module", "").startswith("module.reclaimer") for r in state["resources"])

    # Same work dir, so same state file; the init marker sees other code and inits again.
    # Nothing is destroyed afterwards: the names are this test's own on the session emulator.
    current = local_deployment(
        emulator.endpoint,
        work_dir,
        generated_dir=polling_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    current.init()
    changes = _changes(current, tmp_path / "plan.bin")

    actions = {c["address"]: c["change"]["actions"] for c in changes}
    destroyed = sorted(a for a, act in actions.items() if "delete" in act)
    assert destroyed == [], f"the current root would destroy or replace: {destroyed}"
    # Added since, and nothing else: the dashboard and the alarms (module.monitoring), and
    # the watchdog the running-too-long alarms read (module.watchdog).
    created = sorted(a for a, act in actions.items() if "create" in act)
    assert all(a.startswith(NEW_SINCE_BEFORE) for a in created), f"would create: {created}"
    updated = {
        a: set(act)
        for a, act in actions.items()
        if act != ["no-op"] and not a.startswith(NEW_SINCE_BEFORE)
    }
    workers = json.loads((polling_generated_dir / "workflows.tfvars.json").read_text())
    expected = {
        WORKER_FUNCTION.format(key=f"{workflow}/{worker}"): {"update"}
        for workflow, spec in workers["workflows"].items()
        for worker in spec["workers"]
    }
    assert updated == expected, f"unexpected in-place updates: {updated}"

    # The moved blocks were used: every old address shows up as the previous address of its
    # new one, for each worker and for the reclaimer.
    moved = {c["previous_address"]: c["address"] for c in changes if "previous_address" in c}
    workers = {
        f"{wf}/{wk}"
        for wf, spec in json.loads((polling_generated_dir / "workflows.tfvars.json").read_text())[
            "workflows"
        ].items()
        for wk in spec["workers"]
    }
    owners = [f'module.worker["{key}"]' for key in sorted(workers)] + ["module.reclaimer[0]"]
    expected = {
        f"{owner}.{address}": f"{owner}.module.function.{address}"
        for owner in owners
        for address in MOVED
    }
    assert moved == expected

    # The same deployment, its workflows now in the waiting room.
    room = local_deployment(
        emulator.endpoint,
        work_dir,
        generated_dir=room_generated_dir,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    room.init()
    actions = {c["address"]: c["change"]["actions"] for c in _changes(room, tmp_path / "room.bin")}
    replaced = sorted(a for a, act in actions.items() if "delete" in act and "create" in act)
    assert replaced == [], f"moving to the waiting room would replace: {replaced}"
    destroyed = sorted(a for a, act in actions.items() if act == ["delete"])
    assert destroyed and all(a.startswith("module.reclaimer[0].") for a in destroyed), destroyed
    created = sorted(a for a, act in actions.items() if act == ["create"])
    assert any(a.startswith("module.gatekeeper[0].") for a in created), created
    assert all(a.startswith(("module.gatekeeper[0].", *NEW_SINCE_BEFORE)) for a in created), created
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
