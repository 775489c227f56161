"""testkit/scale_proof.py's arithmetic and its refusal: the latency table it reads off the
containers' call logs, and the clear skip when the checkout has no history of the old design."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testkit import scale_proof


def _call(container: str, op: str, start: float, end: float) -> dict[str, object]:
    return {"container": container, "op": op, "start": start, "end": end}


def _invocation(container: str, groups: list[str], start: float, end: float) -> dict[str, object]:
    return {"container": container, "invocation": groups, "start": start, "end": end}


def test_the_seen_latencies_are_each_operations_mean_and_the_gap_between_batches() -> None:
    """Two batches of group s in container a, 0.2 s apart; the second spends 0.1 s outside its
    calls (one of them is concurrent with another: counted once). A call of container b
    during a's first batch is not a's."""
    calls = [
        _invocation("a", ["s"], 0.0, 1.0),
        _call("a", "BatchGetItem", 0.0, 0.5),
        _call("a", "TransactWriteItems", 0.5, 1.0),
        _call("b", "GetItem", 0.1, 0.2),
        _invocation("a", ["s"], 1.2, 2.2),
        _call("a", "BatchGetItem", 1.2, 1.6),
        _call("a", "SendTaskSuccess", 1.6, 2.1),
        _call("a", "SendTaskSuccess", 1.7, 2.0),
    ]
    table = scale_proof.observed_latency(calls)
    assert table["BatchGetItem"] == 450.0
    assert table["SendTaskSuccess"] == 400.0
    assert table["GetItem"] == 100.0
    # Median gap 200 ms; time outside calls: 0 and 100 ms, median 50 ms.
    assert table["between"] == 250.0


def test_without_the_old_designs_commit_the_proof_is_skipped_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.setattr(scale_proof, "REPO", tmp_path)
    result = scale_proof.prove(10, 5, 1)
    assert "skipped" in result and scale_proof.OLD_COMMIT in result["skipped"]
    assert "old" not in result and "new" not in result
