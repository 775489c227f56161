"""What the burst benchmarks share: billed transitions counted from execution histories.

`python -m bench.burst` (testkit/waiting_room.py `burst`) reads its histories through these.
Step Functions Standard bills one transition per state entered and one per retry attempt. Each
`*StateEntered` event is one state entered; a Task's retry attempts show as extra
`TaskScheduled` events inside one `TaskStateEntered`, so
transitions = (# *StateEntered) + (# TaskScheduled − # TaskStateEntered).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def transitions(history: list[dict[str, Any]]) -> int:
    kinds = Counter(event["type"] for event in history)
    entered = sum(n for kind, n in kinds.items() if kind.endswith("StateEntered"))
    retries = max(0, kinds["TaskScheduled"] - kinds["TaskStateEntered"])
    return entered + retries


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events += page["events"]
    return events


def pool_map_history(sfn: Any, arns: list[str]) -> list[list[dict[str, Any]]]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda arn: _history(sfn, arn), arns))
