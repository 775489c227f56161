"""What a user handler gets besides its payload (contracts.md, "User handler contract")."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Without a Lambda context (tests, local scripts) there is no deadline to report.
_NO_DEADLINE_MS = 15 * 60 * 1000


@dataclass(slots=True)
class TaskContext:
    workflow: str
    worker: str
    state: str
    execution: str
    message_id: str
    task_token: str = field(repr=False)
    _heartbeat: Callable[[], bool] = field(repr=False)
    _remaining_ms: Callable[[], int] | None = field(default=None, repr=False)
    _idempotency_key: str | None = field(default=None, repr=False)
    # Which delivery of the task's message this is (SQS's ApproximateReceiveCount: 1 the
    # first time; more after a crash, a timeout or a give-back), and the message group it
    # came in (a worker with `group_by`: the tenant's fair-queue group; else None).
    attempt: int = 1
    tenant: str | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable per task token: every delivery of the same task gets the same key.

        Use it with Powertools idempotency (or a conditional write of your own) around side
        effects that must happen once even if SQS delivers the message twice.
        """
        if self._idempotency_key is None:
            import hashlib  # here, not at import: it loads OpenSSL (ms of cold start)

            self._idempotency_key = hashlib.sha256(self.task_token.encode()).hexdigest()
        return self._idempotency_key

    def heartbeat(self) -> bool:
        """Send one ``SendTaskHeartbeat`` now. False once the task is known to be closed
        (timed out, or its execution ended): a long handler may then stop early."""
        return self._heartbeat()

    def remaining_ms(self) -> int:
        """Milliseconds before Lambda stops this invocation."""
        return self._remaining_ms() if self._remaining_ms else _NO_DEADLINE_MS
