"""Each shim of stepqueue/local/shims.py: it works on the emulator, and the gap it covers still
exists in plain moto. When a moto upgrade makes a `test_gap_*` fail, drop that shim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepqueue.local.emulator import Emulator, EmulatorError, is_reachable
from stepqueue.local.shims import MOTO_VERSION

DEFINITION = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture(scope="module")
def plain_moto() -> Iterator[Emulator]:
    with Emulator(shims=False, atomic_dynamodb=False) as emu:
        yield emu


def _queue_pair(emu: Emulator, name: str) -> tuple[Any, str, str, str]:
    sqs = emu.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
    queue = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    allow = json.dumps({"redrivePermission": "allowAll"}, separators=(",", ":"))
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": allow})
    return sqs, queue, dlq, allow


# --- the shims start only on the moto release they were checked against ----------------------


def _pretend_moto_release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, version: str) -> None:
    """The emulator's server process sees moto report `version`: a sitecustomize on its
    PYTHONPATH runs before anything else in it."""
    (tmp_path / "sitecustomize.py").write_text(f"import moto\nmoto.__version__ = {version!r}\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)


def test_the_emulator_refuses_another_moto_release(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _pretend_moto_release(monkeypatch, tmp_path, "9.9.9")
    with pytest.raises(EmulatorError) as raised:
        Emulator().start()
    message = str(raised.value)
    assert message.startswith(
        "the emulator did not start:\npython -m stepqueue.local.emulator: cannot start: "
        "moto 9.9.9 is installed, but the emulator's shims (stepqueue/local/shims.py) were "
        f"written and checked for moto {MOTO_VERSION}."
    ), message
    assert "Traceback" not in message


def test_plain_moto_starts_on_any_release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without shims nothing depends on moto's internals: the test_gap_* tests below re-check a
    new release against plain moto."""
    _pretend_moto_release(monkeypatch, tmp_path, "9.9.9")
    with Emulator(shims=False, atomic_dynamodb=False) as emu:
        assert is_reachable(emu.endpoint)


# --- Step Functions: ValidateStateMachineDefinition ---------------------------------------


def test_validate_state_machine_definition(emulator: Emulator) -> None:
    reply = emulator.client("stepfunctions").validate_state_machine_definition(
        definition=DEFINITION
    )
    assert reply["result"] == "OK"
    assert reply["diagnostics"] == []


def test_gap_validate_state_machine_definition(plain_moto: Emulator) -> None:
    sfn = plain_moto.client("stepfunctions", retries={"max_attempts": 1})
    with pytest.raises(ClientError):
        sfn.validate_state_machine_definition(definition=DEFINITION)


# --- Step Functions: ListStateMachineVersions -----------------------------------------------


def test_list_state_machine_versions(emulator: Emulator, unique_name: str) -> None:
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(name=unique_name, definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []


def test_gap_list_state_machine_versions(plain_moto: Emulator, unique_name: str) -> None:
    sfn = plain_moto.client("stepfunctions", retries={"max_attempts": 1})
    arn = sfn.create_state_machine(name=unique_name, definition=DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError):
        sfn.list_state_machine_versions(stateMachineArn=arn)


# --- Step Functions: $$.Execution.StartTime is an ISO-8601 string ---------------------------

START_TIME_DEFINITION = json.dumps(
    {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Parameters": {"t.$": "$$.Execution.StartTime"}, "End": True}
        },
    }
)


def _run_to_end(emu: Emulator, name: str) -> dict[str, Any]:
    import time

    sfn = emu.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=START_TIME_DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    for _ in range(100):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_context_start_time_is_a_string(emulator: Emulator, unique_name: str) -> None:
    import re

    described = _run_to_end(emulator, unique_name)
    assert described["status"] == "SUCCEEDED"
    start = json.loads(described["output"])["t"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start), start


def test_gap_context_start_time(plain_moto: Emulator, unique_name: str) -> None:
    try:  # plain moto: the datetime breaks the output (DescribeExecution answers 500)
        described = _run_to_end(plain_moto, unique_name)
    except ClientError:
        return
    output = json.loads(described.get("output") or "{}")
    assert described["status"] == "FAILED" or not isinstance(output.get("t"), str)


# --- SQS: RedriveAllowPolicy returned, RedrivePolicy compact --------------------------------


