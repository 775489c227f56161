"""Metric lines in CloudWatch's embedded metric format (EMF), shared by the gatekeeper, the
watchdog and the starter.

Lambda sends stdout to CloudWatch Logs, and CloudWatch turns a JSON line with an ``_aws`` key
into metrics: no PutMetricData call, no extra permission, nothing on the caller's path. Every
line is in one namespace and carries the emitting function's name as a dimension, so stages
sharing an account never mix their figures. modules/monitoring reads these names
(docs/contracts.md, "Metrics"): renaming one blinds an alarm.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

NAMESPACE = "Stepqueue"
FUNCTION_DIMENSION = "Function"

COUNT, SECONDS = "Count", "Seconds"


def emf_line(
    dimensions: Mapping[str, str],
    metrics: Mapping[str, tuple[float, str]],
    timestamp_ms: int,
) -> dict[str, Any]:
    """One EMF document: `metrics` maps a name to (value, unit), under one dimension set."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": n, "Unit": unit} for n, (_, unit) in metrics.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in metrics.items()},
    }


def function_name(default: str) -> str:
    """The running Lambda function's name (the `Function` dimension), `default` outside Lambda."""
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", default)


def emit(lines: list[dict[str, Any]], write: Callable[[str], None] = print) -> None:
    """Each line as one compact JSON document on stdout (or to `write`)."""
    for line in lines:
        write(json.dumps(line, separators=(",", ":")))
