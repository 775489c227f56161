"""Lambda handler ``stepqueue_watchdog.entry.handler``, run by a scheduled EventBridge rule.

For each state machine of the deployment (``STATE_MACHINE_ARNS``, a JSON list) it lists the
RUNNING executions and writes one EMF line: ``OldestRunningSeconds`` and ``RunningExecutions``.
``AWS/States`` publishes ``ExecutionTime`` only when an execution ends, so an execution stuck
RUNNING (a lost callback) is visible only this way (docs/design.md §6a). A state machine that
could not be looked at is counted in ``WatchdogErrors`` on its own line, and the others are
still looked at: the invocation fails only when its configuration is wrong.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from stepqueue_aws import Retries, cached_client, emf

from stepqueue_watchdog.watch import Watched, watch

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-watchdog"))

ENV_ARNS = "STATE_MACHINE_ARNS"
# A deployment's workflows, with room to spare; the bound keeps one invocation's walk (and
# its log lines) finite whatever the environment says.
MAX_STATE_MACHINES = 200
STATE_MACHINE_DIMENSION = "StateMachine"  # as the gatekeeper's OldestHolderSeconds line
DEFAULT_FUNCTION = "stepqueue-watchdog"
# Kept back from the Lambda timeout for the metric lines and the log: a look that would start
# later is skipped and counted, never cut off by the timeout with nothing written.
DEADLINE_MARGIN_MS = 5000

# Few attempts: the next schedule retries everything in 5 minutes, and a backoff spent on one
# state machine is taken from the others.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=10)

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """One client per service per container, made on first use."""
    return cached_client(_clients, service, RETRIES)


def state_machine_arns(raw: str | None) -> list[str]:
    """The environment's list, checked: a wrong one is a deployment error, raised."""
    arns = json.loads(raw or "[]")
    if not isinstance(arns, list) or not all(isinstance(a, str) and a for a in arns):
        raise ValueError(f"{ENV_ARNS} must be a JSON list of state machine ARNs")
    if len(arns) > MAX_STATE_MACHINES:
        raise ValueError(f"{ENV_ARNS} holds {len(arns)} ARNs, more than {MAX_STATE_MACHINES}")
    return sorted(set(arns))


def state_machine_name(arn: str) -> str:
    """arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME -> NAME."""
    return arn.rsplit(":", 1)[-1]


def time_left(context: Any, margin_ms: int = DEADLINE_MARGIN_MS) -> Callable[[], bool]:
    """Whether a call may still start; always True without a Lambda context (tests)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return lambda: True
    return lambda: int(remaining()) > margin_ms


def watch_line(watched: Watched, function: str, now_ms: int) -> dict[str, Any]:
    """The state machine's EMF line. A failed look carries ``WatchdogErrors`` 1 and no age: a
    made-up 0 would read as "nothing running" and clear the alarm. A look cut short counts
    as an error too, and keeps its figures: a lower bound past the alarm's is still past it."""
    metrics: dict[str, tuple[float, str]] = {}
    if watched["error"] is None:
        oldest = watched["oldest_start_s"]
        age_s = 0.0 if oldest is None else max(0.0, now_ms / 1000 - oldest)
        metrics["OldestRunningSeconds"] = (round(age_s, 3), emf.SECONDS)
        metrics["RunningExecutions"] = (watched["running"], emf.COUNT)
    failed = watched["error"] is not None or not watched["complete"]
    metrics["WatchdogErrors"] = (1 if failed else 0, emf.COUNT)
    return emf.emf_line(
        {
            emf.FUNCTION_DIMENSION: function,
            STATE_MACHINE_DIMENSION: state_machine_name(watched["state_machine_arn"]),
        },
        metrics,
        now_ms,
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    arns = state_machine_arns(os.environ.get(ENV_ARNS))
    sfn = client("stepfunctions")
    may_call = time_left(context)
    function = emf.function_name(DEFAULT_FUNCTION)
    watched: list[Watched] = []
    for arn in arns:
        if not may_call():
            watched.append(
                Watched(
                    state_machine_arn=arn,
                    running=0,
                    oldest_start_s=None,
                    complete=False,
                    error="DeadlineReached",
                )
            )
            continue
        watched.append(watch(sfn, arn, may_call))
    now_ms = int(time.time() * 1000)
    try:
        emf.emit([watch_line(w, function, now_ms) for w in watched])
    except Exception as exc:  # a metric line never turns a finished look into a failure
        logger.warning("metrics not emitted", extra={"error": repr(exc)})
    errors = [w for w in watched if w["error"] is not None]
    partial = [w["state_machine_arn"] for w in watched if w["error"] is None and not w["complete"]]
    summary = {
        "state_machines": len(watched),
        "running": sum(w["running"] for w in watched),
        "errors": [{"state_machine": w["state_machine_arn"], "error": w["error"]} for w in errors],
        "partial": partial,
    }
    (logger.error if errors else logger.info)("watch done", extra=summary)
    return {"mode": "watch", **summary}