def test_redrive_allow_policy_returned(emulator: Emulator, unique_name: str) -> None:
    sqs, _, dlq, allow = _queue_pair(emulator, unique_name)
    by_name = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy"])
    assert by_name["Attributes"]["RedriveAllowPolicy"] == allow
    everything = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])
    assert everything["Attributes"]["RedriveAllowPolicy"] == allow


def test_queue_without_redrive_allow_policy(emulator: Emulator, unique_name: str) -> None:
    sqs = emulator.client("sqs")
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "RedriveAllowPolicy" not in attributes


def test_gap_redrive_allow_policy(plain_moto: Emulator, unique_name: str) -> None:
    sqs, _, dlq, _ = _queue_pair(plain_moto, unique_name)
    everything = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])
    assert "RedriveAllowPolicy" not in everything["Attributes"]


def test_redrive_policy_compact(emulator: Emulator, unique_name: str) -> None:
    sqs, queue, _, _ = _queue_pair(emulator, unique_name)
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]["RedrivePolicy"]
    assert " " not in policy
    assert json.loads(policy)["maxReceiveCount"] == 3


def test_gap_redrive_policy_spaces(plain_moto: Emulator, unique_name: str) -> None:
    sqs, queue, _, _ = _queue_pair(plain_moto, unique_name)
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])[
        "Attributes"
    ]["RedrivePolicy"]
    assert ", " in policy


