"""A semaphore's admission rules beside its limit (docs/design.md §4b): a limit per key, a
rate, and how priorities age. They come from the deployment (Terraform passes the generated
`semaphores` map to the gatekeeper as ``SEMAPHORE_RULES``), not from the table: unlike the
global limit, which `stepqueue semaphore set` changes at run time, they change with a deploy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

KEY_LIMIT_MAX = 100_000  # the global limit's bound: a per-key limit above it means nothing
RATE_MIN = 0.001  # one grant in ~17 minutes; slower is a schedule, not a rate
RATE_MAX = 10_000.0
BURST_MAX = 100_000
AGING_DEFAULT_S = 60  # a waiter gains one priority level per minute it waits
AGING_MAX_S = 86_400
PRIORITY_MAX = 9  # priorities are 0..9, higher first
RULES_MAX_BYTES = 256 * 1024  # the environment's whole budget is 4 KB; this is a sanity bound


class RulesError(ValueError):
    """The deployment passed rules that make no sense: the gatekeeper refuses to start."""


@dataclass(frozen=True, slots=True)
class Rules:
    key_limit: int | None = None  # at most this many holders per key value
    rate: float | None = None  # grants per second, sustained
    burst: int = 1  # grants the bucket holds when idle
    aging_ms: int = AGING_DEFAULT_S * 1000  # waiting this long raises a priority by one

    def effective_priority(self, priority: int, waited_ms: int) -> int:
        """Aging: a waiter of priority p is served as p + 1 after one aging step, ..., as the
        highest after (9 - p) steps, so a flood of higher priorities delays it by at most
        (9 - p) aging steps plus the line at the top priority it then joins."""
        return min(PRIORITY_MAX, priority + max(0, waited_ms) // self.aging_ms)


NO_RULES = Rules()


def rules_from_env(text: str) -> dict[str, Rules]:
    if len(text.encode()) > RULES_MAX_BYTES:
        raise RulesError(f"SEMAPHORE_RULES is over {RULES_MAX_BYTES} bytes")
    try:
        data = json.loads(text or "{}")
    except ValueError as exc:
        raise RulesError(f"SEMAPHORE_RULES is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError("SEMAPHORE_RULES must be a JSON object of semaphore -> rules")
    return {str(name): rules_from(str(name), value) for name, value in data.items()}


def rules_from(name: str, data: Any) -> Rules:
    if not isinstance(data, dict):
        raise RulesError(f"rules of semaphore {name!r} must be an object")
    unknown = set(data) - {"key_limit", "rate", "burst", "aging_seconds"}
    if unknown:
        raise RulesError(f"rules of semaphore {name!r}: unknown {sorted(unknown)}")
    key_limit = _whole(name, data, "key_limit", 1, KEY_LIMIT_MAX)
    rate = data.get("rate")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise RulesError(f"semaphore {name!r}: rate must be a number")
        if not (math.isfinite(rate) and RATE_MIN <= rate <= RATE_MAX):
            raise RulesError(f"semaphore {name!r}: rate must be {RATE_MIN}..{RATE_MAX} per second")
        rate = float(rate)
    burst = _whole(name, data, "burst", 1, BURST_MAX) or 1
    aging = _whole(name, data, "aging_seconds", 1, AGING_MAX_S) or AGING_DEFAULT_S
    return Rules(key_limit=key_limit, rate=rate, burst=burst, aging_ms=aging * 1000)


def _whole(name: str, data: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RulesError(f"semaphore {name!r}: {key} must be a whole number {low}..{high}")
    return value


@dataclass(slots=True)
class Bucket:
    """A token bucket on the counter item: `tokens` at `refilled_ms`, R per second up to B."""

    tokens: float
    refilled_ms: int

    def refill(self, rules: Rules, now_ms: int) -> None:
        assert rules.rate is not None
        elapsed = max(0, now_ms - self.refilled_ms)
        self.tokens = min(float(rules.burst), self.tokens + elapsed * rules.rate / 1000)
        self.refilled_ms = max(self.refilled_ms, now_ms)

    def ms_until_token(self, rules: Rules) -> int:
        assert rules.rate is not None
        return max(1, math.ceil((1 - self.tokens) * 1000 / rules.rate))
