"""The gatekeeper's Lambda handler against the emulator's DynamoDB, with stand-ins for Step
Functions and SQS whose answers a test decides: the harness of test_bad_messages.py and
test_gatekeeper_properties.py.

Step Functions is stood in because what these tests need of it the emulator cannot give: IAM
(moto enforces none: the stand-in allows only the `states:` actions modules/gatekeeper/iam.tf
grants, on the resources it grants them), a clock of its own, redrive counts, and replies
chosen per call (stale, refused, throttled).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from stepqueue_gatekeeper import entry
from stepqueue_gatekeeper.decide import Gatekeeper, Outcome

from stepqueue.paths import REPO
from testkit import waiting_room as room

ACCOUNT_ARN = "arn:aws:states:us-east-1:123456789012:execution:"
OWN = ACCOUNT_ARN + "room:"  # this deployment's state machine
FOREIGN = ACCOUNT_ARN + "elsewhere:"  # another state machine of the account
IAM_TF = REPO / "modules" / "gatekeeper" / "iam.tf"


def aws_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} (stood in)"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def role_actions() -> frozenset[str]:
    """The Step Functions actions the gatekeeper's role grants (modules/gatekeeper/iam.tf)."""
    return frozenset(re.findall(r'"states:([A-Za-z]+)"', IAM_TF.read_text()))


# The actions iam.tf grants on this deployment's executions only (the others take no resource).
PER_EXECUTION = frozenset({"DescribeExecution", "StopExecution"})


@dataclass
class StepFunctions:
    """Task tokens and executions, as far as the gatekeeper sees them; every call checked
    against the role's actions (AccessDeniedException otherwise, as AWS answers)."""

    allowed: frozenset[str] = field(default_factory=role_actions)
    own: tuple[str, ...] = (OWN,)
    now: Callable[[], float] = lambda: 0.0  # Step Functions' clock, seconds
    status: dict[str, str] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)  # redriveCount
    stopped: dict[str, float] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # token -> execution
    closed: set[str] = field(default_factory=set)
    succeeded: list[str] = field(default_factory=list)  # executions granted, in order
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)  # execution -> answer
    stops: list[str] = field(default_factory=list)
    # execution -> the reply DescribeExecution gives instead of the truth (eventual consistency)
    stale: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start(self, arn: str) -> str:
        token = f"tok-{arn}"
        self.status[arn] = "RUNNING"
        self.owner[token] = arn
        return token

    def owner_of(self, arn: str) -> str:
        """The token of the execution's (one) acquire."""
        return next(t for t, a in self.owner.items() if a == arn)

    def end(self, arn: str, status: str = "FAILED") -> None:
        self.status[arn] = status
        self.stopped[arn] = self.now()
        self.closed.update(t for t, a in self.owner.items() if a == arn)

    def _check(self, action: str, execution: str | None = None) -> None:
        if action not in self.allowed or (
            action in PER_EXECUTION and not (execution or "").startswith(self.own)
        ):
            raise aws_error("AccessDeniedException", action)

    def _token(self, action: str, token: str) -> str:
        self._check(action)
        if token not in self.owner:
            raise aws_error("InvalidToken", action)
        if token in self.closed:
            raise aws_error("TaskTimedOut", action)
        self.closed.add(token)
        return self.owner[token]

    def send_task_success(self, *, taskToken: str, output: str) -> dict[str, Any]:
        self.succeeded.append(self._token("SendTaskSuccess", taskToken))
        return {}

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        execution = self._token("SendTaskFailure", taskToken)
        self.failed[execution] = (error, cause)
        self.end(execution)
        return {}

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        self._check("DescribeExecution", executionArn)
        if executionArn in self.stale:
            return dict(self.stale[executionArn])
        if executionArn not in self.status:
            raise aws_error("ExecutionDoesNotExist", "DescribeExecution")
        reply: dict[str, Any] = {
            "executionArn": executionArn,
            "status": self.status[executionArn],
            "redriveCount": self.runs.get(executionArn, 0),
        }
        if executionArn in self.stopped:
            reply["stopDate"] = datetime.fromtimestamp(self.stopped[executionArn], UTC)
        return reply

    def stop_execution(self, *, executionArn: str, **_: Any) -> dict[str, Any]:
        self._check("StopExecution", executionArn)
        self.stops.append(executionArn)
        self.end(executionArn, "ABORTED")
        return {}


