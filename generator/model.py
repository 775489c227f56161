"""Stage 3: the validated spec as plain, typed data. Built only from specs without errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.limits import MAX_WAIT_DEFAULT, WORKER_FIELDS, default_visibility_timeout

_STATE_MACHINE_KEYS = ("Comment", "StartAt", "States", "TimeoutSeconds", "Version")


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

    def tfvars(self) -> dict[str, Any]:
        """The worker's entry in workflows.tfvars.json (docs/contracts.md)."""
        return {
            "handler": self.handler,
            "timeout_seconds": self.timeout_seconds,
            "memory_mb": self.memory_mb,
            "batch_size": self.batch_size,
            "batching_window_seconds": self.batching_window_seconds,
            "max_concurrency": self.max_concurrency,
            "reserved_concurrency": self.reserved_concurrency,
            "max_receive_count": self.max_receive_count,
            "visibility_timeout_seconds": self.visibility_timeout_seconds,
            "message_retention_seconds": self.message_retention_seconds,
            "delay_seconds": self.delay_seconds,
        }


@dataclass(frozen=True, slots=True)
class Concurrency:
    semaphore: str
    limit: int
    max_wait_seconds: int


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str
    source: str  # the spec file, for messages
    workers: tuple[Worker, ...]  # sorted by name
    concurrency: Concurrency | None
    definition: dict[str, Any]  # the user's ASL, still with `Worker:` keys

    def worker(self, name: str) -> Worker:
        return next(w for w in self.workers if w.name == name)


def _int(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key, WORKER_FIELDS[key][2])
    assert value is not None
    return int(value)


def build_worker(name: str, raw: dict[str, Any]) -> Worker:
    timeout = _int(raw, "timeout_seconds")
    window = _int(raw, "batching_window_seconds")
    visibility = raw.get("visibility_timeout_seconds")
    reserved = raw.get("reserved_concurrency")
    return Worker(
        name=name,
        handler=str(raw["handler"]),
        timeout_seconds=timeout,
        memory_mb=_int(raw, "memory_mb"),
        batch_size=_int(raw, "batch_size"),
        batching_window_seconds=window,
        max_concurrency=_int(raw, "max_concurrency"),
        reserved_concurrency=None if reserved is None else int(reserved),
        max_receive_count=_int(raw, "max_receive_count"),
        visibility_timeout_seconds=(
            default_visibility_timeout(timeout, window) if visibility is None else int(visibility)
        ),
        message_retention_seconds=_int(raw, "message_retention_seconds"),
        delay_seconds=_int(raw, "delay_seconds"),
    )


def build_workflow(raw: dict[str, Any], source: str) -> Workflow:
    name = str(raw["name"])
    workers = tuple(build_worker(n, w) for n, w in sorted((raw.get("workers") or {}).items()))
    concurrency = None
    if (c := raw.get("concurrency")) is not None:
        concurrency = Concurrency(
            semaphore=str(c.get("semaphore", name)),
            limit=int(c["limit"]),
            max_wait_seconds=int(c.get("max_wait_seconds", MAX_WAIT_DEFAULT)),
        )
    definition = {k: raw[k] for k in _STATE_MACHINE_KEYS if k in raw}
    return Workflow(name, source, workers, concurrency, definition)
