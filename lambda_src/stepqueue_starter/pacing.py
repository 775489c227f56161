"""Pacing: a token bucket per starter, so that StartExecution calls never exceed a set rate.

The deployment's rate is the event source mapping's maximum concurrency times each starter's
``STARTS_PER_SECOND``; the bucket lives as long as the container, so a warm starter keeps its
pace across invocations. It holds at most one second of starts: after a pause a starter may
start ``rate`` executions at once, never more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate_per_second > 0:
            raise ValueError(f"rate must be above 0, not {rate_per_second!r}")
        self.rate = float(rate_per_second)
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()

    def wait_s(self) -> float:
        """Seconds until a token is free (0 when one is)."""
        with self._lock:
            self._refill()
            return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def take(self, max_wait_s: float) -> bool:
        """Take a token, sleeping for it up to `max_wait_s`; False (nothing taken) when it
        would take longer."""
        wait = self.wait_s()
        if wait > max_wait_s:
            return False
        if wait > 0:
            self._sleep(wait)
        with self._lock:
            self._refill()
            # After the sleep the token is due; a clock that did not move still pays it, so
            # the balance may dip below zero and the next caller waits for it.
            self._tokens -= 1
        return True

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
