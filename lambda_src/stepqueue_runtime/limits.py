"""Step Functions callback limits, and cutting strings to them safely.

AWS states the ``error`` (256) and ``cause`` (32,768) limits of ``SendTaskFailure`` in
characters. The service is Java, whose ``String.length()`` counts UTF-16 code units, so an
emoji counts twice there and once in Python. We cut by UTF-16 code units: never more code
points than the limit, never more units either, so the request is valid under either count.
"""

from __future__ import annotations

ERROR_MAX_CHARS = 256
CAUSE_MAX_CHARS = 32_768
# Task output: 256 KiB of data as a UTF-8 encoded string (Step Functions quotas).
OUTPUT_MAX_BYTES = 262_144

TRUNCATION_MARK = "… [truncated]"


def utf16_len(text: str) -> int:
    """Length as the service counts it (UTF-16 code units)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def valid_unicode(text: str) -> str:
    """``text`` with any lone surrogate replaced by ``?``: a lone surrogate (e.g. from a
    surrogateescape'd file name) cannot be encoded as UTF-8, so a request holding one fails in
    the SDK before it is sent."""
    if text.isascii():  # O(1) for str: the common case costs nothing
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def cut(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """Return ``text`` unchanged if it fits ``limit`` UTF-16 units, else a prefix plus ``mark``.

    The cut never splits a surrogate pair and the result is always valid Unicode.
    """
    text = valid_unicode(text)
    if len(text) <= limit // 2 or utf16_len(text) <= limit:
        return text
    mark = mark if utf16_len(mark) < limit else ""
    budget = limit - utf16_len(mark)
    # Slice on UTF-16 units; a pair cut in half leaves a lone high surrogate that "ignore" drops.
    head = text.encode("utf-16-le", "surrogatepass")[: budget * 2]
    return head.decode("utf-16-le", "ignore") + mark
