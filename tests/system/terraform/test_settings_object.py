"""A deployment made by the root of commit BEFORE (each wrapper module with its own pass-through
Lambda variables) planned with the current root against the same state: the one settings
object of modules/lambda_function, its wrappers' `function` variable and the dashboard's
permissions widget (there only when a worker has extra permissions) leave a deployment as it
was. The only changes are those of a later design: each semaphore's arrivals queue, created
beside the deployment (ARRIVALS), with the Acquire states and two policies updated in place.

BEFORE is deployed as it was: its root (`git archive`) applied with the generator's output for
SPECS, whose workers declare none of their own settings (their fields at the defaults,
docs/contracts.md); the current root then plans with the same output, and with the output of
a generator that does not write those fields (tfvars written before them): both must plan
nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from stepqueue.deploy.artifacts import generate
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.deployment import local_deployment
from stepqueue.local.emulator import Emulator
from stepqueue.paths import REPO
from tests.system.terraform.support import WORKER_FIELD_DEFAULTS, archive_of

# The last commit of main before the one settings object (the worker fields were there).
BEFORE = "e86c3ba"
WHAT = "the deployment before the settings object"
# Workflows with and without a semaphore: workers, the gatekeeper; and the root's starter and
# watchdog, every caller of modules/lambda_function.
SPECS = ("burst", "media")


def _with_workers(generated: Path, dest: Path, edit: Any) -> Path:
    """A copy of the generator's output whose every worker object went through `edit`."""
    shutil.copytree(generated, dest)
    tfvars_path = dest / "workflows.tfvars.json"
    tfvars = json.loads(tfvars_path.read_text())
    for workflow in tfvars["workflows"].values():
        workflow["workers"] = {name: edit(w) for name, w in workflow["workers"].items()}
    tfvars_path.write_text(json.dumps(tfvars, indent=2, sort_keys=True))
    return dest


def _as_before_arrivals_queues(generated: Path) -> Path:
    """The definitions as the generator of BEFORE wrote them: the Acquire state sent to the
    control queue (BEFORE's root knows no `${arrivals_queue_url}`)."""
    for asl in (generated / "asl").glob("*.json"):
        text = asl.read_text()
        asl.write_text(text.replace("${arrivals_queue_url}", "${gatekeeper_queue_url}"))
    return generated


def _changes(tf: Terraform, plan_file: Path) -> list[tuple[str, list[str]]]:
    tf.plan_to_file(plan_file)
    plan = json.loads(tf.show_plan(plan_file))
    return [
        (c["address"], c["change"]["actions"])
        for c in plan.get("resource_changes", [])
        if c["change"]["actions"] != ["no-op"]
    ]


def test_a_deployment_made_before_the_settings_object_plans_no_change(
    emulator: Emulator, lambda_zip: Path, tmp_path: Path
) -> None:
    generated = generate([REPO / "workflows" / f"{n}.yaml" for n in SPECS], tmp_path / "gen")

    def without_fields(worker: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in worker.items() if k not in WORKER_FIELD_DEFAULTS}

    def with_defaults(worker: dict[str, Any]) -> dict[str, Any]:
        return {**worker, **WORKER_FIELD_DEFAULTS}

    old_inputs = _as_before_arrivals_queues(
        _with_workers(generated, tmp_path / "old", with_defaults)
    )
    work_dir = tmp_path / "state"
    prefix = "so-"
    before = local_deployment(
        emulator.endpoint,
        work_dir,
        root=archive_of(BEFORE, tmp_path / "before", "terraform", "modules", what=WHAT)
        / "terraform",
        generated_dir=old_inputs,
        lambda_zip=lambda_zip,
        name_prefix=prefix,
    )
    before.init()
    before.apply()
    state = json.loads(before.state_path.read_text())
    modules = {
        r.get("module", "").split(".")[1].split("[")[0] for r in state["resources"] if "module" in r
    }
    assert {"worker", "gatekeeper", "start_queue", "watchdog"} <= modules, modules

    # The same state, the current root: with the tfvars of a generator that writes the worker
    # fields (at their defaults), and of one that does not.
    for name, edit in (("defaults", with_defaults), ("absent", without_fields)):
        inputs = _with_workers(generated, tmp_path / name, edit)
        current = local_deployment(
            emulator.endpoint,
            work_dir,
            generated_dir=inputs,
            lambda_zip=lambda_zip,
            name_prefix=prefix,
        )
        current.init()
        changes = _changes(current, tmp_path / f"{name}.bin")
        assert _beside_arrivals(changes) == [], f"the current root would change ({name}): {changes}"
        # Since BEFORE, each semaphore's acquires have a queue of their own: created beside
        # the deployment, its Acquire states pointed at it, nothing replaced.
        created = sorted(a for a, actions in changes if actions == ["create"])
        assert created == sorted(ARRIVALS), created


# What each semaphore's arrivals queue (modules/gatekeeper) adds to a deployment made before it:
# its queues, DLQ alarm and mapping; the Acquire states of its workflows and the policies that
# let them send there and the gatekeeper read from there are updated in place.
ARRIVALS = (
    'module.gatekeeper[0].aws_lambda_event_source_mapping.arrivals["burst"]',
    'module.gatekeeper[0].module.arrivals["burst"].aws_cloudwatch_metric_alarm.dlq[0]',
    'module.gatekeeper[0].module.arrivals["burst"].aws_sqs_queue.dlq',
    'module.gatekeeper[0].module.arrivals["burst"].aws_sqs_queue.this',
)
ARRIVALS_UPDATES = (
    'module.state_machine["burst"].',
    # The control queue in high-throughput mode (a quota per semaphore's group), and its
    # policy, whose document names the queue, written again with it.
    "module.gatekeeper[0].aws_sqs_queue.this",
    "module.gatekeeper[0].aws_sqs_queue_policy.this",
    "module.gatekeeper[0].module.function.aws_iam_role_policy.",
)


def _beside_arrivals(changes: list[tuple[str, list[str]]]) -> list[tuple[str, list[str]]]:
    """The changes the arrivals queues do not explain."""
    return [
        (address, actions)
        for address, actions in changes
        if not (actions == ["create"] and ".arrivals" in address)
        and not (actions == ["update"] and address.startswith(ARRIVALS_UPDATES))
        # The policy documents of those policies, read again at apply time.
        and not (
            actions == ["read"]
            and address.startswith(('module.state_machine["burst"].', "module.gatekeeper[0]."))
            and "data.aws_iam_policy_document." in address
        )
    ]
