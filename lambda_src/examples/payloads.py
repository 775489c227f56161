"""Two handlers whose payload is too large for Step Functions (to show the claim check).

``produce`` returns about ``size_bytes`` of JSON: over the payload threshold, so the runtime
stores it in the payload bucket and sends a reference. ``digest`` receives it resolved (the
runtime fetched it) and returns its size and SHA-256, small enough to send as is.
"""

from __future__ import annotations

import hashlib
from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed

MAX_SIZE_BYTES = 8 * 1024 * 1024


def blob(seed: str, size_bytes: int) -> str:
    """``size_bytes`` characters of hex, the same for the same seed (so anyone can check)."""
    block = hashlib.sha256(seed.encode("utf-8")).hexdigest()  # 64 characters
    return (block * (size_bytes // len(block) + 1))[:size_bytes]


def produce(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """``{"seed": str, "size_bytes": int}`` → ``{"seed", "data"}`` with ``size_bytes`` of data."""
    size = payload.get("size_bytes", 1024 * 1024)
    if type(size) is not int or not 0 <= size <= MAX_SIZE_BYTES:
        raise TaskFailed("Payloads.BadSize", f"size_bytes must be 0..{MAX_SIZE_BYTES}")
    seed = str(payload.get("seed", "stepqueue"))
    return {"seed": seed, "data": blob(seed, size)}


def digest(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """The produced blob (``payload["blob"]``, as ``produce`` returned it) → its size and
    SHA-256, and whether it is what its seed makes."""
    produced = payload.get("blob")
    if type(produced) is not dict or type(produced.get("data")) is not str:
        raise TaskFailed("Payloads.NoBlob", "the input has no blob.data string")
    data = produced["data"]
    return {
        "bytes": len(data.encode("utf-8")),
        "sha256": hashlib.sha256(data.encode("utf-8")).hexdigest(),
        "intact": data == blob(str(produced.get("seed", "")), len(data)),
    }
