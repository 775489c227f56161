"""Lambda handler ``stepqueue_reclaimer.entry.handler``.

Two triggers (docs/contracts.md, "Semaphore (DynamoDB)"): an EventBridge "Step Functions
Execution Status Change" event for an execution that ended abnormally, and a scheduled event
for the sweep.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from stepqueue_aws import Retries, cached_client, emf

from stepqueue_reclaimer.reclaim import SweepSummary, reclaim_execution, sweep

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "stepqueue-reclaimer"))

STATUS_CHANGE = "Step Functions Execution Status Change"
# The rule sends FAILED / TIMED_OUT / ABORTED; SUCCEEDED is accepted too (harmless: a
# succeeded execution already released, and a conditional REMOVE of nothing is a no-op).
ENDED = frozenset({"FAILED", "TIMED_OUT", "ABORTED", "SUCCEEDED"})

# More attempts than the runtime: the reclaimer holds no batch of other work while it backs
# off, and retrying one throttled call here is cheaper than failing the invocation and waiting
# for EventBridge's redelivery or the next sweep.
RETRIES = Retries(max_attempts=5)

_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """One client per service per container, made on first use."""
    return cached_client(_clients, service, RETRIES)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table = os.environ["SEMAPHORE_TABLE"]
    detail_type = event.get("detail-type")
    if detail_type == STATUS_CHANGE and event.get("source") == "aws.states":
        detail = event.get("detail") or {}
        arn, status = detail.get("executionArn"), detail.get("status")
        if not isinstance(arn, str) or status not in ENDED:
            logger.info("status change ignored", extra={"execution": arn, "status": status})
            return {"mode": "event", "execution": arn, "status": status, "reclaimed": []}
        reclaimed = reclaim_execution(client("dynamodb"), table, arn)
        logger.info(
            "execution reclaimed",
            extra={"execution": arn, "status": status, "reclaimed": reclaimed},
        )
        return {"mode": "event", "execution": arn, "status": status, "reclaimed": reclaimed}
    if detail_type == "Scheduled Event" and event.get("source") == "aws.events":
        summary = sweep(client("dynamodb"), client("stepfunctions"), table)
        log = logger.error if summary["errors"] else logger.info
        log("sweep done", extra={**summary})
        _emit_sweep_metrics(summary)
        return {"mode": "sweep", **summary}
    logger.warning("unknown event ignored", extra={"detail_type": detail_type})
    return {"mode": "ignored", "reclaimed": []}


def sweep_metrics(summary: SweepSummary, function: str, now_ms: int) -> dict[str, Any]:
    """The sweep's EMF line: the slots it freed were leaked (their release and their
    status-change event both missed), and its per-holder errors are recorded, not raised, so
    Lambda's Errors metric never counts them. The same shape and namespace as the
    gatekeeper's, so one dashboard and one set of alarms read both."""
    return emf.emf_line(
        {emf.FUNCTION_DIMENSION: function},
        {
            "LeakedSlotsReclaimed": (len(summary["reclaimed"]), emf.COUNT),
            "SweepErrors": (len(summary["errors"]), emf.COUNT),
        },
        now_ms,
    )


def _emit_sweep_metrics(summary: SweepSummary) -> None:
    function = emf.function_name("stepqueue-reclaimer")
    try:
        emf.emit([sweep_metrics(summary, function, int(time.time() * 1000))])
    except Exception as exc:  # a metric never fails a sweep that has done its work
        logger.warning("metrics not emitted", extra={"error": repr(exc)})