def _fresh_interpreter(script: str, flag: str) -> Any:
    """Run `script` in a new interpreter (the shims patch moto process-wide; this one stays
    plain) and return the JSON of its last stdout line."""
    out = subprocess.run(
        [sys.executable, "-c", script, flag], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# --- SQS: queue counts computed only when asked for ------------------------------------------

_CHECK_SQS_COUNTS = """
import json, os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
from moto.sqs.models import Queue
from stepqueue.local.shims import SQS_COUNT_PROPERTIES, apply_shims
walks = {"n": 0}
for name in SQS_COUNT_PROPERTIES:  # count moto's own walks, under the shim
    def walk(self, _original=Queue.__dict__[name].fget):
        walks["n"] += 1
        return _original(self)
    setattr(Queue, name, property(walk))
if sys.argv[1] == "on":
    apply_shims(atomic_dynamodb=False)
import boto3
from moto import mock_aws
with mock_aws():
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(30):
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId=str(i % 3),
                         MessageDeduplicationId=str(i))
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "b", "MessageBody": "m", "MessageGroupId": "9", "MessageDeduplicationId": "b"}])
    received = len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"])
    walks_in_actions = walks["n"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
print(json.dumps({
    "walks_in_actions": walks_in_actions,
    "received": received,
    "visible": counts["ApproximateNumberOfMessages"],
    "in_flight": counts["ApproximateNumberOfMessagesNotVisible"],
    "delayed": counts["ApproximateNumberOfMessagesDelayed"],
}))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_queue_counts_only_when_asked(flag: str) -> None:
    """The shim: sends and receives no longer walk the queue to count it, and GetQueueAttributes
    still counts exactly. The gap (off): every send and receive walks it, several times."""
    result = _fresh_interpreter(_CHECK_SQS_COUNTS, flag)
    assert 0 < result["received"] <= 10
    assert (result["walks_in_actions"] == 0) is (flag == "on")
    if flag == "off":
        assert result["walks_in_actions"] >= 4 * 31  # four attribute reads per FIFO send
    received = result["received"]
    assert (result["visible"], result["in_flight"], result["delayed"]) == (
        str(31 - received),
        str(received),
        "0",
    )


# --- the server: its backend names listed once -----------------------------------------------

_CHECK_BACKEND_NAMES = """
import json, os, sys
from moto import backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from stepqueue.local.shims import apply_shims
expected = sorted(backends.list_of_moto_modules())
if sys.argv[1] == "on":
    apply_shims(atomic_dynamodb=False)
app = DomainDispatcherApplication(create_backend_app)
scans = {"n": 0}
listdir = os.listdir
def counting_listdir(path):
    scans["n"] += 1
    return listdir(path)
os.listdir = counting_listdir
routed = [app.get_backend_for_host(host) for host in ("sqs", "stepfunctions", "dynamodb")]
print(json.dumps({"scans": scans["n"], "routed": routed,
                  "same_names": sorted(backends.list_of_moto_modules()) == expected}))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_backend_names_listed_once(flag: str) -> None:
    """The shim: routing a request lists no directory, and routes as before. The gap (off):
    every request lists moto's package directory, under the dispatcher's lock."""
    result = _fresh_interpreter(_CHECK_BACKEND_NAMES, flag)
    assert result["routed"] == ["sqs", "stepfunctions", "dynamodb"]
    assert result["same_names"] is True
    assert result["scans"] == (0 if flag == "on" else 3)


# --- DynamoDB: a transaction backs up the items it names, not the whole table -----------------

_CHECK_TRANSACTION_BACKUP = """
import json, os, sys
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
from moto.dynamodb.models.dynamo_type import Item
copies = {"n": 0}
original = Item.__deepcopy__
def counted(self, memo):
    copies["n"] += 1
    return original(self, memo)
Item.__deepcopy__ = counted
from stepqueue.local.shims import apply_shims
apply_shims(atomic_dynamodb=sys.argv[1] == "on")  # off: DynamoDB as moto ships it
import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

def table(ddb, name, ranged):
    keys = [{"AttributeName": "id", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "id", "AttributeType": "S"}]
    if ranged:
        keys.append({"AttributeName": "n", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "n", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attributes,
                     BillingMode="PAY_PER_REQUEST")
    for i in range(200):
        ddb.put_item(TableName=name, Item={"id": {"S": f"k{i}"}, "n": {"N": "1"},
                                            "v": {"N": str(i)}})

def key(i):
    return {"id": {"S": f"k{i}"}, "n": {"N": "1"}}

def snapshot(ddb, name):
    items = ddb.scan(TableName=name, ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)

result = {}
with mock_aws():
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for name, ranged in (("plain", False), ("ranged", True)):
        table(ddb, name, ranged)
        before = snapshot(ddb, name)
        copies["n"] = 0
        try:  # every kind of write, then a failed condition: all of it undone
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": name, "Item": {**key(500), "v": {"N": "5"}}}},
                {"Put": {"TableName": name, "Item": {**key(1), "v": {"N": "-1"}}}},
                {"Update": {"TableName": name, "Key": key(2), "UpdateExpression": "SET v = :x",
                            "ExpressionAttributeValues": {":x": {"N": "-2"}}}},
                {"Delete": {"TableName": name, "Key": key(3)}},
                {"ConditionCheck": {"TableName": name, "Key": key(4),
                                    "ConditionExpression": "attribute_not_exists(id)"}},
            ])
            cancelled = False
        except ClientError as exc:
            cancelled = exc.response["Error"]["Code"] == "TransactionCanceledException"
        in_transaction = copies["n"]
        undone = snapshot(ddb, name) == before
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {**key(600), "v": {"N": "6"}}}},
            {"Update": {"TableName": name, "Key": key(5), "UpdateExpression": "SET v = :x",
                        "ExpressionAttributeValues": {":x": {"N": "-5"}}}},
            {"Delete": {"TableName": name, "Key": key(6)}},
        ])
        after = set(snapshot(ddb, name)) - set(before)
        result[name] = {"cancelled": cancelled, "undone": undone, "copies": in_transaction,
                        "applied": sorted(json.loads(i)["id"]["S"] for i in after),
                        "count": len(snapshot(ddb, name))}
print(json.dumps(result))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_a_transaction_backs_up_only_the_items_it_names(flag: str) -> None:
    """The shim: a cancelled transaction is undone exactly as moto undoes it (a put, an
    update, a delete and a failed condition check, on a table with and without a range key),
    a committed one applies, and the backup copies the items the transaction names rather than
    the whole table once per item. The gap (off): 5 items x 200 stored = 1,000 item copies."""
    result = _fresh_interpreter(_CHECK_TRANSACTION_BACKUP, flag)
    for name in ("plain", "ranged"):
        one = result[name]
        assert one["cancelled"] and one["undone"], one
        assert one["applied"] == ["k5", "k600"] and one["count"] == 200, one
        if flag == "on":
            # The 4 named items that exist, once per backup (5), and moto's own copy of the
            # updated item.
            assert one["copies"] <= 5 * 4 + 1, one
        else:
            assert one["copies"] >= 5 * 200, one


# --- DynamoDB: opt-in atomic item operations ------------------------------------------------

_CHECK_ATOMIC = """
import json, sys
from stepqueue.local.shims import DYNAMODB_SERIALISED_OPERATIONS, apply_shims
from moto.dynamodb.responses import DynamoHandler
apply_shims(atomic_dynamodb=sys.argv[1] == "on")
print(json.dumps({n: getattr(getattr(DynamoHandler, n), "__stepqueue_atomic__", False)
                  for n in DYNAMODB_SERIALISED_OPERATIONS}))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_atomic_dynamodb_shim_is_opt_in(flag: str) -> None:
    wrapped = _fresh_interpreter(_CHECK_ATOMIC, flag)
    assert {"update_item", "put_item", "delete_item", "transact_write_items"} <= set(wrapped)
    assert all(wrapped.values()) if flag == "on" else not any(wrapped.values())


_CHECK_CLIENTS = """
import json, sys
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_dynamodb as ddb_task,
)
if sys.argv[1] == "on":
    from stepqueue.local.shims import apply_shims
    apply_shims(atomic_dynamodb=False)
a = ddb_task.boto_client_for("us-east-1", "dynamodb")
b = ddb_task.boto_client_for("us-east-1", "dynamodb")
c = ddb_task.boto_client_for("us-east-1", "sqs")
print(json.dumps({"same": a is b, "per_service": a is not c, "url": a.meta.endpoint_url}))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_interpreter_service_clients(flag: str) -> None:
    """The shim: one in-process client per (region, service). The gap (off): a new client per
    call, sent over HTTP to the server's own port."""
    result = _fresh_interpreter(_CHECK_CLIENTS, flag)
    assert result["per_service"] is True
    assert result["same"] is (flag == "on")
    assert ("localhost" in result["url"]) is (flag == "off")


def test_interpreter_calls_stay_in_process(emulator: Emulator, unique_name: str) -> None:
    """An execution's DynamoDB task works through the in-process client (shimmed emulator)."""
    ddb, sfn = emulator.client("dynamodb"), emulator.client("stepfunctions")
    ddb.create_table(
        TableName=unique_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    put = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": unique_name, "Item": {"id": {"S.$": "$$.Execution.Name"}}},
        "End": True,
    }
    definition = json.dumps({"StartAt": "Put", "States": {"Put": put}})
    arn = sfn.create_state_machine(name=unique_name, definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, name="x1")["executionArn"]
    for _ in range(100):
        status = sfn.describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            break
        time.sleep(0.1)
    assert status == "SUCCEEDED"
    assert ddb.get_item(TableName=unique_name, Key={"id": {"S": "x1"}})["Item"]["id"]["S"] == "x1"


def test_emulator_flag_default_is_atomic() -> None:
    assert Emulator().atomic_dynamodb is True
    assert Emulator(atomic_dynamodb=False).atomic_dynamodb is False


def test_conditional_updates_hold_under_threads(emulator: Emulator, unique_name: str) -> None:
    """A small version of the race of docs/design.md §8 against the shimmed emulator: never more
    than the limit granted. (The semaphore bench owns the full proof, with and without.)"""
    from concurrent.futures import ThreadPoolExecutor

    ddb = emulator.client("dynamodb")
    ddb.create_table(
        TableName=unique_name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=unique_name, Item={"id": {"S": "s"}, "holders": {"M": {}}})
    limit = 3

    def acquire(i: int) -> bool:
        try:
            ddb.update_item(
                TableName=unique_name,
                Key={"id": {"S": "s"}},
                UpdateExpression="SET #h.#e = :t",
                ConditionExpression="attribute_exists(#h.#e) OR size(#h) < :limit",
                ExpressionAttributeNames={"#h": "holders", "#e": f"e{i}"},
                ExpressionAttributeValues={":t": {"S": "now"}, ":limit": {"N": str(limit)}},
            )
            return True
        except ddb.exceptions.ConditionalCheckFailedException:
            return False

    with ThreadPoolExecutor(16) as pool:
        granted = sum(pool.map(acquire, range(64)))
    holders = ddb.get_item(TableName=unique_name, Key={"id": {"S": "s"}})["Item"]["holders"]["M"]
    assert granted == len(holders) == limit


# --- Step Functions: parse caches (cost) ----------------------------------------------------

_CHECK_PARSE_CACHES = """
import json, sys
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser, ASLParserException,
)
from moto.stepfunctions.parser.asl.utils import json_path
if sys.argv[1] == "on":
    from stepqueue.local.shims import apply_shims
    apply_shims(atomic_dynamodb=False)
definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}})
program_1, tree_1 = AmazonStateLanguageParser.parse(definition)
program_2, tree_2 = AmazonStateLanguageParser.parse(definition)
errors = 0
for _ in range(2):
    try:
        AmazonStateLanguageParser.parse('{"StartAt": ')
    except ASLParserException:
        errors += 1
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(8) as pool:  # many executions reach a shared component at once
    heap_keys = set(pool.map(lambda _: program_1.heap_key, range(64)))
print(json.dumps({
    "heap_keys": len(heap_keys),
    "tree_reused": tree_1 is tree_2,
    "program_reused": program_1 is program_2,
    "syntax_errors": errors,
    "path_reused": json_path.parse("$.a.b") is json_path.parse("$.a.b"),
    "paths_apart": json_path.parse("$.a") is not json_path.parse("$.b"),
    "extracted": [json_path.extract_json("$.a.b", {"a": {"b": n}}) for n in (1, 2)],
}))
"""


@pytest.mark.parametrize("flag", ["on", "off"])
def test_parse_caches(flag: str) -> None:
    """The shims: one ANTLR parse and one set of evaluation components per definition text, one
    compile per JSONPath text, while syntax errors still raise. The gap (off): all of it is
    built again at every call."""
    result = _fresh_interpreter(_CHECK_PARSE_CACHES, flag)
    assert result["tree_reused"] is (flag == "on")
    assert result["path_reused"] is (flag == "on")
    assert result["program_reused"] is (flag == "on")
    if flag == "on":
        # One slot key per component, however many ask at once. Plain moto draws it without a
        # lock, so 64 first uses at once may draw two (the race the shim closes; it shows only
        # under load, so the gap side asserts nothing about it).
        assert result["heap_keys"] == 1
    assert result["paths_apart"] is True
    assert result["syntax_errors"] == 2
    assert result["extracted"] == [1, 2]


def test_executions_of_one_definition_stay_apart(emulator: Emulator, unique_name: str) -> None:
    """Executions that share a cached definition and cached paths, run at the same time, each
    see only their own input, context and retry counters."""
    from concurrent.futures import ThreadPoolExecutor

    sfn = emulator.client("stepfunctions")
    definition = json.dumps(
        {
            "StartAt": "Shape",
            "States": {
                "Shape": {
                    "Type": "Pass",
                    "Parameters": {"v.$": "$.v", "name.$": "$$.Execution.Name"},
                    "ResultPath": "$.shaped",
                    "Next": "Flaky",
                },
                "Flaky": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::dynamodb:getItem",
                    "Parameters": {
                        "TableName": f"{unique_name}-missing",
                        "Key": {"id": {"S": "x"}},
                    },
                    "Retry": [
                        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}
                    ],
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.caught", "Next": "Done"}
                    ],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        }
    )
    arn = sfn.create_state_machine(name=unique_name, definition=definition, roleArn=ROLE)[
        "stateMachineArn"
    ]

    def run(i: int) -> dict[str, Any]:
        execution = sfn.start_execution(
            stateMachineArn=arn, name=f"e{i}", input=json.dumps({"v": i})
        )["executionArn"]
        for _ in range(200):
            described = sfn.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                break
            time.sleep(0.1)
        history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        scheduled = sum(1 for event in history if event["type"] == "TaskScheduled")
        return {
            "status": described["status"],
            "scheduled": scheduled,
            **json.loads(described.get("output") or "{}"),
        }

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(run, range(6)))
    for i, result in enumerate(results):
        assert result["status"] == "SUCCEEDED"
        assert result["v"] == i
        assert result["shaped"] == {"v": i, "name": f"e{i}"}
        assert "caught" in result
        assert result["scheduled"] == 2  # the first attempt and its one retry, per execution


