"""The gatekeeper's metrics, as CloudWatch embedded metric format (EMF) log lines.

Lambda sends stdout to CloudWatch Logs, and CloudWatch turns a JSON line with an ``_aws`` key
into metrics: no PutMetricData call, no extra permission, nothing on the decision's path.
modules/monitoring reads these names (docs/design.md §6a): renaming one blinds an alarm.

Every line carries the function's name as a dimension, so stages sharing an account (and a
semaphore name) never mix their figures. The line writer, the namespace and the units are
stepqueue_aws.emf's, shared with the reclaimer's sweep line; they are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepqueue_aws import emf
from stepqueue_aws.emf import COUNT, FUNCTION_DIMENSION, NAMESPACE, SECONDS, emf_line, emit

if TYPE_CHECKING:
    from stepqueue_gatekeeper.decide import Outcome

__all__ = [
    "COUNT",
    "DEFAULT_FUNCTION",
    "FUNCTION_DIMENSION",
    "NAMESPACE",
    "SECONDS",
    "SEMAPHORE_DIMENSION",
    "STATE_MACHINE_DIMENSION",
    "Snapshot",
    "decided",
    "dropped",
    "emf_line",
    "emit",
    "failed",
    "function_name",
    "state_machine_of",
]

SEMAPHORE_DIMENSION = "Semaphore"
STATE_MACHINE_DIMENSION = "StateMachine"
DEFAULT_FUNCTION = "stepqueue-gatekeeper"


@dataclass(frozen=True)
class Snapshot:
    """One semaphore after an invocation's last commit."""

    limit: int
    held: int
    waiting: int
    oldest_wait_s: float | None  # None: a line exists but its head could not be read


def function_name() -> str:
    return emf.function_name(DEFAULT_FUNCTION)


def decided(
    semaphore: str, outcome: Outcome, snapshot: Snapshot, now_ms: int
) -> list[dict[str, Any]]:
    """The lines of a group decided by one invocation: its state and what happened to it, then
    the oldest holder of each state machine a sweep page found still RUNNING."""
    metrics: dict[str, tuple[float, str]] = {
        "Holders": (snapshot.held, COUNT),
        "Limit": (snapshot.limit, COUNT),
        "Waiters": (snapshot.waiting, COUNT),
    }
    if snapshot.oldest_wait_s is not None:
        metrics["OldestWaitSeconds"] = (snapshot.oldest_wait_s, SECONDS)
    metrics.update(
        {
            "Granted": (len(outcome.granted), COUNT),
            "Released": (len(outcome.released), COUNT),
            "Reclaimed": (len(outcome.reclaimed), COUNT),
            "LeakedSlotsReclaimed": (len(outcome.swept), COUNT),
            "DeadWaiters": (len(outcome.dead), COUNT),
            "RedrivesRefused": (len(outcome.refused), COUNT),
            "GroupFailures": (0, COUNT),
        }
    )
    function = function_name()
    lines = [
        emf_line({FUNCTION_DIMENSION: function, SEMAPHORE_DIMENSION: semaphore}, metrics, now_ms)
    ]
    oldest: dict[str, int] = {}
    for execution, granted_ms in outcome.kept_since.items():
        machine = state_machine_of(execution)
        oldest[machine] = min(granted_ms, oldest.get(machine, granted_ms))
    for machine, granted_ms in sorted(oldest.items()):
        held_s = max(0.0, (now_ms - granted_ms) / 1000)
        lines.append(
            emf_line(
                {FUNCTION_DIMENSION: function, STATE_MACHINE_DIMENSION: machine},
                {"OldestHolderSeconds": (held_s, SECONDS)},
                now_ms,
            )
        )
    return lines


def failed(semaphore: str, now_ms: int) -> dict[str, Any]:
    """A group whose decision raised: the handler still returns normally (the group is reported
    in batchItemFailures), so Lambda's Errors metric never counts it; this does."""
    return emf_line(
        {FUNCTION_DIMENSION: function_name(), SEMAPHORE_DIMENSION: semaphore},
        {"GroupFailures": (1, COUNT)},
        now_ms,
    )


def dropped(semaphore: str, count: int, now_ms: int) -> dict[str, Any]:
    """Messages (and grants) given up for good: never retried, each with one log line
    ("message dropped"). Written only when there are any, under (Function, Semaphore) and
    under Function alone, so one alarm per function sees every group, even one that is no
    semaphore of this deployment."""
    line = emf_line(
        {FUNCTION_DIMENSION: function_name(), SEMAPHORE_DIMENSION: semaphore},
        {"MessagesDropped": (count, COUNT)},
        now_ms,
    )
    line["_aws"]["CloudWatchMetrics"][0]["Dimensions"].append([FUNCTION_DIMENSION])
    return line


def state_machine_of(execution_arn: str) -> str:
    """arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME -> STATE_MACHINE."""
    parts = execution_arn.split(":")
    return parts[6] if len(parts) > 7 else "unknown"
