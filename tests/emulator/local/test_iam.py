"""IAM enforced on the emulator (`Emulator(enforce_iam=True)`, docs/local-emulator.md "IAM").

What moto 5.2.5 evaluates, measured against a server (each assertion one fact the docs state),
and the local runner calling AWS with each function's own execution role: a permission the role
lacks is refused, so a missing grant fails a local test instead of production.
"""

from __future__ import annotations

import json
import threading
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stepqueue.local import runner as runner_module
from stepqueue.local import shims
from stepqueue.local.emulator import ACCESS_KEY, REGION, Emulator, assume_role, iam_enforced
from stepqueue.local.runner import (
    CREDENTIALS_SECONDS,
    MappingRunner,
    RoleSession,
    Runner,
    RunnerError,
    discover,
)
from tests.support.waiting import until, wait_until_ended

# What AWS answers a refused call, by protocol: DynamoDB, Step Functions, Lambda; SQS; query
# services (IAM, STS); an unknown key.
REFUSALS = {
    "AccessDeniedException",
    "AccessDenied",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture(scope="module")
def enforcing() -> Iterator[Emulator]:
    with Emulator(enforce_iam=True) as emu:
        yield emu


def _role(emu: Emulator, name: str, statements: list[dict[str, Any]]) -> str:
    iam = emu.client("iam")
    arn = str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
            "Arn"
        ]
    )
    if statements:
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    return arn


