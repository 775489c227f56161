"""`stepqueue redrive` refuses what names no workflow or worker of the deployment, and flags
that contradict, before it reads a queue (the redrive itself: tests/system/stack/test_ops.py)."""

from __future__ import annotations

import pytest

from stepqueue import cli
from stepqueue.ops import deployed_command


def test_redrive_names_unknown_workflows_and_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {"state_machine_arns": {"orders": "arn"}, "workers": {"orders": {"enrich": {}}}}
    monkeypatch.setattr(deployed_command, "_deployment", lambda args, target_for: (outputs, None))
    assert cli.main(["redrive", "nope", "enrich", "--env", "local"]) == 1
    assert "no workflow 'nope' in the deployment (deployed: orders)" in capsys.readouterr().err
    assert cli.main(["redrive", "orders", "nope", "--env", "local"]) == 1
    assert "has no worker 'nope' (its workers: enrich)" in capsys.readouterr().err
    assert cli.main(["redrive", "orders", "enrich", "--yes", "--dry-run", "--env", "local"]) == 2
    assert "contradict" in capsys.readouterr().err
