"""Generated semaphore workflows executed by Step Functions on the emulator.

The definitions come from the generator CLI; Terraform's placeholders are filled in with
``generator.render_definition`` exactly as ``templatefile()`` would.
"""

from __future__ import annotations

import json
import re
from typing import Any

from testkit.semaphore_requests import (
    SemaphoreRequests,
    generate_definition_template,
    render,
)
from tests.support.semaphore import ROLE_ARN, create_table, holders
from tests.support.waiting import until, until_value, wait_until_ended


def deploy(ddb: Any, sfn: Any, name: str, limit: int, body: str) -> tuple[str, SemaphoreRequests]:
    """Generate ``body`` under ``concurrency: {limit}``; create its table and state machine."""
    spec = f"name: {name}\nconcurrency: {{limit: {limit}, mode: polling}}\n{body}"
    definition = render(generate_definition_template(spec), table=name)
    create_table(ddb, name, name)
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]
    return str(machine), SemaphoreRequests.from_definition(definition)


# The body reports what the interpreter's context held, then keeps the slot for a moment.
LOOK_AND_HOLD = """\
StartAt: Look
States:
  Look:
    Type: Pass
    Parameters:
      id.$: $$.Execution.Id
      start.$: $$.Execution.StartTime
    Next: Hold
  Hold:
    Type: Wait
    Seconds: 2
    Next: Done
  Done:
    Type: Succeed
"""


def test_execution_acquires_and_releases(ddb: Any, sfn: Any, unique_name: str) -> None:
    machine, requests = deploy(ddb, sfn, unique_name, 2, LOOK_AND_HOLD)
    # Always name executions: moto 5.2.5 names an unnamed one "None", so they would collide.
    arn = sfn.start_execution(stateMachineArn=machine, name="happy")["executionArn"]
    seen = until_value(  # catch the execution inside its body
        "the execution holds its slot", lambda: holders(ddb, unique_name, unique_name), bool
    )
    ended = wait_until_ended(sfn, arn)
    assert ended["status"] == "SUCCEEDED", ended
    context = json.loads(ended["output"])
    assert context["id"] == arn
    # What the interpreter wrote is exactly what the bench's resolver sends for this context.
    sent = requests.acquire_kwargs(arn, context["start"])
    assert seen == {sent["ExpressionAttributeNames"]["#e"]: sent["ExpressionAttributeValues"][":t"]}
    # A string timestamp, as AWS gives (moto 5.2.5 hands the Task a datetime, which the
    # DynamoDB integration then fails to serialise: the emulator must shim that).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", context["start"])
    assert holders(ddb, unique_name, unique_name) == {}


FAILING_BODY = """\
StartAt: Body
States:
  Body:
    Type: Parallel
    Branches:
      - StartAt: Boom
        States:
          Boom:
            Type: Fail
            Error: Body.Broken
            Cause: failed on purpose
    End: true
"""


def test_failing_body_releases_then_fails_with_its_error(
    ddb: Any, sfn: Any, unique_name: str
) -> None:
    machine, _ = deploy(ddb, sfn, unique_name, 2, FAILING_BODY)
    arn = sfn.start_execution(stateMachineArn=machine, name="failing")["executionArn"]
    ended = wait_until_ended(sfn, arn)
    assert ended["status"] == "FAILED", ended
    assert (ended.get("error"), ended.get("cause")) == ("Body.Broken", "failed on purpose")
    assert holders(ddb, unique_name, unique_name) == {}


QUICK = """\
StartAt: Work
States:
  Work:
    Type: Pass
    End: true
"""


def _execution_arn(machine: str, name: str) -> str:
    return machine.replace(":stateMachine:", ":execution:") + f":{name}"


def test_already_holding_proceeds_even_when_full(ddb: Any, sfn: Any, unique_name: str) -> None:
    # A retried acquire whose first attempt succeeded: the execution is already a holder and
    # the semaphore is full (limit 1). It must go through, not wait for itself.
    machine, requests = deploy(ddb, sfn, unique_name, 1, QUICK)
    arn = _execution_arn(machine, "retried")
    ddb.update_item(**requests.acquire_kwargs(arn, "2026-11-23T12:00:00.000Z"))
    started = sfn.start_execution(stateMachineArn=machine, name="retried")
    assert started["executionArn"] == arn
    ended = wait_until_ended(sfn, arn, timeout=30)
    assert ended["status"] == "SUCCEEDED", ended
    assert holders(ddb, unique_name, unique_name) == {}


def _refusals(sfn: Any, arn: str) -> int:
    """The acquire attempts the full semaphore turned down so far."""
    events = sfn.get_execution_history(executionArn=arn)["events"]
    return sum(
        1
        for e in events
        if e["type"] == "TaskFailed"
        and e["taskFailedEventDetails"].get("error") == "DynamoDB.ConditionalCheckFailedException"
    )


def test_full_semaphore_waits_then_proceeds(ddb: Any, sfn: Any, unique_name: str) -> None:
    machine, requests = deploy(ddb, sfn, unique_name, 1, QUICK)
    other = _execution_arn(machine, "someone-else")
    ddb.update_item(**requests.acquire_kwargs(other, "2026-11-23T12:00:00.000Z"))
    arn = sfn.start_execution(stateMachineArn=machine, name="waiting")["executionArn"]
    until("several ConditionalCheckFailed retries", lambda: _refusals(sfn, arn) >= 3)
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert set(holders(ddb, unique_name, unique_name)) == {other}
    ddb.update_item(**requests.release_kwargs(other, "2026-11-23T12:00:00.000Z"))
    ended = wait_until_ended(sfn, arn, timeout=30)  # next retry is at most MaxDelaySeconds away
    assert ended["status"] == "SUCCEEDED", ended
    assert holders(ddb, unique_name, unique_name) == {}
