"""What is deployed against what the specs generate: `stepqueue drift`.

The expected side is the generator's output for the specs, rendered in memory (generator.api);
the deployed side is read from AWS (or the emulator) at the names the deployment's Terraform
outputs give. Compared, per workflow: the state machine's definition (the template with the
deployed queue URLs filled in, as Terraform's templatefile() does), per worker the queue's
attributes, the event source mapping's settings and the function's timeout, memory and reserved
concurrency, and per waiting-room semaphore the limit in its counter item. Only reads.

A waiting-room limit changed with `stepqueue semaphore set` is reported too: Terraform never
rewrites it, so the spec no longer says what runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from generator.api import TFVARS_FILE
from generator.templatefile import render_definition

Client = Callable[[str], Any]  # service name -> boto3 client


@dataclass(frozen=True)
class Difference:
    subject: str  # what differs, e.g. "orders/enrich queue VisibilityTimeout"
    deployed: Any
    expected: Any
    fix: str

    def line(self) -> str:
        return (
            f"{self.subject}: deployed {_show(self.deployed)}, the specs give "
            f"{_show(self.expected)} — {self.fix}"
        )

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


APPLY = "run `stepqueue plan` and `stepqueue apply` to put the specs' value back"
SET_LIMIT = "change the spec's limit, or `stepqueue semaphore set NAME --limit N` to match it"


def compare(
    files: Mapping[str, str], outputs: Mapping[str, Any], client: Client
) -> list[Difference]:
    """Every difference between the rendered `files` (generator.api.render) and the
    deployment whose Terraform `outputs` are given."""
    tfvars = json.loads(files[TFVARS_FILE])
    expected: dict[str, Any] = tfvars["workflows"]
    deployed_arns: dict[str, str] = outputs.get("state_machine_arns") or {}
    found: list[Difference] = []
    for wf in sorted(set(expected) | set(deployed_arns)):
        if wf not in deployed_arns:
            found.append(Difference(f"workflow {wf}", "absent", "present", APPLY))
            continue
        if wf not in expected:
            found.append(
                Difference(
                    f"workflow {wf}",
                    "present",
                    "absent",
                    "deployed from a spec not given: pass its directory with --workflows, or "
                    "apply to remove it",
                )
            )
            continue
        template = files[expected[wf]["definition_file"]]
        found += _definition(wf, template, expected[wf].get("semaphore"), outputs, client)
        found += _workers(wf, expected[wf]["workers"], outputs, client)
    found += _semaphores(tfvars.get("semaphores") or {}, outputs, client)
    return found


def _definition(
    wf: str, template: str, semaphore: str | None, outputs: Mapping[str, Any], client: Client
) -> list[Difference]:
    want = json.loads(
        render_definition(
            template,
            (outputs.get("queue_urls") or {}).get(wf, {}),
            str(outputs.get("semaphore_table_name") or ""),
            str(outputs.get("gatekeeper_queue_url") or ""),
            str((outputs.get("gatekeeper_arrivals_queue_urls") or {}).get(semaphore or "", "")),
        )
    )
    arn = outputs["state_machine_arns"][wf]
    have = json.loads(
        client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    )
    if have == want:
        return []
    subject = f"{wf} state machine definition"
    have_states, want_states = have.get("States", {}), want.get("States", {})
    changed = sorted(
        n for n in set(have_states) | set(want_states) if have_states.get(n) != want_states.get(n)
    )
    if changed:
        return [Difference(f"{subject}, states", changed, "as generated", APPLY)]
    keys = sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))
    return [Difference(f"{subject}, fields", keys, "as generated", APPLY)]


def _workers(
    wf: str, expected: Mapping[str, Any], outputs: Mapping[str, Any], client: Client
) -> list[Difference]:
    deployed: dict[str, Any] = (outputs.get("workers") or {}).get(wf, {})
    found: list[Difference] = []
    for wk in sorted(set(expected) | set(deployed)):
        if wk not in deployed or wk not in expected:
            state = ("absent", "present") if wk not in deployed else ("present", "absent")
            found.append(Difference(f"{wf}/{wk} worker", *state, APPLY))
            continue
        pairs = _worker_pairs(expected[wk], deployed[wk], client)
        found += [
            Difference(f"{wf}/{wk} {name}", have, expect, APPLY)
            for name, have, expect in pairs
            if have != expect
        ]
    return found


QUEUE_FIELDS = (
    ("VisibilityTimeout", "visibility_timeout_seconds"),
    ("MessageRetentionPeriod", "message_retention_seconds"),
    ("DelaySeconds", "delay_seconds"),
)
MAPPING_FIELDS = (
    ("BatchSize", "batch_size"),
    ("MaximumBatchingWindowInSeconds", "batching_window_seconds"),
)
FUNCTION_FIELDS = (("Timeout", "timeout_seconds"), ("MemorySize", "memory_mb"))


def _worker_pairs(
    want: Mapping[str, Any], where: Mapping[str, Any], client: Client
) -> list[tuple[str, Any, Any]]:
    """(setting, deployed, expected) for one worker's queue, mapping and function."""
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=where["queue_url"], AttributeNames=["All"]
    )["Attributes"]
    redrive = json.loads(attributes.get("RedrivePolicy") or "{}")
    pairs = [(f"queue {a}", _int(attributes.get(a)), want[k]) for a, k in QUEUE_FIELDS]
    pairs.append(
        ("queue maxReceiveCount", _int(redrive.get("maxReceiveCount")), want["max_receive_count"])
    )
    lam = client("lambda")
    mapping = lam.get_event_source_mapping(UUID=where["event_source_mapping_uuid"])
    pairs += [(f"mapping {a}", mapping.get(a, 0), want[k]) for a, k in MAPPING_FIELDS]
    scaling = mapping.get("ScalingConfig") or {}
    pairs.append(
        ("mapping MaximumConcurrency", scaling.get("MaximumConcurrency"), want["max_concurrency"])
    )
    name = where["function_name"]
    config = lam.get_function_configuration(FunctionName=name)
    pairs += [(f"function {a}", config.get(a), want[k]) for a, k in FUNCTION_FIELDS]
    reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    pairs.append(("function reserved concurrency", reserved, want["reserved_concurrency"]))
    return pairs


def _semaphores(
    expected: Mapping[str, Any], outputs: Mapping[str, Any], client: Client
) -> list[Difference]:
    table = outputs.get("semaphore_table_name")
    rooms = {n: s for n, s in expected.items() if s.get("mode") == "waiting_room"}
    if not rooms:
        return []
    if not table:
        return [Difference("semaphore table", "absent", "present", APPLY)]
    found: list[Difference] = []
    ddb = client("dynamodb")
    for name in sorted(rooms):
        item = ddb.get_item(TableName=table, Key={"id": {"S": name}}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            found.append(Difference(f"semaphore {name}", "absent", "present", APPLY))
            continue
        have = _int(item.get("limit", {}).get("N"))
        if have != rooms[name]["limit"]:
            found.append(
                Difference(f"semaphore {name} limit", have, rooms[name]["limit"], SET_LIMIT)
            )
    return found


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "[]"
    return json.dumps(value) if not isinstance(value, str) else value
