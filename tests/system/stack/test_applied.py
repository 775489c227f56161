"""The root as the session's stack applied it (tests/system/stack/conftest.py, the `main`
deployment of workflows/*.yaml): a second plan shows no changes, boto3 reads back what was
created, and checkov passes the plan JSON it was applied from.

This file runs first in its folder, so it sees the stack as Terraform left it (the counter
items before any gatekeeper has written them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from stepqueue_gatekeeper.rules import rules_from, rules_from_env

from generator import render_definition
from stepqueue.deploy.terraform import Terraform
from stepqueue.local.emulator import ACCOUNT_ID, Emulator
from tests.system.stack.conftest import Stack
from tests.system.terraform.support import copy_configuration, failed_checks, run_checkov

ACCOUNT = ACCOUNT_ID


@dataclass
class Deployment:
    emu: Emulator
    tf: Terraform
    prefix: str
    outputs: dict[str, Any]
    tfvars: dict[str, Any]
    generated_dir: Path
    plan_json: Path


@pytest.fixture(scope="module")
def deployment(stack: Stack) -> Iterator[Deployment]:
    main = stack.main
    yield Deployment(
        main.emulator,
        main.tf,
        main.prefix,
        main.outputs,
        main.tfvars,
        main.generated_dir,
        main.plan_json,
    )


def _workers(dep: Deployment) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for wf, spec in sorted(dep.tfvars["workflows"].items()):
        for wk, settings in sorted(spec["workers"].items()):
            yield wf, wk, settings


def _policy(dep: Deployment, role: str) -> dict[str, dict[str, Any]]:
    """Inline policies of `role` as {sid: statement}; asserts there is nothing else on it."""
    iam = dep.emu.client("iam")
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert len(names) == 1, names
    document = iam.get_role_policy(RoleName=role, PolicyName=names[0])["PolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    statements: dict[str, dict[str, Any]] = {}
    for st in document["Statement"]:
        assert st["Effect"] == "Allow"
        for key in ("Action", "Resource"):
            if isinstance(st[key], str):
                st[key] = [st[key]]
        statements[st["Sid"]] = st
    return statements


def test_second_plan_shows_no_changes(deployment: Deployment) -> None:
    result = deployment.tf.plan()
    assert not result.changes, result.output[-6000:]


def test_outputs(deployment: Deployment) -> None:
    out, p = deployment.outputs, deployment.prefix
    assert out["account_id"] == ACCOUNT
    assert set(out["state_machine_arns"]) == set(deployment.tfvars["workflows"])
    for wf, arn in out["state_machine_arns"].items():
        assert arn == f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{p}{wf}"
    assert out["semaphore_table_name"] == f"{p}stepqueue-semaphores"
    # Every workflow waits in the waiting room: a gatekeeper, no reclaimer (null outputs are
    # left out).
    assert set(out["semaphore_modes"].values()) == {"waiting_room"}
    assert out["gatekeeper_function_name"] == f"{p}stepqueue-gatekeeper"
    assert out["gatekeeper_queue_url"].endswith(f"/{ACCOUNT}/{p}stepqueue-gatekeeper.fifo")
    assert out.get("reclaimer_function_name") is None
    for wf, wk, settings in _workers(deployment):
        w = out["workers"][wf][wk]
        assert w["function_name"] == f"{p}{wf}-{wk}"
        assert w["queue_url"].endswith(f"/{ACCOUNT}/{p}{wf}-{wk}")
        assert w["dlq_url"].endswith(f"/{ACCOUNT}/{p}{wf}-{wk}-dlq")
        assert w["enabled"] is False
        for key in (
            "batch_size",
            "batching_window_seconds",
            "max_concurrency",
            "handler",
            "visibility_timeout_seconds",
            "max_receive_count",
            "timeout_seconds",
        ):
            assert w[key] == settings[key], (wf, wk, key)
        assert w["function_response_types"] == ["ReportBatchItemFailures"]


def test_queues(deployment: Deployment) -> None:
    sqs = deployment.emu.client("sqs")
    for wf, wk, settings in _workers(deployment):
        w = deployment.outputs["workers"][wf][wk]
        attrs = sqs.get_queue_attributes(QueueUrl=w["queue_url"], AttributeNames=["All"])[
            "Attributes"
        ]
        dlq = sqs.get_queue_attributes(QueueUrl=w["dlq_url"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq["QueueArn"]
        assert int(redrive["maxReceiveCount"]) == settings["max_receive_count"]
        assert int(attrs["VisibilityTimeout"]) == settings["visibility_timeout_seconds"]
        assert int(attrs["MessageRetentionPeriod"]) == settings["message_retention_seconds"]
        assert int(attrs["DelaySeconds"]) == settings["delay_seconds"]
        assert attrs["SqsManagedSseEnabled"] == "true"
        assert dlq["SqsManagedSseEnabled"] == "true"
        assert json.loads(dlq["RedriveAllowPolicy"]) == {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [attrs["QueueArn"]],
        }
        assert int(dlq["MessageRetentionPeriod"]) == 1209600


def test_dlq_alarms(deployment: Deployment) -> None:
    cw = deployment.emu.client("cloudwatch")
    alarms = {
        a["AlarmName"]: a
        for a in cw.describe_alarms(AlarmNamePrefix=deployment.prefix)["MetricAlarms"]
    }
    for wf, wk, _ in _workers(deployment):
        dlq_name = f"{deployment.prefix}{wf}-{wk}-dlq"
        alarm = alarms[f"{dlq_name}-not-empty"]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0


def test_workers(deployment: Deployment) -> None:
    lam = deployment.emu.client("lambda")
    for wf, wk, settings in _workers(deployment):
        w = deployment.outputs["workers"][wf][wk]
        cfg = lam.get_function_configuration(FunctionName=w["function_name"])
        assert cfg["Handler"] == "stepqueue_runtime.entry.handler"
        assert cfg["Environment"]["Variables"]["STEPQUEUE_HANDLER"] == settings["handler"]
        assert cfg["Timeout"] == settings["timeout_seconds"]
        assert cfg["MemorySize"] == settings["memory_mb"]
        assert cfg["TracingConfig"]["Mode"] == "Active"
        concurrency = lam.get_function_concurrency(FunctionName=w["function_name"])
        assert concurrency.get("ReservedConcurrentExecutions") == settings["reserved_concurrency"]

        # By queue: moto filters FunctionName= by the exact string given at creation (an ARN
        # here), where AWS accepts a name or an ARN (tests/terraform/MOTO_GAPS.md).
        mappings = lam.list_event_source_mappings(EventSourceArn=w["queue_arn"])
        [esm] = mappings["EventSourceMappings"]
        assert esm["FunctionArn"] == cfg["FunctionArn"]
        assert esm["EventSourceArn"] == w["queue_arn"]
        assert esm["BatchSize"] == settings["batch_size"]
        assert esm.get("MaximumBatchingWindowInSeconds", 0) == settings["batching_window_seconds"]
        assert esm["ScalingConfig"] == {"MaximumConcurrency": settings["max_concurrency"]}
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert esm["State"] == "Disabled"


def test_definitions_equal_the_generated_asl(deployment: Deployment) -> None:
    sfn = deployment.emu.client("stepfunctions")
    table = deployment.outputs["semaphore_table_name"]
    room = deployment.outputs["gatekeeper_queue_url"]
    arrivals = deployment.outputs["gatekeeper_arrivals_queue_urls"]
    for wf, spec in deployment.tfvars["workflows"].items():
        template = (deployment.generated_dir / spec["definition_file"]).read_text()
        expected = render_definition(
            template,
            deployment.outputs["queue_urls"][wf],
            table,
            gatekeeper_queue_url=room if spec["semaphore"] else "",
            arrivals_queue_url=arrivals[spec["semaphore"]] if spec["semaphore"] else "",
        )
        described = sfn.describe_state_machine(
            stateMachineArn=deployment.outputs["state_machine_arns"][wf]
        )
        assert described["definition"] == expected
        assert described["type"] == "STANDARD"
        logging = described["loggingConfiguration"]
        assert logging["level"] == "ERROR"
        # moto omits the field when false; AWS returns it.
        assert logging.get("includeExecutionData", False) is False
        [destination] = logging["destinations"]
        assert destination["cloudWatchLogsLogGroup"]["logGroupArn"].endswith(
            f":log-group:/aws/vendedlogs/states/{deployment.prefix}{wf}:*"
        )
        assert described["tracingConfiguration"] == {"enabled": True}


def test_semaphore_table(deployment: Deployment) -> None:
    ddb = deployment.emu.client("dynamodb")
    table = deployment.outputs["semaphore_table_name"]
    described = ddb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert sorted(a["AttributeName"] for a in described["AttributeDefinitions"]) == [
        "holder_of",
        "id",
    ]
    [index] = described["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "holders"
    assert index["KeySchema"] == [
        {"AttributeName": "holder_of", "KeyType": "HASH"},
        {"AttributeName": "id", "KeyType": "RANGE"},
    ]
    assert index["Projection"]["ProjectionType"] == "ALL"
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["SSEDescription"]["Status"] == "ENABLED"
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    items = {i["id"]["S"]: i for i in ddb.scan(TableName=table)["Items"]}
    assert set(items) == set(deployment.tfvars["semaphores"])
    # The counter item with the initial limit; the gatekeeper owns it afterwards.
    for name, item in items.items():
        assert item == {
            "id": {"S": name},
            "limit": {"N": str(deployment.tfvars["semaphores"][name]["limit"])},
        }


def test_state_machine_policies(deployment: Deployment) -> None:
    room = _queue_arn(deployment, deployment.outputs["gatekeeper_queue_url"])
    for wf, spec in deployment.tfvars["workflows"].items():
        statements = _policy(deployment, deployment.outputs["state_machine_role_names"][wf])
        send = statements["SendToOwnQueues"]
        assert send["Action"] == ["sqs:SendMessage"]
        own = sorted(deployment.outputs["queue_arns"][wf].values())
        # A waiting-room workflow also posts to the gatekeeper's control queue (releases) and
        # its semaphore's arrivals queue (acquires), no other semaphore's, and never touches
        # the table.
        arrivals = deployment.outputs["gatekeeper_arrivals_queue_urls"]
        expected = (
            own
            if spec["semaphore"] is None
            else sorted([*own, room, _queue_arn(deployment, arrivals[spec["semaphore"]])])
        )
        assert sorted(send["Resource"]) == expected
        assert "AcquireReleaseSemaphore" not in statements
        # Only the log-delivery and X-Ray statements may use "*" (their APIs have no resource).
        for sid, st in statements.items():
            if st["Resource"] == ["*"]:
                assert sid in {"DeliverLogs", "XRay"}, sid
        assert not any(a.endswith("*") for st in statements.values() for a in st["Action"])


def test_starter_policy(deployment: Deployment) -> None:
    """The starter starts this deployment's state machines and reads their executions (to tell
    a repeat from a name collision), nothing else of Step Functions."""
    out = deployment.outputs
    fn = deployment.emu.client("lambda").get_function_configuration(
        FunctionName=out["starter_function_name"]
    )
    statements = _policy(deployment, fn["Role"].rsplit("/", 1)[1])
    machines = sorted(set(out["state_machine_arns"].values()))
    assert statements["StartOwnWorkflows"]["Action"] == ["states:StartExecution"]
    assert sorted(statements["StartOwnWorkflows"]["Resource"]) == machines
    assert statements["DescribeOwnExecutions"]["Action"] == ["states:DescribeExecution"]
    assert sorted(statements["DescribeOwnExecutions"]["Resource"]) == sorted(
        arn.replace(":stateMachine:", ":execution:") + ":*" for arn in machines
    )
    states = [a for st in statements.values() for a in st["Action"] if a.startswith("states:")]
    assert sorted(states) == ["states:DescribeExecution", "states:StartExecution"]


def _queue_arn(dep: Deployment, url: str) -> str:
    attributes = dep.emu.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )
    return str(attributes["Attributes"]["QueueArn"])


def test_worker_policies(deployment: Deployment) -> None:
    for wf, wk, _ in _workers(deployment):
        w = deployment.outputs["workers"][wf][wk]
        statements = _policy(deployment, w["role_name"])
        consume = statements["ConsumeOwnQueue"]
        assert sorted(consume["Action"]) == [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
        assert consume["Resource"] == [w["queue_arn"]]
        results = statements["ReportTaskResults"]
        assert sorted(results["Action"]) == [
            "states:SendTaskFailure",
            "states:SendTaskHeartbeat",
            "states:SendTaskSuccess",
        ]
        logs = statements["WriteOwnLogs"]
        assert logs["Resource"] == [
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/{w['function_name']}:*"
        ]
        assert set(statements) == {"ConsumeOwnQueue", "ReportTaskResults", "WriteOwnLogs", "XRay"}


def test_gatekeeper(deployment: Deployment) -> None:
    out, p = deployment.outputs, deployment.prefix
    sqs, lam = deployment.emu.client("sqs"), deployment.emu.client("lambda")
    name = f"{p}stepqueue-gatekeeper"
    url = out["gatekeeper_queue_url"]
    queue_arn = _queue_arn(deployment, url)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    # EventBridge targets a FIFO queue only with content-based deduplication.
    assert attributes["ContentBasedDeduplication"] == "true"
    # Every semaphore's group has SQS's send quota of its own.
    assert attributes["FifoThroughputLimit"] == "perMessageGroupId"
    assert attributes["DeduplicationScope"] == "messageGroup"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == _queue_arn(deployment, out["gatekeeper_dlq_url"])
    assert redrive["deadLetterTargetArn"].endswith(f":{name}-dlq.fifo")
    assert redrive["maxReceiveCount"] == 100

    semaphores = deployment.tfvars["semaphores"]
    machines = {
        sem: sorted(
            out["state_machine_arns"][wf]
            for wf, spec in deployment.tfvars["workflows"].items()
            if spec["semaphore"] == sem
        )
        for sem in semaphores
    }
    fn = lam.get_function_configuration(FunctionName=name)
    assert fn["Handler"] == "stepqueue_gatekeeper.entry.handler"
    env = fn["Environment"]["Variables"]
    assert env["SEMAPHORE_TABLE"] == out["semaphore_table_name"]
    assert env["GATEKEEPER_QUEUE_URL"] == url
    assert json.loads(env["SEMAPHORE_LIMITS"]) == {k: v["limit"] for k, v in semaphores.items()}
    # The admission rules reach the gatekeeper as the generator wrote them (partner-api.yaml has
    # a per-key limit, a rate and priorities: the check is not vacuous).
    admission = {name: s["admission"] for name, s in semaphores.items() if s.get("admission")}
    written = {name: rules_from(name, rules) for name, rules in admission.items()}
    assert written and rules_from_env(env["SEMAPHORE_RULES"]) == written
    every = sorted(arn for arns in machines.values() for arn in arns)
    assert json.loads(env["EXECUTION_ARN_PREFIXES"]) == [
        arn.replace(":stateMachine:", ":execution:") + ":" for arn in every
    ]
    bound = max(2, 2 * len(semaphores))  # a group per semaphore and one for its arrivals
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == bound
    # One mapping from the control queue, one from each semaphore's arrivals queue.
    arrivals = {
        sem: _queue_arn(deployment, u) for sem, u in out["gatekeeper_arrivals_queue_urls"].items()
    }
    assert set(arrivals) == set(semaphores)
    mappings = {
        m["EventSourceArn"]: m
        for m in lam.list_event_source_mappings()["EventSourceMappings"]
        if m["FunctionArn"] == fn["FunctionArn"]
    }
    assert set(mappings) == {queue_arn, *arrivals.values()}
    for source, esm in mappings.items():
        assert esm["State"] in {"Disabled", "Disabling"} or esm.get("Enabled") is False
        assert esm["BatchSize"] == 10
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        # An arrivals queue has one group: one batch in flight, 2 the least AWS accepts.
        most = bound if source == queue_arn else 2
        assert esm["ScalingConfig"] == {"MaximumConcurrency": most}
    for sem, arn in arrivals.items():
        assert arn.endswith(f":{name}-{sem}-arrivals.fifo")
        queue = sqs.get_queue_attributes(
            QueueUrl=out["gatekeeper_arrivals_queue_urls"][sem], AttributeNames=["All"]
        )["Attributes"]
        assert queue["FifoQueue"] == "true"
        dead = json.loads(queue["RedrivePolicy"])
        assert dead["deadLetterTargetArn"].endswith(f":{name}-{sem}-arrivals-dlq.fifo")
        assert dead["maxReceiveCount"] == 100

    statements = _policy(deployment, out["gatekeeper_role_name"])
    assert sorted(statements["ConsumeOwnQueues"]["Resource"]) == sorted(
        [queue_arn, *arrivals.values()]
    )
    # It sends only into the control queue (follow-ons, wake-ups).
    assert statements["ContinueInControlQueue"]["Resource"] == [queue_arn]
    items = statements["SemaphoreItems"]
    assert sorted(items["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    assert items["Resource"] == [out["semaphore_table_arn"]]
    keys = items["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
    assert sorted(keys) == sorted(k for sem in semaphores for k in (sem, f"{sem}#*"))
    assert statements["HoldersIndex"]["Resource"] == [f"{out['semaphore_table_arn']}/index/holders"]
    # SendTaskFailure: a dropped acquire's execution fails at once (docs/design.md §4a).
    assert sorted(statements["GrantSlots"]["Action"]) == [
        "states:SendTaskFailure",
        "states:SendTaskSuccess",
    ]
    own = statements["OwnExecutions"]
    assert sorted(own["Action"]) == ["states:DescribeExecution", "states:StopExecution"]
    assert sorted(own["Resource"]) == sorted(
        arn.replace(":stateMachine:", ":execution:") + ":*" for arn in every
    )
    for sid, st in statements.items():
        if st["Resource"] == ["*"]:
            assert sid in {"GrantSlots", "XRay"}, sid

    # Per semaphore: three rules, each writing the gatekeeper's own message into that
    # semaphore's message group.
    events = deployment.emu.client("events")
    rules = {r["Name"]: r for r in events.list_rules(NamePrefix=f"{name}-")["Rules"]}
    assert set(rules) == {
        f"{name}-{sem}-{kind}" for sem in semaphores for kind in ("ended", "redriven", "sweep")
    }
    for sem in semaphores:
        ended = json.loads(rules[f"{name}-{sem}-ended"]["EventPattern"])
        assert ended["detail"] == {
            "status": ["FAILED", "TIMED_OUT", "ABORTED"],
            "stateMachineArn": machines[sem],
        }
        redriven = json.loads(rules[f"{name}-{sem}-redriven"]["EventPattern"])
        assert redriven["detail"]["status"] == ["RUNNING"]
        assert redriven["detail"]["redriveCount"] == [{"numeric": [">", 0]}]
        assert rules[f"{name}-{sem}-sweep"]["ScheduleExpression"] == "rate(5 minutes)"
        for kind, op in (("ended", "reclaim"), ("redriven", "redriven"), ("sweep", "sweep")):
            [target] = events.list_targets_by_rule(Rule=f"{name}-{sem}-{kind}")["Targets"]
            assert target["Arn"] == queue_arn
            assert target["SqsParameters"] == {"MessageGroupId": sem}
            template = target["InputTransformer"]["InputTemplate"]
            assert f'"op": "{op}", "semaphore": "{sem}"' in template

    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
        r["Arn"] for r in rules.values()
    )


def test_checkov_on_the_root_plan_json(deployment: Deployment, tmp_path: Path) -> None:
    """The plan the stack was applied from: what `stepqueue plan` saves and CI scans (the
    configuration beside it, so the inline skips apply to the plan too)."""
    report = run_checkov(deployment.plan_json, plan_source=copy_configuration(tmp_path))
    assert report["check_type"] == "terraform_plan"
    assert failed_checks(report) == []
    assert report["summary"]["passed"] > 0
