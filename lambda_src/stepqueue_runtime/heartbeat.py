"""Background ``SendTaskHeartbeat`` for every task of a batch that declares ``HeartbeatSeconds``.

One thread per invocation, not per record: records of a batch run one after another, and a
record still waiting its turn must not miss its heartbeat while an earlier one runs.

A task's heartbeat clock starts when its message is queued, not when a worker reads it: by
then the delivery delay and the batching window (and, for a redelivered record, the time since
its last heartbeat) have passed. So a record's first heartbeat is due a third of
``HeartbeatSeconds`` after its message was *sent* (``SentTimestamp``), at once if that is past
or unknown, and every third after that. The generator keeps delivery delay + batching window
under two thirds of ``HeartbeatSeconds``, so the first heartbeat lands before the last third
begins and one failed heartbeat still leaves another in time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from stepqueue_aws import error_code

from stepqueue_runtime.aws import classify, heartbeat_proves_closed

# Never wait longer than this between checks, whatever the intervals (keeps stop() prompt).
_MIN_INTERVAL_S = 0.25


def heartbeat_interval(heartbeat_seconds: float) -> float:
    """A third of ``HeartbeatSeconds``: two heartbeats may fail before the state times out."""
    return max(heartbeat_seconds / 3.0, _MIN_INTERVAL_S)


def first_delay(interval: float, age_seconds: float | None) -> float:
    """Seconds from now to a record's first heartbeat: ``interval`` after its message was
    sent, so at once for a message older than that (or of unknown age), never later than
    ``interval`` from now (a sender clock ahead of ours)."""
    if age_seconds is None:
        return 0.0
    return min(max(interval - age_seconds, 0.0), interval)


class _Tracked:
    __slots__ = ("interval", "next_due")

    def __init__(self, interval: float, next_due: float) -> None:
        self.interval = interval
        self.next_due = next_due


class Heartbeater:
    """Thread-safe; the thread starts on the first ``track`` and ``stop`` joins it."""

    def __init__(
        self,
        client: Any,
        log_warning: Callable[..., None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._warn = log_warning
        self._clock = clock
        self._cond = threading.Condition()
        self._tracked: dict[str, _Tracked] = {}
        self._in_flight: str | None = None
        self._finished: set[str] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def track(self, token: str, heartbeat_seconds: float, age_seconds: float | None) -> None:
        """Heartbeat ``token`` until ``untrack``; ``age_seconds``: how long ago its message was
        sent (None: unknown, so the first heartbeat is due at once)."""
        interval = heartbeat_interval(heartbeat_seconds)
        with self._cond:
            if token in self._tracked or token in self._finished:
                return
            due = self._clock() + first_delay(interval, age_seconds)
            self._tracked[token] = _Tracked(interval, due)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="stepqueue-heartbeat", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def untrack(self, token: str) -> None:
        """After this returns, no heartbeat for ``token`` is in flight or will be sent."""
        with self._cond:
            self._tracked.pop(token, None)
            while self._in_flight == token:
                self._cond.wait()

    def is_finished(self, token: str) -> bool:
        """True once a heartbeat learned that the task is closed (timed out, ended)."""
        with self._cond:
            return token in self._finished

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._tracked.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _next(self) -> str | None:
        """Under the lock: wait until a token is due (or stop), mark it in flight."""
        while not self._stopping:
            now = self._clock()
            due = min(self._tracked.items(), key=lambda kv: kv[1].next_due, default=None)
            if due is not None and due[1].next_due <= now:
                token, tracked = due
                tracked.next_due = now + tracked.interval
                self._in_flight = token
                return token
            timeout = None if due is None else max(due[1].next_due - now, 0.0)
            self._cond.wait(timeout)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                token = self._next()
            if token is None:
                return
            finished = self._beat(token)
            with self._cond:
                self._in_flight = None
                if finished:
                    self._finished.add(token)
                    self._tracked.pop(token, None)
                self._cond.notify_all()

    def _beat(self, token: str) -> bool:
        try:
            self._client.send_task_heartbeat(taskToken=token)
            return False
        except Exception as exc:  # a heartbeat must never kill the thread
            kind = classify(exc)
            self._warn(
                "heartbeat failed",
                extra={"error_code": error_code(exc), "kind": kind.value if kind else "other"},
            )
            # Only tokens of states that declared HeartbeatSeconds are tracked.
            return heartbeat_proves_closed(exc, heartbeat_declared=True)
