"""The start queue warns when its pace is above what one semaphore's gatekeeper records: the
bound in modules/start_queue is the model's (testkit/scale_model.py), so a ledger change that
moves it fails here until the module is told."""

from __future__ import annotations

import math
import re

from stepqueue.paths import MODULES
from testkit import scale_model


def test_the_start_queues_bound_is_what_the_model_says_a_gatekeeper_records() -> None:
    text = (MODULES / "start_queue" / "main.tf").read_text()
    found = re.search(r"^\s*gatekeeper_records_per_second\s*=\s*(\d+)\s*$", text, re.MULTILINE)
    assert found is not None
    batched = next(d for d in scale_model.designs() if d.name == scale_model.CURRENT)
    warm = batched.arrivals_ms(scale_model.LATENCY_MS["central"], wake=False)
    records_per_s = scale_model.FIFO_BATCH / (warm / 1000)
    assert int(found.group(1)) == math.floor(records_per_s)
    # The condition and the message use the same local, so the number shown is the bound.
    assert "var.starts_per_second <= local.gatekeeper_records_per_second" in text