# --- SQS: FIFO redelivery order -----------------------------------------------------------


def _fifo_redelivered(emu: Emulator, name: str) -> list[str]:
    """Four messages of one group received, all left to come back (visibility 1 s): the order
    of the next receive."""
    sqs = emu.client("sqs")
    url = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for n in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=str(n), MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1)
    assert [m["Body"] for m in first["Messages"]] == ["0", "1", "2", "3"]
    time.sleep(1.5)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [m["Body"] for m in again.get("Messages", [])]


def test_fifo_group_redelivered_in_order(emulator: Emulator, unique_name: str) -> None:
    assert _fifo_redelivered(emulator, unique_name) == ["0", "1", "2", "3"]


def test_gap_fifo_group_redelivered_last_first(plain_moto: Emulator, unique_name: str) -> None:
    assert _fifo_redelivered(plain_moto, unique_name)[:1] == ["3"]


# --- Step Functions: StopExecution leaves a waiting task token open (no shim) ---------------


def test_gap_stop_execution_keeps_a_waiting_token_open(
    plain_moto: Emulator, unique_name: str
) -> None:
    """AWS stops the execution at once and closes its task tokens (SendTaskSuccess then answers
    TaskTimedOut / TaskDoesNotExist); moto 5.2.5 leaves an execution waiting in a
    waitForTaskToken state RUNNING with its token open until the token is completed, and only
    then ends it ABORTED. So locally a waiter aborted while it waits takes its grant, and the
    slot comes back only through the reclaim path (DescribeExecution then says ABORTED)."""
    sqs, sfn = plain_moto.client("sqs"), plain_moto.client("stepfunctions")
    url = sqs.create_queue(QueueName=unique_name)["QueueUrl"]
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=unique_name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 20
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    token = json.loads(messages[0]["Body"])["token"]
    sfn.stop_execution(executionArn=execution)
    time.sleep(0.5)
    # AWS: ABORTED at once, and SendTaskSuccess answers TaskTimedOut.
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output="{}")
    deadline = time.monotonic() + 10
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


