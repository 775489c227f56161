"""`stepqueue drift` and `stepqueue redrive` on one Terraform deployment of workflows/*.yaml on
the emulator, shared by the module's tests (an apply takes most of their time)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.api import load_and_validate, render
from stepqueue import cli
from stepqueue.deploy.artifacts import generate
from stepqueue.local.scenarios.workflow_burst import Deployment, deployed
from stepqueue.ops import deployed_command
from stepqueue.paths import REPO

POISON = "this is not a task message"
SPECS = ("burst", "media")


@pytest.fixture(scope="module")
def specs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two of the examples, copied once: a semaphore with a waiting room (burst) and a worker
    without one (media). Fewer resources make a faster apply, and a copy does not change
    while another test edits workflows/."""
    specs = tmp_path_factory.mktemp("ops-specs")
    for name in SPECS:
        shutil.copy(REPO / "workflows" / f"{name}.yaml", specs / f"{name}.yaml")
    return specs


@pytest.fixture(scope="module")
def deployment(
    specs_dir: Path, lambda_zip: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    generated = generate(
        sorted(specs_dir.glob("*.yaml")), tmp_path_factory.mktemp("ops-gen") / "out"
    )
    work_dir = tmp_path_factory.mktemp("ops-tf")
    with deployed(work_dir, generated_dir=generated, lambda_zip=lambda_zip) as dep:
        yield dep


@pytest.fixture
def command(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """`stepqueue ARGS --env local` against the shared deployment (its Terraform outputs are
    known already: no `terraform output` run)."""
    monkeypatch.setattr(
        deployed_command,
        "_deployment",
        lambda args, target_for: (deployment.outputs, deployment.emulator.client),
    )

    def run(*args: str) -> tuple[int, str]:
        code = cli.main([*args, "--env", "local"])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def _expected_files(specs_dir: Path) -> dict[str, str]:
    workflows, _ = load_and_validate(sorted(specs_dir.glob("*.yaml")), check_handlers=False)
    assert workflows is not None
    return render(workflows)


def _task_messages(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    found: dict[str, dict[str, Any]] = {}
    while len(found) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} task messages queued"
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=120
        ).get("Messages", []):
            found[m["MessageId"]] = m
    return list(found.values())


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_redrive_names_unknown_workflows_and_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = {"state_machine_arns": {"orders": "arn"}, "workers": {"orders": {"enrich": {}}}}
    monkeypatch.setattr(deployed_command, "_deployment", lambda args, target_for: (outputs, None))
    assert cli.main(["redrive", "nope", "enrich", "--env", "local"]) == 1
    assert "no workflow 'nope' in the deployment (deployed: orders)" in capsys.readouterr().err
    assert cli.main(["redrive", "orders", "nope", "--env", "local"]) == 1
    assert "has no worker 'nope' (its workers: enrich)" in capsys.readouterr().err
    assert cli.main(["redrive", "orders", "enrich", "--yes", "--dry-run", "--env", "local"]) == 1
    assert "contradict" in capsys.readouterr().err
