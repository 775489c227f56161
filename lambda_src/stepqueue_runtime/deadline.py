"""A margin before the Lambda deadline, so that a batch ends with a report, not a kill.

Lambda kills an invocation at its timeout: no response, so every record of the batch comes
back after the visibility timeout and counts a receive, and records behind a long handler can
reach the DLQ without ever running. So the runtime keeps a margin (``margin_ms``) before the
deadline. When it is reached, from a timer thread:

- records not started yet are handed to ``on_expire`` to go back to the queue at once (they
  are then reported in ``batchItemFailures`` if the invocation gets to answer). A record on
  its queue's last receive would go to the DLQ unrun instead: ``on_expire`` fails its task
  with ``Stepqueue.DeadlineExceeded`` and it is acknowledged;
- a handler still running is handed to ``on_expire`` too, which fails its task with
  ``Stepqueue.DeadlineExceeded``: the task is never re-run without the execution being told
  (its Retry may retry that error, visibly). Whatever that handler returns later is discarded.

Per record, the main thread claims it before the probe (``claim``), starts the handler
(``start``) and finishes it (``finish``); each is one lock, so the guard costs next to nothing
per record. Without a Lambda context (tests, benches) there is no deadline and no guard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stepqueue_runtime.worker import Result

# At the margin the runtime makes one SendTaskFailure and a ChangeMessageVisibilityBatch call
# per 10 records: tens of milliseconds, a few seconds if the SDK has to retry.
MARGIN_MIN_MS = 1_000
MARGIN_MAX_MS = 10_000

_PENDING, _CLAIMED, _RUNNING, _DONE, _GIVEN_BACK, _ABANDONED = range(6)


def margin_ms(remaining_ms: int) -> int:
    """A tenth of the time left at the start of the batch, between 1 s and 10 s, and never
    more than half of it (so that a short function still runs something)."""
    return min(max(remaining_ms // 10, MARGIN_MIN_MS), MARGIN_MAX_MS, remaining_ms // 2)


class Deadline:
    """One invocation's deadline: a timer thread, and each record's state under one lock."""

    def __init__(
        self,
        remaining_ms: Callable[[], int],
        message_ids: Iterable[str],
        on_expire: Callable[[list[str], str | None], Result | None],
    ) -> None:
        self._remaining = remaining_ms
        start = remaining_ms()
        self.margin_ms = margin_ms(start)
        self._on_expire = on_expire
        self._state = dict.fromkeys(message_ids, _PENDING)
        self._cond = threading.Condition()
        self._expired = False
        self._reported = False  # on_expire has returned: _late is final
        self._late: Result | None = None
        self._timer = threading.Timer(max(start - self.margin_ms, 0) / 1000, self.expire)
        self._timer.name = "stepqueue-deadline"
        self._timer.daemon = True
        self._timer.start()

    def remaining_ms(self) -> int:
        """What a handler has left: the time before the margin, not before the kill."""
        return max(self._remaining() - self.margin_ms, 0)

    def claim(self, message_id: str) -> bool:
        """Before a record's probe: False when it was given back (do not start it); then only
        once ``on_expire`` has returned, so what it did with the record is known."""
        if not self._expired and self._remaining() <= self.margin_ms:
            self.expire()  # the timer is late (a busy machine): the margin is the margin
        with self._cond:
            if self._state.get(message_id) != _PENDING:
                while self._expired and not self._reported:
                    self._cond.wait()
                return False
            self._state[message_id] = _CLAIMED
            return True

    def start(self, message_id: str) -> bool:
        """Before the handler: False when the margin came during the probe; the caller then
        gives the record back itself (the timer only gives back records never claimed)."""
        with self._cond:
            if self._expired:
                return False
            self._state[message_id] = _RUNNING
            return True

    def finish(self, message_id: str) -> Result | None:
        """As soon as the handler returns (before anything that may wait, such as untracking
        its heartbeats): None to report its outcome; else the task was already reported at
        the margin and this is how that ended (the handler's outcome is discarded)."""
        with self._cond:
            if self._state.get(message_id) != _ABANDONED:
                self._state[message_id] = _DONE
                return None
            while not self._reported:
                self._cond.wait()
            return self._late

    def expire(self) -> None:
        """At the margin (the timer, or ``claim`` finding it passed). Runs once."""
        with self._cond:
            if self._expired:
                return
            self._expired = True
            given_back = [m for m, s in self._state.items() if s == _PENDING]
            running = [m for m, s in self._state.items() if s == _RUNNING]
            for m in given_back:
                self._state[m] = _GIVEN_BACK
            for m in running:
                self._state[m] = _ABANDONED
        late: Result | None = None
        try:
            late = self._on_expire(given_back, running[0] if running else None)
        finally:
            with self._cond:
                self._late = late
                self._reported = True
                self._cond.notify_all()

    def close(self) -> None:
        """Stop the timer; if it is reporting, wait for it (the report is part of the batch)."""
        self._timer.cancel()
        if self._timer is not threading.current_thread():
            self._timer.join()