# --- Step Functions: JSONata expressions are evaluated ----------------------------------------

JSONATA_DEFINITION = json.dumps(
    {
        "QueryLanguage": "JSONata",
        "StartAt": "Keep",
        "States": {
            "Keep": {
                "Type": "Pass",
                "Assign": {"quote": "{% $states.input.quote %}", "n": "{% $states.input.n %}"},
                "Next": "Route",
            },
            "Route": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $n > 1 %}", "Next": "Each"}],
                "Default": "Each",
            },
            "Each": {
                "Type": "Map",
                "Items": "{% [1..$n] %}",
                "ItemSelector": {"i": "{% $states.context.Map.Item.Value * 10 %}"},
                "ItemProcessor": {
                    "StartAt": "Square",
                    "States": {
                        "Square": {
                            "Type": "Pass",
                            "Output": "{% $states.input.i * $states.input.i %}",
                            "End": True,
                        }
                    },
                },
                "Output": {
                    "squares": "{% $states.result %}",
                    "quote": "{% $quote %}",
                    "hash": "{% $hash('abc', 'SHA-256') %}",
                    "uuid": "{% $uuid() %}",
                    "execution": "{% $states.context.Execution.Id %}",
                },
                "End": True,
            },
        },
    }
)


# A string variable with a quote and a backslash: moto binds it as "text", unescaped.
JSONATA_INPUT = {"n": 3, "quote": 'he said "hi" \\ left'}


