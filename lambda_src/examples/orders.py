"""The orders workflow: enrich → charge → ship."""

from __future__ import annotations

from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    items = payload.get("items", [])
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def enrich(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Add totals and a customer tier to the order."""
    items = _items(payload)
    total = round(sum(float(i.get("price", 0)) * int(i.get("qty", 1)) for i in items), 2)
    return {
        "order_id": payload.get("order_id"),
        "item_count": len(items),
        "total": total,
        "tier": "gold" if total >= 100 else "standard",
    }


def charge(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Charge the order; ``"decline": true`` in the input fails with Orders.PaymentDeclined.

    The charge id comes from ``ctx.idempotency_key``: a duplicate delivery would charge with
    the same id, which a real payment API deduplicates.
    """
    if payload.get("decline") is True:
        raise TaskFailed(
            error="Orders.PaymentDeclined",
            cause=f"card declined for order {payload.get('order_id')}",
        )
    amount = payload.get("total", payload.get("amount", 0))
    return {"charge_id": "ch_" + ctx.idempotency_key[:16], "amount": amount}


def ship(payload: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
    """Book a shipment and return its tracking number."""
    return {"order_id": payload.get("order_id"), "tracking": "TRK" + ctx.idempotency_key[:10]}