@dataclass
class Sqs:
    """The queue as the gatekeeper and its handler use it: follow-on messages kept in order,
    visibility changes recorded."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    visibility: list[dict[str, Any]] = field(default_factory=list)

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"MessageId": f"sent-{len(self.sent)}"}

    def change_message_visibility_batch(self, **request: Any) -> dict[str, Any]:
        self.visibility += request["Entries"]
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Room:
    """One semaphore: its items in the emulator's DynamoDB, decided by the real handler."""

    ddb: Any
    name: str
    sfn: StepFunctions
    sqs: Sqs
    clock: Clock
    keeper: Gatekeeper
    ids: Iterator[int] = field(default_factory=itertools.count)
    outcomes: list[Outcome] = field(default_factory=list)

    def acquire(self, name: str, prefix: str = OWN, **extra: Any) -> dict[str, Any]:
        arn = prefix + name
        token = self.sfn.start(arn)
        acquire = hashlib.sha256(arn.encode()).hexdigest()[:32]
        body = {"op": "acquire", "semaphore": self.name, "execution": arn, "acquire": acquire}
        return {**body, "token": token, **extra}

    def body(self, op: str, **fields: Any) -> dict[str, Any]:
        return {"op": op, "semaphore": self.name, **fields}

    def records(self, *bodies: dict[str, Any] | str, receives: int = 1) -> list[dict[str, Any]]:
        return [
            {
                "messageId": f"m{next(self.ids)}",
                "receiptHandle": f"rh{n}",
                "body": b if isinstance(b, str) else json.dumps(b),
                "attributes": {
                    "MessageGroupId": self.name,
                    "ApproximateReceiveCount": str(receives),
                },
            }
            for n, b in enumerate(bodies)
        ]

    def deliver(self, *bodies: dict[str, Any] | str) -> list[str]:
        """One batch through the Lambda handler; the ids it reported failed."""
        return self.handle(self.records(*bodies))

    def handle(self, records: list[dict[str, Any]]) -> list[str]:
        reply = entry.handler({"Records": records}, None)
        return [f["itemIdentifier"] for f in reply["batchItemFailures"]]

    def counter(self) -> dict[str, int]:
        return room.counter(self.ddb, self.name, self.name)

    def holders(self) -> list[str]:
        return room.holder_items(self.ddb, self.name, self.name)

    def item(self, item_id: str) -> dict[str, Any] | None:
        reply = self.ddb.get_item(
            TableName=self.name, Key={"id": {"S": item_id}}, ConsistentRead=True
        )
        item: dict[str, Any] | None = reply.get("Item")
        return item


def make_room(
    ddb: Any,
    name: str,
    monkeypatch: Any,
    *,
    limit: int = 1,
    sfn: StepFunctions | None = None,
    **keeper: Any,
) -> Room:
    """A fresh table and semaphore `name`, and the Lambda handler deciding it with the real
    gatekeeper (this deployment: semaphore `name`, executions under OWN)."""
    room.create_table(ddb, name, {name: limit})
    clock = Clock()
    sfn = sfn or StepFunctions()
    sfn.now = clock
    sqs = Sqs()
    gatekeeper = Gatekeeper(
        ddb,
        sfn,
        sqs,
        table=name,
        queue_url="https://sqs.example/q.fifo",
        own_prefixes=(OWN,),
        semaphores=(name,),
        default_limits={name: limit},
        clock=clock,
        **keeper,
    )
    harness = Room(ddb, name, sfn, sqs, clock, gatekeeper)
    real_process = gatekeeper.process

    def process(semaphore: str, messages: Any) -> Outcome:
        outcome = real_process(semaphore, messages)
        harness.outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(gatekeeper, "process", process)
    monkeypatch.setattr(entry, "gatekeeper", lambda: gatekeeper)
    monkeypatch.setattr(entry, "client", lambda service: sqs)
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "https://sqs.example/q.fifo")
    return harness