def _run_jsonata(emu: Emulator, name: str) -> dict[str, Any]:
    sfn = emu.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=JSONATA_DEFINITION, roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(JSONATA_INPUT))
    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_jsonata_workflow_runs(emulator: Emulator, unique_name: str) -> None:
    import hashlib
    import uuid

    described = _run_jsonata(emulator, unique_name)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["squares"] == [100, 400, 900]
    assert output["quote"] == JSONATA_INPUT["quote"]  # bound as JSON, not as raw text
    assert output["hash"] == hashlib.sha256(b"abc").hexdigest()  # as States.Hash gives it
    assert uuid.UUID(output["uuid"]).version == 4
    assert output["execution"] == described["executionArn"]


def test_gap_jsonata_evaluator_is_a_stub(plain_moto: Emulator, unique_name: str) -> None:
    try:
        described = _run_jsonata(plain_moto, unique_name)
    except ClientError:
        return
    assert described["status"] == "FAILED"


# What AWS documents of JSONata in Step Functions (its examples' expressions, evaluated the way
# moto composes them: `$states` and the variables bound in front of the expression).
_STATES = {
    "input": {
        "title": "Doctor",
        "order": {"product": "pen", "qty": 3, "price": 2.5},
        "items": [{"n": "a", "p": 1}, {"n": "b", "p": 5}, {"n": "c", "p": 3}],
        "when": "2024-11-30T12:00:00Z",
    },
    "context": {"Task": {"Token": "tok"}, "Execution": {"Id": "arn:x"}},
    "result": {"Payload": {"current_price": 42}},
}
AWS_EXAMPLES = [
    ("$states.input.title", "Doctor"),
    ("$customerName", "María"),
    ("$states.result.Payload.current_price", 42),
    ("$states.context.Task.Token", "tok"),
    ("$states.input.order.qty * $states.input.order.price", 7.5),
    ("$sum($states.input.items.p)", 9),
    ("$states.input.items[p > 2].n", ["b", "c"]),
    ("$count($states.input.items) > 2 ? 'many' : 'few'", "many"),
    ("$map($states.input.items, function($v) { $v.p * 2 })", [2, 10, 6]),
    ("$merge([{'a': 1}, {'b': 2}])", {"a": 1, "b": 2}),
    ("$toMillis($states.input.when)", 1732968000000),
    ("$partition([1, 2, 3, 4], 2)", [[1, 2], [3, 4]]),
    ("$range(0, 10, 5)", [0, 5, 10]),
    ("$parse('{\"a\": 1}').a", 1),
    ("$hash('abc', 'MD5')", "900150983cd24fb0d6963f7d28e17f72"),
]


