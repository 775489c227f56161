"""A saved plan in a few lines: the counts and every resource that changes."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+"}


def _action(actions: list[str]) -> str | None:
    if "create" in actions and "delete" in actions:
        return "replace"
    for action in ("create", "update", "delete"):
        if actions == [action]:
            return action
    return None  # no-op, read


def changes(plan_json: str) -> list[tuple[str, str]]:
    """(action, address) for every resource the plan changes, in address order."""
    plan: dict[str, Any] = json.loads(plan_json)
    found = []
    for change in plan.get("resource_changes", []):
        action = _action(change.get("change", {}).get("actions", []))
        if action is not None:
            found.append((action, str(change["address"])))
    return sorted(found, key=lambda item: item[1])


def render(plan_json: str, *, label: str, limit: int = 60) -> str:
    found = changes(plan_json)
    counts = Counter(action for action, _ in found)
    add = counts["create"] + counts["replace"]
    destroy = counts["delete"] + counts["replace"]
    head = f"Plan for {label}: {add} to add, {counts['update']} to change, {destroy} to destroy"
    if counts["replace"]:
        head += f" ({counts['replace']} replaced)"
    lines = [head if found else f"Plan for {label}: no changes"]
    lines += [f"  {SYMBOLS[action]:>3} {address}" for action, address in found[:limit]]
    if len(found) > limit:
        lines.append(f"  ... and {len(found) - limit} more (terraform show PLAN lists them all)")
    return "\n".join(lines)


def as_json(plan_json: str) -> dict[str, Any]:
    """The plan's counts and changed resources, as `--json` reports them."""
    found = changes(plan_json)
    counts = Counter(action for action, _ in found)
    return {
        "add": counts["create"] + counts["replace"],
        "change": counts["update"],
        "destroy": counts["delete"] + counts["replace"],
        "changes": [{"action": action, "address": address} for action, address in found],
    }
