"""The orders handlers, tested through the runtime's own path (stepqueue_runtime.testing)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stepqueue_runtime.testing import FakeTask, run_handler, run_sqs_event

from examples import orders

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_enrich_totals_the_order() -> None:
    outcome = run_handler(orders.enrich, {"order_id": "o-7", "items": [{"price": 20, "qty": 3}]})
    assert outcome.succeeded
    assert outcome.output == {"order_id": "o-7", "item_count": 1, "total": 60.0, "tier": "standard"}


def test_a_declined_card_fails_the_task_with_its_own_error() -> None:
    outcome = run_handler(orders.charge, {"order_id": "o-8", "total": 5, "decline": True})
    assert outcome.failed
    assert outcome.error == "Orders.PaymentDeclined"
    assert outcome.cause == "card declined for order o-8"


def test_the_charge_id_is_the_same_for_every_delivery_of_a_task() -> None:
    task = FakeTask(task_token="token-of-one-task")
    first = run_handler(orders.charge, {"total": 5}, task)
    again = run_handler(orders.charge, {"total": 5}, FakeTask(task_token="token-of-one-task"))
    other = run_handler(orders.charge, {"total": 5}, FakeTask(task_token="another-task"))
    assert first.output == again.output
    assert first.output["charge_id"] != other.output["charge_id"]


def test_a_malformed_order_fails_with_the_exception_name() -> None:
    # items holds a price that is not a number: float() raises, the runtime reports it.
    outcome = run_handler(orders.enrich, {"items": [{"price": "free"}]})
    assert outcome.error == "ValueError"
    assert outcome.cause_json()["errorType"] == "ValueError"


def test_the_sample_enrich_event_gives_the_sample_response_and_output() -> None:
    result = run_sqs_event(orders.enrich, load("orders_enrich_sqs_event.json"))
    assert result.response == load("orders_enrich_response.json")
    (outcome,) = result.tasks.values()  # the other record is not a task message
    assert outcome.output == load("orders_enrich_task_output.json")


def test_the_sample_charge_event_charges_one_order_and_declines_the_other() -> None:
    result = run_sqs_event(orders.charge, load("orders_charge_sqs_event.json"))
    assert result.response == {"batchItemFailures": []}  # both answered: nothing redelivered
    charged, declined = result.tasks.values()
    assert charged.succeeded and charged.output["amount"] == 159.0
    assert declined.error == "Orders.PaymentDeclined"
