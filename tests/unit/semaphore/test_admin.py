"""`stepqueue semaphore set | status` without an emulator: the messages and keys it writes are
the gatekeeper's, and its table. On the emulator: tests/emulator/semaphore/test_admin.py."""

from __future__ import annotations

import json

import pytest

from stepqueue.deploy import semaphore_admin as admin

# -- the contract with the gatekeeper, without an emulator ----------------------------------


def test_limit_message_and_keys_are_the_gatekeepers() -> None:
    from stepqueue_gatekeeper import messages, store

    body = json.dumps(admin.limit_message("orders", 7))
    parsed = messages.parse("m1", "orders", body)
    assert (parsed.op, parsed.semaphore, parsed.limit) == ("limit", "orders", 7)
    assert admin.waiter_key("orders", 42) == store.waiter_key("orders", 42)
    for line in (("w", 3), ("f", 0), ("f", 9)):
        tag = f"{line[0]}{line[1]}"
        assert admin.waiter_key("orders", 7, tag) == store.waiter_key("orders", 7, line)
    assert admin.limit_max() == messages.LIMIT_MAX
    assert admin.SEMAPHORE_NAME.pattern == messages.SEMAPHORE.pattern
    for bad in (0, messages.LIMIT_MAX + 1):
        with pytest.raises(admin.AdminError, match="out of range"):
            admin.check_limit(bad)
        with pytest.raises(messages.MessageError):  # what the gatekeeper would have dropped
            messages.parse("m2", "orders", json.dumps(admin.limit_message("orders", bad)))


def test_table_rendering() -> None:
    rows = [
        admin.Status("a", 5, 5, 120, 0, 7300.0, 3, (('"acme"', 2), ("7", 1))),
        admin.Status("bb", None, 0, 0, 0, None),
    ]
    lines = admin.render_table(rows).splitlines()
    headers = [
        "SEMAPHORE",
        "LIMIT",
        "HELD",
        "WAITING",
        "PENDING",
        "OLDEST",
        "WAIT",
        "BUSIEST",
        "KEYS",
    ]
    assert lines[0].split() == headers
    assert lines[1].split() == ["a", "5", "5", "120", "0", "2.0h", '"acme"=2,', "7=1"]
    assert lines[2].split() == ["bb", "-", "0", "0", "0", "-", "-"]
