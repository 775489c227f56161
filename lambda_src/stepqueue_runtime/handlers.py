"""Resolving ``STEPQUEUE_HANDLER`` (``package.module.function``) once per container."""

from __future__ import annotations

import importlib
from typing import cast

from stepqueue_runtime.worker import UserHandler

_cache: dict[str, UserHandler] = {}


class HandlerNotFound(RuntimeError):
    """A configuration error: the invocation fails as a whole, loudly."""


def resolve(spec: str | None) -> UserHandler:
    if not spec:
        raise HandlerNotFound("STEPQUEUE_HANDLER is not set (e.g. examples.orders.enrich)")
    found = _cache.get(spec)
    if found is not None:
        return found
    module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise HandlerNotFound(f"STEPQUEUE_HANDLER={spec!r} is not module.function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise HandlerNotFound(f"STEPQUEUE_HANDLER={spec!r}: cannot import {module_name}") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise HandlerNotFound(f"STEPQUEUE_HANDLER={spec!r}: {module_name} has no function {attr}")
    _cache[spec] = cast(UserHandler, fn)
    return _cache[spec]
