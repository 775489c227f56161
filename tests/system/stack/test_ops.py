"""`stepqueue drift` and `stepqueue redrive` on the stack's `ops` deployment (two of the examples,
tests/system/stack/conftest.py), which they change behind Terraform's back; then destroy, which
must leave nothing of it."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.api import load_and_validate, render
from stepqueue import cli
from stepqueue.local.burst import Deployment
from stepqueue.ops import deployed_command
from stepqueue.ops.drift import compare
from stepqueue.ops.redrive import Place, RedriveError, redrive
from stepqueue.paths import REPO
from tests.support.queues import queue_depth
from tests.support.waiting import until
from tests.system.stack.conftest import Stack

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
def deployment(stack: Stack) -> Deployment:
    return stack.ops.deployment


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


def test_drift_clean_then_a_queue_changed_behind_terraform(
    deployment: Deployment, specs_dir: Path, command: Callable[..., tuple[int, str]]
) -> None:
    files = _expected_files(specs_dir)
    assert compare(files, deployment.outputs, deployment.emulator.client) == []
    code, out = command("drift", "--workflows", str(specs_dir))
    assert code == 0, out
    assert "0 difference(s)" in out

    sqs = deployment.emulator.client("sqs")
    work = deployment.worker("burst", "work")
    settings = deployment.tfvars["workflows"]["burst"]["workers"]["work"]
    expected = int(settings["visibility_timeout_seconds"])
    sqs.set_queue_attributes(
        QueueUrl=work["queue_url"], Attributes={"VisibilityTimeout": str(expected + 7)}
    )
    try:
        code, out = command("drift", "--workflows", str(specs_dir))
        assert code == 1
        assert (
            f"burst/work queue VisibilityTimeout: deployed {expected + 7}, the specs give "
            f"{expected}"
        ) in out
        assert "1 difference(s)" in out
        code, out = command("drift", "--workflows", str(specs_dir), "--json")
        assert code == 1
        (difference,) = json.loads(out)["differences"]
        assert difference["deployed"] == expected + 7 and difference["expected"] == expected
    finally:
        sqs.set_queue_attributes(
            QueueUrl=work["queue_url"], Attributes={"VisibilityTimeout": str(expected)}
        )

    # A limit changed at run time: Terraform never rewrites it, drift names it.
    table, semaphore, limit = deployment.semaphore("burst")
    ddb = deployment.emulator.client("dynamodb")
    key = {"id": {"S": semaphore}}
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #l = :l",
        ExpressionAttributeNames={"#l": "limit"},
        ExpressionAttributeValues={":l": {"N": str(limit + 5)}},
    )
    try:
        code, out = command("drift", "--workflows", str(specs_dir))
        assert code == 1
        assert f"semaphore {semaphore} limit: deployed {limit + 5}, the specs give {limit}" in out
    finally:
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #l = :l",
            ExpressionAttributeNames={"#l": "limit"},
            ExpressionAttributeValues={":l": {"N": str(limit)}},
        )


def _task_messages(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def all_queued() -> bool:
        for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=120
        ).get("Messages", []):
            found[m["MessageId"]] = m
        return len(found) >= count

    until(f"{count} task messages queued", all_queued, timeout=60, every=0)
    return list(found.values())


def test_redrive_moves_live_tasks_and_skips_closed_ones(
    deployment: Deployment, command: Callable[..., tuple[int, str]]
) -> None:
    sqs, sfn = deployment.emulator.client("sqs"), deployment.emulator.client("stepfunctions")
    transcode = deployment.worker("media", "transcode")
    queue, dlq = transcode["queue_url"], transcode["dlq_url"]
    for i in range(3):  # media has no semaphore: each execution queues its task at once
        sfn.start_execution(
            stateMachineArn=deployment.state_machine_arn("media"),
            name=f"redrive-{i}-{uuid.uuid4().hex[:8]}",  # moto names every unnamed one "None"
            input=json.dumps({"files": ["a.mov"], "renditions": ["720p"], "seconds": 1}),
        )
    messages = _task_messages(sqs, queue, 3)
    # What max_receive_count failed receives would have done: every task message in the DLQ.
    for m in messages:
        sqs.send_message(QueueUrl=dlq, MessageBody=m["Body"])
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    tokens = [json.loads(m["Body"])["taskToken"] for m in messages]
    # One task finished meanwhile (its token is closed), and a poison message sits there too.
    sfn.send_task_success(taskToken=tokens[0], output=json.dumps({"done": True}))
    sqs.send_message(QueueUrl=dlq, MessageBody=POISON)

    code, out = command("redrive", "media", "transcode")
    assert code == 0, out
    assert "examined 4: live 2, dead 1, unreadable 1" in out
    assert "would move 2 live message(s)" in out and "dry run" in out
    assert queue_depth(sqs, dlq) == 4 and queue_depth(sqs, queue) == 0

    code, out = command("redrive", "media", "transcode", "--yes", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["examined"], report["live"], report["dead"], report["unreadable"]) == (
        4,
        2,
        1,
        1,
    )
    assert report["moved"] == 2 and report["dead_deleted"] == 0 and not report["dry_run"]
    moved = _task_messages(sqs, queue, 2)
    assert sorted(json.loads(m["Body"])["taskToken"] for m in moved) == sorted(tokens[1:])
    # The dead task and the poison message stay in the DLQ, visible again.
    left = _task_messages(sqs, dlq, 2)
    bodies = sorted(m["Body"] for m in left)
    assert POISON in bodies
    assert any(json.loads(b).get("taskToken") == tokens[0] for b in bodies if b != POISON)
    for m in left:
        sqs.change_message_visibility(
            QueueUrl=dlq, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )

    # Deleting dead ones needs both flags; then only the poison message stays.
    code, out = command("redrive", "media", "transcode", "--delete-dead")
    assert code == 1 and "needs --yes" in out
    code, out = command("redrive", "media", "transcode", "--yes", "--delete-dead")
    assert code == 0, out
    assert "skipped 1 dead (task already closed): 1 deleted" in out
    assert queue_depth(sqs, dlq) == 1

    for token in tokens[1:]:  # let the executions end
        sfn.send_task_success(taskToken=token, output="{}")


def test_redrive_refuses_queues_that_are_not_a_pair(deployment: Deployment) -> None:
    sqs, sfn = deployment.emulator.client("sqs"), deployment.emulator.client("stepfunctions")
    work, transcode = deployment.worker("burst", "work"), deployment.worker("media", "transcode")
    place = Place("burst", "work", work["queue_url"], transcode["dlq_url"])
    with pytest.raises(RedriveError, match="not a pair"):
        redrive(sqs, sfn, place, move=True)


def test_destroy_leaves_nothing(stack: Stack) -> None:
    """Last in this file: the whole deployment destroyed, drifted queue and redriven messages
    included, and nothing of any kind left under its prefix."""
    ops, emu = stack.ops, stack.emulator
    ops.tf.destroy()
    p = ops.prefix
    assert emu.client("sqs").list_queues(QueueNamePrefix=p).get("QueueUrls", []) == []
    functions = emu.client("lambda").list_functions()["Functions"]
    assert [f["FunctionName"] for f in functions if f["FunctionName"].startswith(p)] == []
    mappings = emu.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert [m for m in mappings if m["FunctionArn"].split(":")[-1].startswith(p)] == []
    machines = emu.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines if m["name"].startswith(p)] == []
    tables = emu.client("dynamodb").list_tables()["TableNames"]
    assert [t for t in tables if t.startswith(p)] == []
    roles = emu.client("iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith(p)] == []
    assert emu.client("events").list_rules(NamePrefix=p)["Rules"] == []
    logs = emu.client("logs")
    for prefix in (f"/aws/lambda/{p}", f"/aws/vendedlogs/states/{p}"):
        assert logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"] == []
    alarms = emu.client("cloudwatch").describe_alarms(AlarmNamePrefix=p)["MetricAlarms"]
    assert alarms == []
    assert json.loads(ops.tf.state_path.read_text())["resources"] == []
