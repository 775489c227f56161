"""The validated spec as typed data: what validation returns and rendering consumes.

Validation builds these values (with every default filled in there) only for a spec without
errors, so rendering never meets a missing or malformed field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class Statement:
    """One Allow statement of a worker's own IAM policy; references left for the root."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (test, variable, values)

    def tfvars(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "actions": list(self.actions),
            "resources": list(self.resources),
            "conditions": [
                {"test": t, "variable": v, "values": list(vs)} for t, v, vs in self.conditions
            ],
        }


@dataclass(frozen=True, slots=True)
class Deployment:
    """A worker's own Lambda settings beyond the queue's (docs/contracts.md): what it ships,
    what it may call, what it is told. The defaults are what a worker declaring nothing gets."""

    dependencies: tuple[str, ...] = ()  # pinned `name==version`, sorted; () = the shared zip
    architecture: str = "x86_64"
    environment: tuple[tuple[str, str], ...] = ()  # plain values, references for the root
    secrets: tuple[tuple[str, str], ...] = ()  # name -> SSM parameter / secret ARN
    statements: tuple[Statement, ...] = ()
    managed_policy_arns: tuple[str, ...] = ()
    log_retention_days: int | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def tfvars(self, artifact: str | None) -> dict[str, Any]:
        return {
            "artifact": artifact,
            "architecture": self.architecture,
            "environment": dict(self.environment),
            "secrets": dict(self.secrets),
            "policy_statements": [s.tfvars() for s in self.statements],
            "managed_policy_arns": list(self.managed_policy_arns),
            "log_retention_days": self.log_retention_days,
            "subnet_ids": list(self.subnet_ids),
            "security_group_ids": list(self.security_group_ids),
            "layers": list(self.layers),
            "tags": dict(self.tags),
        }


@dataclass(frozen=True, slots=True)
class Worker:
    name: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    reserved_concurrency: int | None
    max_receive_count: int
    visibility_timeout_seconds: int
    message_retention_seconds: int
    delay_seconds: int
    ephemeral_storage_mb: int
    deployment: Deployment = field(default_factory=Deployment)

    def artifact(self, workflow: str) -> str | None:
        """The worker's own zip, relative to the Lambda build directory, when it ships
        dependencies of its own; None: the shared zip."""
        return f"workers/{workflow}-{self.name}.zip" if self.deployment.dependencies else None

    def tfvars(self, workflow: str) -> dict[str, Any]:
        """The worker's entry in workflows.tfvars.json (docs/contracts.md).

        Every setting, defaults included: Terraform takes them as given and has none of its
        own, so a default changed here cannot disagree with one there.
        """
        settings = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("name", "deployment")
        }
        return dict(sorted({**settings, **self.deployment.tfvars(self.artifact(workflow))}.items()))


@dataclass(frozen=True, slots=True)
class WorkerTask:
    """A Task state with `Worker:`, as the expansion needs it."""

    worker: str
    timeout_seconds: int  # the spec's, or the default
    heartbeat_seconds: int | None
    jsonata: bool = False  # the state's query language: its expansion is written in it
    # The worker's group_by (fair queues), in this state's language: a JSONPath into the
    # state's input, or a JSONata `{% %}` expression; None = no message group.
    group_by: str | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """A waiting-room semaphore's admission controls beyond its limit (docs/design.md §4b).

    `key` and `priority` are what the acquire state sends: a JSONPath (`$.tenant`) in a
    JSONPath workflow, a `{% %}` expression in a JSONata one."""

    key: str | None = None
    key_limit: int | None = None
    priority: str | None = None
    rate: float | None = None
    burst: int | None = None
    aging_seconds: int | None = None

    def rules(self) -> dict[str, Any]:
        """The gatekeeper's rules (workflows.tfvars.json `semaphores.NAME.admission`): what
        is shared by every workflow of the semaphore, not the per-workflow paths."""
        found = {
            "key_limit": self.key_limit,
            "rate": self.rate,
            "burst": self.burst,
            "aging_seconds": self.aging_seconds,
        }
        return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Concurrency:
    semaphore: str
    limit: int
    max_wait_seconds: int
    admission: Admission = field(default_factory=Admission)


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    source: str  # the spec file, for messages
    workers: tuple[Worker, ...]  # sorted by name
    concurrency: Concurrency | None
    definition: dict[str, Any]  # the user's ASL, still with `Worker:` keys
    # State name -> its Worker task; state names are unique across the machine (ASL rule).
    worker_tasks: dict[str, WorkerTask]

    @property
    def jsonata(self) -> bool:
        """The workflow's query language is JSONata: generated top-level states are too."""
        return self.definition.get("QueryLanguage") == "JSONata"

    def worker(self, name: str) -> Worker:
        return next(w for w in self.workers if w.name == name)
