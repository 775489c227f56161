"""The semaphore's acquire and release requests, taken from a generated definition.

The stress benchmark must drive exactly what the generated ASL sends, not a retyped copy that
could drift from the generator. So this module:

1. renders a temporary spec with ``concurrency: {limit: L}`` through the generator CLI (the
   documented contract: ``python -m generator generate SPEC --out DIR``) and substitutes the
   Terraform placeholders with ``generator.render_definition``, as Terraform would;
2. finds the acquire Task (the ``StartAt`` state) and the release Task(s), all
   ``arn:aws:states:::dynamodb:updateItem``;
3. turns their ``Parameters`` into boto3 ``update_item`` keyword arguments by resolving the
   ``.$`` keys against a simulated Step Functions context object.

The resolver is deliberately a tiny interpreter: it accepts only plain context paths
(``$$.Execution.Id``) and refuses everything else (input paths, intrinsic functions, JSONPath
filters) loudly. If the generator starts emitting something richer, the bench must fail rather
than quietly send a different request from the one Step Functions would send.
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepqueue.local.emulator import ACCOUNT_ID, REGION

UPDATE_ITEM_RESOURCE = "arn:aws:states:::dynamodb:updateItem"

# The request members of DynamoDB UpdateItem. Step Functions' optimised integration passes the
# Parameters through under the API's own names, which are also boto3's keyword names; anything
# else would be a typo in the generator that the real service would reject.
UPDATE_ITEM_MEMBERS = frozenset(
    {
        "TableName",
        "Key",
        "UpdateExpression",
        "ConditionExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
        "ReturnConsumedCapacity",
        "ReturnItemCollectionMetrics",
        "ReturnValuesOnConditionCheckFailure",
        "AttributeUpdates",
        "Expected",
        "ConditionalOperator",
    }
)

# One segment of a plain dotted path. Brackets, wildcards, filters and quoted names are JSONPath
# features this resolver does not implement, so they are refused rather than half-supported.
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Terraform templatefile() placeholders; one surviving rendering means the request is not what
# the deployed state machine would send.
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")

FAKE_ACCOUNT = ACCOUNT_ID
FAKE_REGION = REGION


class UnsupportedParameters(ValueError):
    """The Parameters use something the context-path resolver does not interpret."""


def iso_time(epoch_seconds: float) -> str:
    """Step Functions' timestamp format in the context object: UTC, milliseconds, ``Z``."""
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(epoch_seconds, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def simulated_context(
    *,
    execution_arn: str,
    start_time: str,
    state_name: str,
    state_machine_arn: str | None = None,
    entered_time: str | None = None,
) -> dict[str, Any]:
    """A context object (``$$``) shaped like the one Step Functions hands a Task state.

    Only the members a Task can see on a standard workflow are present; a path to anything else
    fails in the resolver, which is what we want.
    """
    machine_arn = state_machine_arn or _machine_arn_of(execution_arn)
    return {
        "Execution": {
            "Id": execution_arn,
            "Name": execution_arn.rsplit(":", 1)[-1],
            "StartTime": start_time,
            "RoleArn": f"arn:aws:iam::{FAKE_ACCOUNT}:role/stepqueue-bench",
            "Input": {},
            "RedriveCount": 0,
        },
        "StateMachine": {"Id": machine_arn, "Name": machine_arn.rsplit(":", 1)[-1]},
        "State": {"Name": state_name, "EnteredTime": entered_time or start_time, "RetryCount": 0},
    }


def _machine_arn_of(execution_arn: str) -> str:
    # arn:aws:states:REGION:ACCOUNT:execution:MACHINE:NAME -> ...:stateMachine:MACHINE
    parts = execution_arn.split(":")
    if len(parts) != 8 or parts[5] != "execution":
        raise ValueError(f"not an execution ARN: {execution_arn!r}")
    return ":".join([*parts[:5], "stateMachine", parts[6]])


def lookup_context_path(path: str, context: Mapping[str, Any]) -> Any:
    """Resolve ``$$.A.B`` against the context object; refuse every other kind of path."""
    if not isinstance(path, str) or not path.startswith("$$."):
        raise UnsupportedParameters(
            f"only context paths ($$.X.Y) are supported, got {path!r}: the bench has no state "
            "input to resolve input paths or intrinsic functions against"
        )
    segments = path[3:].split(".")
    node: Any = context
    for i, segment in enumerate(segments):
        if not _SEGMENT.match(segment):
            raise UnsupportedParameters(f"unsupported path segment {segment!r} in {path!r}")
        if not isinstance(node, Mapping) or segment not in node:
            walked = "$$." + ".".join(segments[:i]) if i else "$$"
            raise UnsupportedParameters(f"{path!r}: {walked} has no member {segment!r}")
        node = node[segment]
    return copy.deepcopy(node)


def resolve_parameters(value: Any, context: Mapping[str, Any]) -> Any:
    """Apply Step Functions' Parameters rules for ``.$`` keys, context paths only.

    A key ending in ``.$`` is replaced by the key without the suffix, with the value the path
    selects; every other key is copied and its value resolved recursively (Parameters are
    resolved at every depth, including inside lists).
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsupportedParameters(f"non-string key {key!r}")
            if key.endswith(".$"):
                name = key[:-2]
                if not isinstance(item, str):
                    raise UnsupportedParameters(f"{key!r} must map to a path string, got {item!r}")
                resolved = lookup_context_path(item, context)
            else:
                name = key
                resolved = resolve_parameters(item, context)
            if name in out:
                # Step Functions rejects a definition with both "k" and "k.$"; so do we.
                raise UnsupportedParameters(f"key {name!r} given twice (with and without .$)")
            out[name] = resolved
        return out
    if isinstance(value, list):
        return [resolve_parameters(item, context) for item in value]
    if isinstance(value, str) and _PLACEHOLDER.search(value):
        raise UnsupportedParameters(f"unrendered template placeholder in {value!r}")
    return copy.deepcopy(value)


def update_item_kwargs(parameters: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """boto3 ``update_item`` keyword arguments for one Task's Parameters in one context."""
    resolved = resolve_parameters(parameters, context)
    unknown = sorted(set(resolved) - UPDATE_ITEM_MEMBERS)
    if unknown:
        raise UnsupportedParameters(f"not UpdateItem request members: {unknown}")
    for required in ("TableName", "Key", "UpdateExpression"):
        if required not in resolved:
            raise UnsupportedParameters(f"UpdateItem Parameters lack {required}")
    return dict(resolved)


# --------------------------------------------------------------------------------------------
# Finding the states


def _iter_states(states: Mapping[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every state, at any depth (Parallel branches, Map processors), with a readable path."""
    for name, state in states.items():
        path = f"{where}.{name}" if where else name
        yield path, state
        for i, branch in enumerate(state.get("Branches", []) or []):
            yield from _iter_states(branch.get("States", {}), f"{path}.Branches[{i}]")
        for processor_key in ("ItemProcessor", "Iterator"):
            processor = state.get(processor_key)
            if isinstance(processor, Mapping):
                yield from _iter_states(processor.get("States", {}), f"{path}.{processor_key}")


def _is_update_item(state: Mapping[str, Any]) -> bool:
    return state.get("Type") == "Task" and state.get("Resource") == UPDATE_ITEM_RESOURCE


@dataclass(frozen=True)
class SemaphoreRequests:
    """The acquire and release Tasks of one generated definition, ready to be sent."""

    acquire_state: str
    acquire_parameters: dict[str, Any]
    acquire_retry: list[dict[str, Any]]
    release_states: tuple[str, ...]
    release_parameters: dict[str, Any]

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> SemaphoreRequests:
        start = definition.get("StartAt")
        states = definition.get("States", {})
        if not isinstance(start, str) or start not in states:
            raise ValueError(f"definition has no StartAt state ({start!r})")
        acquire = states[start]
        if not _is_update_item(acquire):
            raise ValueError(
                f"StartAt state {start!r} is not a {UPDATE_ITEM_RESOURCE} Task: is the "
                "concurrency block missing?"
            )
        if not str(acquire["Parameters"].get("UpdateExpression", "")).lstrip().startswith("SET"):
            raise ValueError(f"acquire state {start!r} does not SET a holder")
        releases = {
            path: state
            for path, state in _iter_states(states, "")
            if path != start
            and _is_update_item(state)
            and str(state.get("Parameters", {}).get("UpdateExpression", "")).startswith("REMOVE")
        }
        if not releases:
            raise ValueError("no release state (a dynamodb:updateItem Task that REMOVEs)")
        distinct = {json.dumps(s["Parameters"], sort_keys=True) for s in releases.values()}
        if len(distinct) != 1:
            # Every path must release the same way; a divergent copy is a generator bug that a
            # stress of one variant would not cover, so refuse instead of picking one.
            raise ValueError(f"release states differ in Parameters: {sorted(releases)}")
        first = next(iter(releases.values()))
        return cls(
            acquire_state=start,
            acquire_parameters=copy.deepcopy(acquire["Parameters"]),
            acquire_retry=copy.deepcopy(list(acquire.get("Retry", []))),
            release_states=tuple(sorted(releases)),
            release_parameters=copy.deepcopy(first["Parameters"]),
        )

    def _context(self, execution_arn: str, start_time: str, state: str) -> dict[str, Any]:
        return simulated_context(
            execution_arn=execution_arn, start_time=start_time, state_name=state
        )

    def acquire_kwargs(self, execution_arn: str, start_time: str) -> dict[str, Any]:
        ctx = self._context(execution_arn, start_time, self.acquire_state)
        return update_item_kwargs(self.acquire_parameters, ctx)

    def release_kwargs(self, execution_arn: str, start_time: str) -> dict[str, Any]:
        ctx = self._context(execution_arn, start_time, self.release_states[0])
        return update_item_kwargs(self.release_parameters, ctx)

    @property
    def table(self) -> str:
        return str(self.acquire_parameters["TableName"])

    @property
    def semaphore_key(self) -> dict[str, Any]:
        return dict(self.acquire_parameters["Key"])

    @property
    def limit(self) -> int:
        """The limit the acquire condition compares against (``:limit`` in the contract)."""
        values = self.acquire_parameters.get("ExpressionAttributeValues", {})
        return int(values[":limit"]["N"])


# --------------------------------------------------------------------------------------------
# Generating


def spec_text(name: str, limit: int, semaphore: str | None = None) -> str:
    """A minimal spec whose only purpose is to carry a concurrency block."""
    # The polling acquire is what these requests are about (the waiting room has its own
    # scenario, waiting_room.py).
    block = (
        f"{{semaphore: {semaphore}, limit: {limit}, mode: polling}}"
        if semaphore
        else f"{{limit: {limit}, mode: polling}}"
    )
    return (
        f"name: {name}\n"
        f"concurrency: {block}\n"
        "StartAt: Work\n"
        "States:\n"
        "  Work:\n"
        "    Type: Pass\n"
        "    End: true\n"
    )


def generate_spec_file(spec_path: Path) -> str:
    """The ASL template the generator renders for one spec file (in memory, the same pipeline
    `python -m generator generate` runs)."""
    from generator.api import render_paths
    from generator.errors import GeneratorError

    try:
        files, _ = render_paths([spec_path])
    except GeneratorError as error:
        raise RuntimeError(f"generator failed for {spec_path}:\n{error}") from error
    asl_files = sorted(name for name in files if name.startswith("asl/"))
    if len(asl_files) != 1:
        raise RuntimeError(f"expected one ASL file, found {asl_files}")
    return files[asl_files[0]]


def generate_definition_template(spec: str) -> str:
    """Run the generator CLI on ``spec`` (YAML text); return the ASL template text."""
    with tempfile.TemporaryDirectory(prefix="semreq-spec-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(spec, encoding="utf-8")
        return generate_spec_file(spec_path)


_QUEUE_PLACEHOLDER = re.compile(r"(?<!\$)\$\{\s*queue_url\.([a-z][a-z0-9_]*)\s*\}")


def render(template_text: str, table: str, queue_urls: Mapping[str, str] | None = None) -> Any:
    """Substitute the placeholders as Terraform would (via the generator's Python twin).

    Queues the caller does not name get a dummy URL: the semaphore's requests never use one,
    and a workflow with workers (e.g. workflows/burst.yaml) must still be loadable.
    """
    from generator import render_definition

    urls = {
        worker: f"https://sqs.{FAKE_REGION}.amazonaws.com/{FAKE_ACCOUNT}/unused-{worker}"
        for worker in _QUEUE_PLACEHOLDER.findall(template_text)
    }
    urls.update(queue_urls or {})
    return json.loads(render_definition(template_text, urls, table))


def requests_for_limit(
    limit: int, *, table: str, name: str = "semstress", semaphore: str | None = None
) -> tuple[SemaphoreRequests, dict[str, Any]]:
    """Generate a spec with ``concurrency: {limit: limit}``; return its requests and definition."""
    definition = render(generate_definition_template(spec_text(name, limit, semaphore)), table)
    requests = SemaphoreRequests.from_definition(definition)
    if requests.limit != limit:
        raise ValueError(f"generated acquire compares against {requests.limit}, expected {limit}")
    return requests, definition
