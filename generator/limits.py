"""Numbers the validator and the expansion share, each with where it comes from."""

from __future__ import annotations

# Names (docs/contracts.md).
WORKFLOW_NAME = r"^[a-z][a-z0-9-]{0,29}$"
WORKER_NAME = r"^[a-z][a-z0-9_]{0,29}$"
SEMAPHORE_NAME = WORKFLOW_NAME  # the default is the workflow name; terraform/ checks the same
STATE_NAME_MAX = 80  # ASL: state names are at most 80 characters

# Worker settings: (minimum, maximum, default, why). None default = optional or derived.
WORKER_FIELDS: dict[str, tuple[int, int, int | None, str]] = {
    "timeout_seconds": (1, 900, 30, "the Lambda maximum is 900 s"),
    "memory_mb": (128, 10240, 256, "Lambda memory is 128..10240 MB"),
    "batch_size": (1, 10000, 1, "SQS event source mappings take 1..10000"),
    "batching_window_seconds": (0, 300, 0, "the SQS batching window is 0..300 s"),
    "max_concurrency": (2, 1000, 2, "SQS event source maximum concurrency is 2..1000"),
    "reserved_concurrency": (1, 100000, None, "reserved concurrency must be positive"),
    "max_receive_count": (1, 1000, 5, "the SQS redrive policy allows 1..1000"),
    "message_retention_seconds": (60, 1209600, 345600, "SQS keeps messages 60 s..14 days"),
    "delay_seconds": (0, 900, 0, "SQS delivery delay is 0..900 s"),
    "visibility_timeout_seconds": (0, 43200, None, "the SQS maximum is 12 hours"),
}
# Above 10 messages per batch AWS requires a batching window of at least 1 s.
BATCH_SIZE_WITHOUT_WINDOW = 10
# AWS guidance for SQS-triggered Lambda: visibility >= 6 x function timeout + batching window.
VISIBILITY_FACTOR = 6
VISIBILITY_SLACK = 30  # our default adds a little on top of the minimum

TASK_TIMEOUT_DEFAULT = 1800
ASL_SECONDS_MAX = 99999999

# Semaphore acquire retry: short FULL-jitter waits keep the burst efficient (a freed slot is
# found quickly by one of the waiters) while the cap bounds the state transitions spent waiting.
ACQUIRE_INTERVAL_SECONDS = 1
ACQUIRE_BACKOFF_RATE = 1.5
ACQUIRE_MAX_DELAY_SECONDS = 4
MAX_WAIT_DEFAULT = 3600
MAX_WAIT_MAX = 31536000  # a standard execution lives at most one year

# 400 KB DynamoDB item: the worst-case bytes one holder adds to the semaphore item.
DYNAMODB_ITEM_MAX_BYTES = 400 * 1024
_ARN_FIXED = len("arn:aws-us-gov:states:") + 20 + len(":") + 12 + len(":execution:") + len(":")
_STATE_MACHINE_NAME = 80  # ASCII (prefix + spec name)
_EXECUTION_NAME = 80 * 4  # execution names may be any Unicode: 4 UTF-8 bytes per character
EXECUTION_ARN_MAX_BYTES = _ARN_FIXED + _STATE_MACHINE_NAME + _EXECUTION_NAME
START_TIME_MAX_BYTES = 32  # "2026-01-01T00:00:00.123456789Z" and some spare
HOLDER_OVERHEAD_BYTES = 4  # per map element and value type, rounded up
HOLDER_MAX_BYTES = EXECUTION_ARN_MAX_BYTES + START_TIME_MAX_BYTES + HOLDER_OVERHEAD_BYTES
ITEM_OVERHEAD_BYTES = len("id") + 64 + len("holders") + 64  # key, name, map header, spare
SEMAPHORE_LIMIT_MAX = (DYNAMODB_ITEM_MAX_BYTES - ITEM_OVERHEAD_BYTES) // HOLDER_MAX_BYTES


def default_visibility_timeout(timeout_seconds: int, batching_window_seconds: int) -> int:
    return minimum_visibility_timeout(timeout_seconds, batching_window_seconds) + VISIBILITY_SLACK


def minimum_visibility_timeout(timeout_seconds: int, batching_window_seconds: int) -> int:
    return VISIBILITY_FACTOR * timeout_seconds + batching_window_seconds


def acquire_max_attempts(max_wait_seconds: int) -> int:
    """Retries whose expected total wait reaches `max_wait_seconds`.

    With FULL jitter each wait is uniform in [0, cap], so its expected value is cap / 2, where
    cap = min(interval x rate^n, max delay).
    """
    total = 0.0
    attempts = 0
    cap = float(ACQUIRE_INTERVAL_SECONDS)
    while total < max_wait_seconds:
        total += min(cap, ACQUIRE_MAX_DELAY_SECONDS) / 2
        cap = min(cap * ACQUIRE_BACKOFF_RATE, ACQUIRE_MAX_DELAY_SECONDS)
        attempts += 1
    return max(1, attempts)