@pytest.mark.parametrize(("expression", "expected"), AWS_EXAMPLES)
def test_jsonata_evaluates_aws_examples(expression: str, expected: Any) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic.jsonata import (
        get_intrinsic_functions_declarations,
    )
    from moto.stepfunctions.parser.asl.jsonata.jsonata import extract_jsonata_variable_references

    from stepqueue.local.shims import JSONATA_NATIVE_FUNCTIONS, evaluate_jsonata

    # moto's own declarations of the functions it implements, as the shim leaves them.
    references = extract_jsonata_variable_references(expression) - set(JSONATA_NATIVE_FUNCTIONS)
    functions = get_intrinsic_functions_declarations(references)
    bound = f'$states:={json.dumps(_STATES)};$customerName:="María";'
    assert evaluate_jsonata(f"({functions}{bound}{expression})") == expected


def test_jsonata_errors_are_moto_errors() -> None:
    from moto.stepfunctions.parser.asl.jsonata.jsonata import JSONataException

    from stepqueue.local.shims import evaluate_jsonata, jsonata_hash

    with pytest.raises(JSONataException) as raised:
        evaluate_jsonata("$count(")
    assert raised.value.error == "S0203"
    with pytest.raises(ValueError, match="unsupported algorithm"):
        jsonata_hash("abc", "CRC32")


@pytest.mark.parametrize("flag", ["on", "off"])
def test_query_language_scopes_per_parse(flag: str) -> None:
    """A JSONata definition parsed in the middle of a JSONPath one (as parallel
    CreateStateMachine calls do) leaves it alone with the shim; without it, plain moto shares
    one scope stack between them (the gap)."""
    code = f"""
import json
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
if {flag == "on"!r}:
    from stepqueue.local.shims import apply_shims
    apply_shims(atomic_dynamodb=False)
one, two = Preprocessor(), Preprocessor()
print(json.dumps(one._query_language_per_scope is two._query_language_per_scope))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) is (flag == "off")


def _function_and_queue(emu: Emulator, name: str) -> tuple[str, str]:
    """A function (its code never runs: the mapping stays disabled) and a queue, by ARN."""
    role = emu.client("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    function = emu.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="h.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},  # an empty zip
    )["FunctionArn"]
    sqs = emu.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return function, queue["QueueArn"]


def _map(emu: Emulator, function: str, queue: str) -> str:
    mapping = emu.client("lambda").create_event_source_mapping(
        FunctionName=function, EventSourceArn=queue, Enabled=False
    )
    return str(mapping["UUID"])


def test_gap_a_second_mapping_of_one_function_and_queue_is_accepted(
    plain_moto: Emulator, unique_name: str
) -> None:
    function, queue = _function_and_queue(plain_moto, unique_name)
    assert _map(plain_moto, function, queue) != _map(plain_moto, function, queue)


def test_a_second_mapping_of_one_function_and_queue_is_refused_as_aws_does(
    emulator: Emulator, unique_name: str
) -> None:
    function, queue = _function_and_queue(emulator, unique_name)
    first = _map(emulator, function, queue)
    with pytest.raises(ClientError) as refused:
        _map(emulator, function, queue)
    error = refused.value.response["Error"]
    assert error["Code"] == "ResourceConflictException"
    assert first in error["Message"] and "already exists" in error["Message"]
    # By name too: the same function.
    with pytest.raises(ClientError, match="ResourceConflictException"):
        _map(emulator, unique_name, queue)
    # Once the first is deleted, the pair may be mapped again.
    emulator.client("lambda").delete_event_source_mapping(UUID=first)
    assert _map(emulator, function, queue) != first