def _signed(emu: Emulator, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=emu.endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def _as_role(emu: Emulator, role_arn: str, service: str) -> Any:
    keys = assume_role(emu.endpoint, role_arn, "probe", 900)
    return _signed(emu, service, keys["AccessKeyId"], keys["SecretAccessKey"], keys["SessionToken"])


def _refused(call: Any) -> bool:
    """The call was refused with 403 and the code AWS answers (the service's own)."""
    try:
        call()
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        code = error.response["Error"]["Code"]
        return bool(status == 403 and code in REFUSALS)
    return False


def _table(ddb: Any, name: str) -> str:
    reply = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return str(reply["TableDescription"]["TableArn"])


def test_iam_shims_fit_the_installed_moto() -> None:
    assert shims.shim_problems(shims.IAM_SHIMS) == []


def test_enforcement_is_detected(enforcing: Emulator, emulator: Emulator) -> None:
    assert iam_enforced(enforcing.endpoint)
    assert not iam_enforced(emulator.endpoint)


def test_the_test_key_is_allowed_everything_and_an_unknown_key_nothing(
    enforcing: Emulator, unique_name: str
) -> None:
    sqs = enforcing.client("sqs")
    sqs.create_queue(QueueName=unique_name)
    assert enforcing.client("iam").list_roles() is not None
    assert _refused(_signed(enforcing, "sqs", "nobody", "testing").list_queues)
    # The signature is not checked (shim iam.SignaturesNotChecked): a wrong secret passes.
    assert _signed(enforcing, "sqs", ACCESS_KEY, "wrong").list_queues() is not None


def test_what_moto_evaluates(enforcing: Emulator, unique_name: str) -> None:
    """Action always; Resource for SQS (and S3, IAM, STS) only; Deny; no Condition."""
    sqs, ddb = enforcing.client("sqs"), enforcing.client("dynamodb")
    own = sqs.create_queue(QueueName=f"{unique_name}-own")["QueueUrl"]
    other = sqs.create_queue(QueueName=f"{unique_name}-other")["QueueUrl"]
    own_arn = sqs.get_queue_attributes(QueueUrl=own, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    table = _table(ddb, f"{unique_name}-t")
    _table(ddb, f"{unique_name}-u")
    role = _role(
        enforcing,
        unique_name,
        [
            {
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:DeleteMessage"],
                "Resource": own_arn,
            },
            {"Effect": "Allow", "Action": ["sqs:ReceiveMessage"], "Resource": own_arn},
            {
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:DeleteItem"],
                "Resource": table,
            },
            {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": f"{table}-nothing"},
            {
                "Effect": "Allow",
                "Action": "states:ListStateMachines",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
            },
        ],
    )
    r_sqs, r_ddb, r_sfn = (
        _as_role(enforcing, role, s) for s in ("sqs", "dynamodb", "stepfunctions")
    )
    # SQS: the queue ARN is matched.
    r_sqs.send_message(QueueUrl=own, MessageBody="x")
    assert _refused(lambda: r_sqs.send_message(QueueUrl=other, MessageBody="x"))
    assert _refused(lambda: r_sqs.purge_queue(QueueUrl=own))  # an action not granted
    # A batch is authorised as its single action (shim iam.DependentActions), as on AWS.
    r_sqs.send_message_batch(QueueUrl=own, Entries=[{"Id": "1", "MessageBody": "y"}])
    [message, *_] = r_sqs.receive_message(QueueUrl=own, MaxNumberOfMessages=1)["Messages"]
    r_sqs.delete_message_batch(
        QueueUrl=own, Entries=[{"Id": "1", "ReceiptHandle": message["ReceiptHandle"]}]
    )
    # DynamoDB: the action only. A resource-scoped Allow allows every table (shim
    # iam.UnknownResourceMatchesAnyStatement), and so a resource-scoped Deny denies every one.
    r_ddb.put_item(TableName=f"{unique_name}-u", Item={"k": {"S": "a"}})
    assert _refused(lambda: r_ddb.get_item(TableName=f"{unique_name}-t", Key={"k": {"S": "a"}}))
    assert _refused(lambda: r_ddb.update_item(TableName=f"{unique_name}-t", Key={"k": {"S": "a"}}))
    # A transaction needs each item's action (there is no dynamodb:TransactWriteItems).
    put = {"Put": {"TableName": f"{unique_name}-t", "Item": {"k": {"S": "b"}}}}
    update = {
        "Update": {
            "TableName": f"{unique_name}-t",
            "Key": {"k": {"S": "c"}},
            "UpdateExpression": "SET v = :v",
            "ExpressionAttributeValues": {":v": {"N": "1"}},
        }
    }
    r_ddb.transact_write_items(TransactItems=[put])
    assert _refused(lambda: r_ddb.transact_write_items(TransactItems=[put, update]))
    # Conditions are not evaluated: this one does not hold (us-east-1), and the call passes.
    r_sfn.list_state_machines()
    assert _refused(lambda: r_sfn.send_task_failure(taskToken="t"))


def test_the_interpreter_calls_as_the_emulator_not_the_state_machine_role(
    enforcing: Emulator, unique_name: str
) -> None:
    """A state machine's role is not enforced: moto's interpreter signs its task calls with its
    own key, which the emulator's identity holds."""
    sqs, sfn = enforcing.client("sqs"), enforcing.client("stepfunctions")
    queue = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    powerless = _role(enforcing, unique_name, [])
    definition = {
        "StartAt": "Send",
        "States": {
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": queue, "MessageBody": "hi"},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=unique_name, definition=json.dumps(definition), roleArn=powerless
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert wait_until_ended(sfn, execution)["status"] == "SUCCEEDED"


# -- the runner: each function calls AWS with its own role ------------------------------------


def _worker_stack(emu: Emulator, lambda_zip: Path, name: str, grants: list[str]) -> tuple[str, str]:
    """A worker queue, a function of the real zip whose role allows the mapping's SQS calls and
    `grants`, its disabled mapping, and a state machine queueing one task: (machine, queue)."""
    sqs, lam, sfn = (emu.client(s) for s in ("sqs", "lambda", "stepfunctions"))
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    consume = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
    statements = [{"Effect": "Allow", "Action": consume, "Resource": queue_arn}]
    if grants:
        statements.append({"Effect": "Allow", "Action": grants, "Resource": "*"})
    role = _role(emu, name, statements)
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="stepqueue_runtime.entry.handler",
        Code={"ZipFile": lambda_zip.read_bytes()},
        Timeout=10,
        Environment={"Variables": {"STEPQUEUE_HANDLER": "examples.common.sleep"}},
    )
    lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName=name,
        Enabled=False,
        BatchSize=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )
    definition = {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue,
                    "MessageBody": {
                        "input.$": "$",
                        "taskToken.$": "$$.Task.Token",
                        "context": {
                            "workflow": "iam",
                            "worker": "work",
                            "state.$": "$$.State.Name",
                            "execution.$": "$$.Execution.Id",
                        },
                    },
                },
                "TimeoutSeconds": 60,
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]
    return str(machine), str(queue)


def _run_one_task(
    emu: Emulator, lambda_zip: Path, name: str, grants: list[str], log: Path
) -> tuple[str, str]:
    """Start one execution, run the worker through the Runner until the task's outcome is
    known: (the execution's status, the containers' log)."""
    sfn = emu.client("stepfunctions")
    machine, _ = _worker_stack(emu, lambda_zip, name, grants)
    execution = sfn.start_execution(
        stateMachineArn=machine, name=uuid.uuid4().hex, input=json.dumps({"seconds": 0})
    )["executionArn"]
    with Runner(emu.endpoint, lambda_zip, function_prefix=name, log_path=log) as runner:
        assert runner.role_credentials  # detected: the emulator enforces IAM
        status: list[str] = []

        def decided() -> bool:
            runner.check()
            status[:] = [sfn.describe_execution(executionArn=execution)["status"]]
            return status[0] != "RUNNING" or "task rejected" in log.read_text()

        until("the task completed or its completion was refused", decided, 60)
    return status[0], log.read_text()


def test_a_worker_whose_role_lacks_send_task_success_is_refused(
    enforcing: Emulator, lambda_zip: Path, unique_name: str, tmp_path: Path
) -> None:
    status, log = _run_one_task(
        enforcing, lambda_zip, unique_name, ["states:SendTaskHeartbeat"], tmp_path / "c.log"
    )
    assert status == "RUNNING"
    [rejected, *_] = [line for line in log.splitlines() if '"task rejected"' in line]
    assert json.loads(rejected)["error"] == "AccessDeniedException"


def test_the_same_worker_with_send_task_success_completes_its_task(
    enforcing: Emulator, lambda_zip: Path, unique_name: str, tmp_path: Path
) -> None:
    status, log = _run_one_task(
        enforcing,
        lambda_zip,
        unique_name,
        ["states:SendTaskSuccess", "states:SendTaskHeartbeat"],
        tmp_path / "c.log",
    )
    assert status == "SUCCEEDED", log[-3000:]
    assert "not authorized" not in log


def test_a_role_lambda_cannot_assume_stops_the_runner(
    enforcing: Emulator, lambda_zip: Path, unique_name: str
) -> None:
    _worker_stack(enforcing, lambda_zip, unique_name, [])
    enforcing.client("iam").update_assume_role_policy(
        RoleName=unique_name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "states.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    runner = Runner(enforcing.endpoint, lambda_zip, function_prefix=unique_name)
    with pytest.raises(RunnerError, match=f"{unique_name}: cannot assume its role .*AccessDenied"):
        runner.start()
    assert runner.mappings == []  # nothing started


def test_a_container_whose_keys_expire_soon_is_retired_for_one_with_fresh_keys(
    enforcing: Emulator,
    lambda_zip: Path,
    unique_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _worker_stack(enforcing, lambda_zip, unique_name, ["states:SendTaskSuccess"])
    [settings] = discover(enforcing.endpoint, unique_name)
    role = RoleSession(enforcing.endpoint, settings.role_arn, unique_name)
    task_root = tmp_path / "task"
    with zipfile.ZipFile(lambda_zip) as archive:
        archive.extractall(task_root)
    with open(tmp_path / "c.log", "w") as log:
        mapping = MappingRunner(
            settings, enforcing.endpoint, task_root, log, threading.Event(), None, role
        )
        try:
            first = mapping._container()
            assert first.expires_at is not None
            mapping._release_container(first, healthy=True)
            assert mapping._container() is first  # fresh keys: the warm container is reused
            mapping._release_container(first, healthy=True)
            # From now on any key is "about to expire": the session is assumed again and the
            # idle container holding the old keys is ended, not reused.
            monkeypatch.setattr(runner_module, "CREDENTIALS_MARGIN_S", CREDENTIALS_SECONDS + 60.0)
            second = mapping._container()
            assert second is not first
            assert first.proc.poll() is not None
            assert second.expires_at is not None and second.expires_at >= first.expires_at
            assert mapping.container_env(role.keys())["AWS_SESSION_TOKEN"]
        finally:
            mapping.close()
