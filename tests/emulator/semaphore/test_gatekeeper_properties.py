"""Properties of the gatekeeper under hostile traffic and failing AWS calls (hypothesis).

Random sequences of valid and hostile bodies (malformed JSON, JSON that is no object, wrong
types, bodies too big or nested too deep, unknown ops, cursors and ticks the gatekeeper never
wrote, executions of another state machine, duplicates of acquires) go through the real Lambda
handler, one batch at a time, as a FIFO message group delivers them. Every call the
gatekeeper makes (DynamoDB on the emulator; Step Functions and SQS stood in,
handler_harness.py) may be answered with an error drawn for it: throttling, a 500 or 503, a
read timeout before or after the call went through, a version conflict, AccessDenied or
ValidationException for good, TaskTimedOut (the waiter's wait ended just then); and the
gatekeeper may crash between a commit and its SendTaskSuccess calls.

After every invocation, on the items at rest:
- never over the limit: holders <= max(the limit in force, the holders before);
- the counter's `held` equals the holder items;
- every execution that was granted and still runs its body has its holder item;
- no waiter in line while a slot is free, once a group is decided (not carrying on with a
  tick);
- within a priority, grants in arrival order (from the committed transactions);
- a message is handed back for redelivery only when a transient cause was injected into
  that invocation (or it crashed): nothing else blocks the group past one delivery.
And at the end, with faults off: everything queued is decided, every holder released, no
waiter left, and every acquire's execution answered (granted or failed), save those whose
SendTaskFailure was itself refused for good.

CI runs the "ci" profile (a fixed seed); `make test-deep` the "deep" one
(tests/support/hypothesis_profiles.py).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)
from stepqueue_gatekeeper import decide, entry
from stepqueue_gatekeeper.decide import Gatekeeper, Outcome
from stepqueue_gatekeeper.store import counter_from, waiter_key

from testkit import waiting_room as room
from tests.emulator.semaphore.handler_harness import (
    FOREIGN,
    OWN,
    Clock,
    Sqs,
    StepFunctions,
    aws_error,
)
from tests.support.hypothesis_profiles import examples

# -- faults -----------------------------------------------------------------------------------

TRANSIENT = ("throttled", "500", "503", "timeout", "timeout after", "conflict")
PERMANENT = ("AccessDeniedException", "ValidationException")
CLOSED = ("TaskTimedOut", "TaskDoesNotExist")


class Crash(BaseException):
    """The gatekeeper's process dies between a commit and SendTaskSuccess: Lambda delivers the
    whole batch again."""


@dataclass
class Plan:
    """The errors of one invocation: call number -> fault; what was injected, for the check
    that only a transient cause hands a message back."""

    faults: dict[int, str] = field(default_factory=dict)
    calls: int = 0
    injected: list[str] = field(default_factory=list)

    def next(self) -> str | None:
        fault = self.faults.get(self.calls)
        self.calls += 1
        if fault is not None:
            self.injected.append(fault)
        return fault

    @property
    def transient(self) -> bool:
        return any(f in TRANSIENT for f in self.injected)


def _error(fault: str, operation: str) -> Exception:
    if fault == "throttled":
        return aws_error("ThrottlingException", operation)
    if fault in ("500", "503"):
        code = "InternalServerError" if fault == "500" else "ServiceUnavailable"
        return aws_error(code, operation, int(fault))
    if fault.startswith("timeout"):
        return ReadTimeoutError(endpoint_url="https://stood.in")
    if fault == "conflict":
        return ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                "CancellationReasons": [{"Code": "ConditionalCheckFailed"}],
            },
            operation,
        )
    return aws_error(fault, operation)


@dataclass
class Refusals:
    """Tokens whose answer a permanent fault refused: SendTaskFailure (the waiter cannot be
    told), SendTaskSuccess (a grant that may have been delivered before is kept)."""

    answers: set[str] = field(default_factory=set)
    grants: set[str] = field(default_factory=set)


class Faulty:
    """A client whose calls the plan may answer with an error: before the call (nothing
    happened), or "timeout after" it (it went through; the reply was lost)."""

    def __init__(
        self,
        target: Any,
        plan: Callable[[], Plan],
        sfn: StepFunctions | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        self._target, self._plan, self._sfn = target, plan, sfn
        self._refusals = refusals or Refusals()

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._target, name)

        def faulty(**kwargs: Any) -> Any:
            fault = self._plan().next()
            if fault is None:
                return call(**kwargs)
            if fault == "timeout after":
                call(**kwargs)
            elif fault in CLOSED:
                fault = self._close(kwargs)
            elif fault in PERMANENT and name == "send_task_failure":
                self._refusals.answers.add(kwargs["taskToken"])
            elif fault in PERMANENT and name == "send_task_success":
                self._refusals.grants.add(kwargs["taskToken"])
            if fault is not None:
                raise _error(fault, name)
            return call(**kwargs)

        return faulty

    def _close(self, kwargs: dict[str, Any]) -> str | None:
        """TaskTimedOut on a token is only true if the wait ended: it ends it, then says so.
        Other calls get no such answer (no fault)."""
        token = kwargs.get("taskToken")
        if self._sfn is None or token not in self._sfn.owner or token in self._sfn.closed:
            return None
        self._sfn.end(self._sfn.owner[token], "TIMED_OUT")
        return "TaskTimedOut"


class Committed:
    """DynamoDB as the emulator answers it, observed: the transactions that landed."""

    def __init__(self, ddb: Any) -> None:
        self._ddb = ddb
        self.commits: list[list[dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ddb, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        reply = self._ddb.transact_write_items(**kwargs)
        self.commits.append(kwargs["TransactItems"])
        return reply


def inversions(commits: list[list[dict[str, Any]]]) -> list[str]:
    """Grants out of arrival order within one priority: a waiter granted in a later commit
    than one of its priority that arrived after it."""
    priority: dict[int, int] = {}  # arrival number -> priority
    holding: set[str] = set()
    highest: dict[int, int] = {}
    found = []
    for actions in commits:
        granted = []
        for action in actions:
            if "Delete" in action:
                holding.discard(action["Delete"]["Key"]["id"]["S"])
                continue
            item = action["Put"]["Item"]
            key = item["id"]["S"]
            if "#w" in key or "#f" in key:
                arrived = int(item.get("arrived", item["seq"])["N"])
                priority[arrived] = int(item.get("priority", {"N": "0"})["N"])
            elif "#h#" in key and "holder_of" not in item:
                holding.discard(key)
            elif "#h#" in key and key not in holding:
                holding.add(key)
                granted.append(int(item["seq"]["N"]))
        for arrived in granted:
            p = priority.get(arrived, 0)
            if arrived < highest.get(p, -1):
                found.append(f"arrival {arrived} granted after {highest[p]} (priority {p})")
        for arrived in granted:
            p = priority.get(arrived, 0)
            highest[p] = max(highest.get(p, -1), arrived)
    return found


# -- bodies -----------------------------------------------------------------------------------

SEM = "__SEM__"  # the example's semaphore, put in when a body is posted
OPS = ["acquire", "release", "reclaim", "redriven", "limit", "sweep", "tick"]
FIELDS = ["execution", "acquire", "token", "key", "priority", "limit", "cursor", "at_ms", "x"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _nested(levels: int) -> str:
    return "[" * levels + "0" + "]" * levels


junk = st.one_of(
    st.text(max_size=120),  # not JSON
    values.map(json.dumps),  # JSON, but not an object
    st.builds(
        lambda op, extra: json.dumps({"op": op, "semaphore": SEM, **extra}),
        st.sampled_from([*OPS, "grab", "", "ACQUIRE"]),
        st.dictionaries(st.sampled_from(FIELDS), values, max_size=4),
    ),  # ours, with fields of any type
    st.builds(
        lambda levels: (
            '{"op": "release", "semaphore": "' + SEM + '", "x": ' + _nested(levels) + "}"
        ),
        st.integers(min_value=150, max_value=4_000),
    ),  # nested past the parser's bound
    st.builds(
        lambda size: json.dumps({"op": "limit", "semaphore": SEM, "limit": 2, "x": "y" * size}),
        st.sampled_from([200_000, 300_000]),
    ),  # near and over SQS's maximum
    st.builds(
        lambda cursor: json.dumps({"op": "sweep", "semaphore": SEM, "cursor": cursor}),
        st.text(max_size=60) | values.map(json.dumps),
    ),  # cursors the store never wrote
    st.builds(
        lambda at: json.dumps({"op": "tick", "semaphore": SEM, "at_ms": at}),
        st.integers(min_value=0, max_value=2**53),
    ),  # wake-ups due any time
    st.builds(
        lambda op, prefix, name: json.dumps(
            {"op": op, "semaphore": SEM, "execution": prefix + name}
        ),
        st.sampled_from(["release", "reclaim", "redriven"]),
        st.sampled_from([OWN, FOREIGN]),
        st.sampled_from(["ghost", "e0", "e1", "e2"]),
    ),  # events about executions that hold nothing, never existed, or are not ours
    st.builds(
        lambda limit: json.dumps({"op": "limit", "semaphore": SEM, "limit": limit}),
        st.integers(min_value=-1, max_value=4),
    ),  # limit changes, some invalid
    st.just(json.dumps({"op": "sweep", "semaphore": SEM})),
)
# Acquires of a real waiter (a token the stand-in knows) that cannot be placed: each must be
# answered with a failure at once.
HOSTILE = [
    {"priority": "high"},
    {"priority": 1.5},
    {"priority": True},
    {"priority": 10},
    {"priority": [1]},
    {"key": json.loads(_nested(300))},
    {"acquire": "not-hex"},
    {"execution": "not an ARN"},
    {"semaphore": "other"},
    {"foreign": True},
]
# An invocation makes a few to a few dozen calls; most of the interesting ones come first
# (the counter's read, the first commit, the first grants).
faults = st.dictionaries(
    st.integers(min_value=0, max_value=10),
    st.sampled_from([*TRANSIENT, *PERMANENT, *CLOSED]),
    min_size=1,
    max_size=3,
)


# -- the machine ------------------------------------------------------------------------------


class Current:
    keeper: Gatekeeper | None = None
    plan: Plan = Plan()


# What the examples did, all together: a property suite that never granted, dropped or
# retried anything would prove nothing (checked at the end of the test).
STATS: Counter[str] = Counter()


CURRENT = Current()
TABLE = {"name": ""}
NAMES = itertools.count()


class Gatekeeping(RuleBasedStateMachine):
    """One semaphore per example, its group's queue modelled: a batch is the head of the
    queue; what the handler reports failed goes back to the head, in order."""

    @initialize(limit=st.integers(min_value=1, max_value=3))
    def start(self, limit: int) -> None:
        self.ddb = Committed(DDB["client"])
        self.table = TABLE["name"]
        self.name = f"p{next(NAMES)}"
        self.ddb.put_item(
            TableName=self.table,
            Item={"id": {"S": self.name}, "limit": {"N": str(limit)}},
        )
        self.clock = Clock()
        self.sfn = StepFunctions(now=self.clock)
        self.sqs = Sqs()
        self.refusals = Refusals()

        def plan() -> Plan:
            return CURRENT.plan

        CURRENT.plan = Plan()
        CURRENT.keeper = Gatekeeper(
            Faulty(self.ddb, plan),
            Faulty(self.sfn, plan, self.sfn, self.refusals),
            Faulty(self.sqs, plan),
            table=self.table,
            queue_url="q",
            own_prefixes=(OWN,),
            semaphores=(self.name,),
            default_limits={self.name: limit},
            clock=self.clock,
            crash_after_commit=self._maybe_crash,
        )
        self.crash_next = False
        self.queue: list[dict[str, Any]] = []
        self.ids = itertools.count()
        self.executions = itertools.count()
        self.acquires: list[dict[str, Any]] = []  # valid acquire bodies posted
        self.released: set[str] = set()  # executions that posted their release
        self.permanent = False  # a fault for good was injected: a release may be dropped
        self.taken_back = 0

    def _maybe_crash(self) -> None:
        if self.crash_next:
            self.crash_next = False
            raise Crash

    # -- traffic ----------------------------------------------------------------------------

    def _post(self, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.queue.append(
            {
                "messageId": f"{self.name}-m{next(self.ids)}",
                "receiptHandle": "rh",
                "body": text.replace(SEM, self.name),
                "attributes": {"MessageGroupId": self.name, "ApproximateReceiveCount": "1"},
            }
        )

    def _acquire(self, prefix: str = OWN) -> dict[str, Any]:
        arn = f"{prefix}{self.name}-e{next(self.executions)}"
        token = self.sfn.start(arn)
        acquire = hashlib.sha256(arn.encode()).hexdigest()[:32]
        return {
            "op": "acquire",
            "semaphore": self.name,
            "execution": arn,
            "acquire": acquire,
            "token": token,
        }

    @rule(priority=st.sampled_from([None, 0, 0, 1, 9]))
    def arrive(self, priority: int | None) -> None:
        body = self._acquire()
        if priority is not None:
            body["priority"] = priority
        self.acquires.append(body)
        self._post(body)

    @rule(kind=st.sampled_from(range(len(HOSTILE))))
    def arrive_hostile(self, kind: int) -> None:
        extra = dict(HOSTILE[kind])
        body = self._acquire(FOREIGN if extra.pop("foreign", False) else OWN)
        self._post({**body, **extra})

    @rule(body=junk)
    def post_junk(self, body: str) -> None:
        self._post(body)

    @precondition(lambda self: self.acquires)
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        """An acquire delivered again, as a new message (past SQS's deduplication)."""
        self._post(data.draw(st.sampled_from(self.acquires)))

    def _believers(self) -> list[str]:
        """Executions granted that still run their body: they believe they hold a slot."""
        return [
            e
            for e in dict.fromkeys(self.sfn.succeeded)
            if self.sfn.status.get(e) == "RUNNING" and e not in self.released
        ]

    @precondition(lambda self: self._believers())
    @rule(data=st.data(), ends=st.booleans())
    def release(self, data: st.DataObject, ends: bool) -> None:
        execution = data.draw(st.sampled_from(self._believers()))
        self.released.add(execution)
        self._post({"op": "release", "semaphore": self.name, "execution": execution})
        if ends:
            self.sfn.end(execution, "SUCCEEDED")

    @precondition(lambda self: self._believers())
    @rule(data=st.data(), event=st.booleans())
    def die_holding(self, data: st.DataObject, event: bool) -> None:
        execution = data.draw(st.sampled_from(self._believers()))
        self.sfn.end(execution, "FAILED")
        if event:
            self._post({"op": "reclaim", "semaphore": self.name, "execution": execution})

    @precondition(lambda self: self._waiting())
    @rule(data=st.data())
    def die_waiting(self, data: st.DataObject) -> None:
        """A waiter's wait times out: its token closes."""
        self.sfn.end(data.draw(st.sampled_from(self._waiting())), "TIMED_OUT")

    def _waiting(self) -> list[str]:
        return [
            a["execution"]
            for a in self.acquires
            if a["token"] not in self.sfn.closed and self.sfn.status[a["execution"]] == "RUNNING"
        ]

    # -- the gatekeeper ---------------------------------------------------------------------

    @precondition(lambda self: self.queue)
    @rule(size=st.integers(min_value=1, max_value=10), crash=st.booleans())
    def invoke(self, size: int, crash: bool) -> None:
        """The next batch of the group (up to `size` records), maybe crashing between a
        commit and its SendTaskSuccess calls."""
        self._invoke(size, Plan(), crash)

    @precondition(lambda self: self.queue)
    @rule(size=st.integers(min_value=1, max_value=10), plan=faults)
    def invoke_with_faults(self, size: int, plan: dict[int, str]) -> None:
        """The next batch, with errors injected into some of the calls it makes."""
        self._invoke(size, Plan(plan), crash=False)

    def _invoke(self, size: int, plan: Plan, crash: bool) -> None:
        batch, self.queue = self.queue[:size], self.queue[size:]
        before = self._counter()
        CURRENT.plan, self.crash_next = plan, crash
        self.clock.now += 0.1
        try:
            reply = entry.handler({"Records": batch}, None)
        except Crash:
            back = batch  # the whole batch, again
        else:
            failed = {f["itemIdentifier"] for f in reply["batchItemFailures"]}
            back = [r for r in batch if r["messageId"] in failed]
            # Only a transient cause hands a message back (no rate here, so no wake-up
            # sleeps): anything else would fail the same way on every delivery.
            assert not back or plan.transient, f"handed back, no transient cause: {plan.injected}"
        # Out of rounds (a long run of dead waiters, say), it carries on with a tick: the
        # line is not settled until that is decided.
        ticked = any('"tick"' in r["MessageBody"] for r in self.sqs.sent)
        self.queue = back + self.queue
        self.taken_back += len(back)
        STATS["invocations"] += 1
        STATS["handed back"] += len(back)
        STATS["crashes"] += crash and back == batch
        STATS.update(f"fault {f}" for f in plan.injected)
        self.permanent |= any(f in PERMANENT for f in plan.injected)
        for request in self.sqs.sent:  # follow-on messages, behind what waits already
            self._post(request["MessageBody"])
        self.sqs.sent.clear()
        self._check(before, settled=not (back or plan.injected or crash or ticked))

    # -- invariants -------------------------------------------------------------------------

    def _counter(self) -> dict[str, Any]:
        reply = self.ddb.get_item(
            TableName=self.table, Key={"id": {"S": self.name}}, ConsistentRead=True
        )
        c = counter_from(reply.get("Item"), self.name, 0)
        return {"limit": c.limit, "held": c.held, "waiting": c.waiting, "pending": c.pending}

    def _unsent(self, pending: list[Any]) -> list[Any]:
        """Pending grants not delivered: their waiter item gone or their token unanswered. A
        batch decided without a fault leaves only grants it delivered (their settle is left to
        the semaphore's next commit)."""
        unsent = []
        for line, seq in pending:
            key = {"id": {"S": waiter_key(self.name, seq, line)}}
            item = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True)
            token = item.get("Item", {}).get("token", {}).get("S")
            if token is None or token not in self.sfn.closed:
                unsent.append((line, seq))
        return unsent

    def _holders(self) -> set[str]:
        return set(room.holder_items(self.ddb, self.table, self.name))

    def _check(self, before: dict[str, Any], *, settled: bool) -> None:
        after, holders = self._counter(), self._holders()
        assert after["held"] <= max(after["limit"], before["held"]), (before, after)
        assert after["held"] == len(holders), (after, holders)
        missing = set(self._believers()) - holders
        assert not missing, f"running its body without a holder item: {missing}"
        if settled:
            assert not (after["waiting"] and after["held"] < after["limit"]), after
            assert self._unsent(after["pending"]) == [], after
        assert inversions(self.ddb.commits) == []

    def teardown(self) -> None:
        if CURRENT.keeper is None or not hasattr(self, "queue"):
            return
        # Faults off: everything decided and every holder released.
        self._settle()
        # What may still hold a slot now: an execution that ended without its release or an
        # event (the sweep frees it); one whose release was dropped for a permanent fault
        # (the sweep frees it once it ends); one whose grant may have been delivered before
        # and whose resend AWS refused for good (it waits until its wait times out, then the
        # sweep frees it). Nothing else holds without believing it does.
        running = {h for h in self._holders() - set(self._believers()) if self._runs(h)}
        for execution in running:
            if execution in self.released:
                assert self.permanent, f"released, still held: {execution}"
            else:
                token = self.sfn.owner_of(execution)
                assert token in self.refusals.grants, f"held, never granted: {execution}"
            self.sfn.end(execution, "TIMED_OUT")
        self._post({"op": "sweep", "semaphore": self.name})
        self._settle()
        after = self._counter()
        assert after["held"] == 0 and self._holders() == set(), after
        assert after["waiting"] == 0 and self._unsent(after["pending"]) == [], after
        unanswered = {t for t in self.sfn.owner if t not in self.sfn.closed}
        assert unanswered <= self.refusals.answers, f"waiters never answered: {unanswered}"

    def _runs(self, execution: str) -> bool:
        return self.sfn.status.get(execution) == "RUNNING"

    def _settle(self) -> None:
        for _ in range(400):
            if self.queue:
                self._invoke(10, Plan(), crash=False)
                continue
            believers = self._believers()
            if not believers:
                return
            for execution in believers:
                self.released.add(execution)
                self._post({"op": "release", "semaphore": self.name, "execution": execution})
        raise AssertionError("the queue never drained")


DDB: dict[str, Any] = {}


def test_the_gatekeeper_keeps_its_invariants_under_hostile_traffic_and_faults(
    ddb: Any, unique_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    room.create_table(ddb, unique_name, {})
    TABLE["name"], DDB["client"] = unique_name, ddb
    sqs = Sqs()
    monkeypatch.setattr(entry, "gatekeeper", lambda: CURRENT.keeper)
    monkeypatch.setattr(entry, "client", lambda service: sqs)
    monkeypatch.setenv("GATEKEEPER_QUEUE_URL", "q")
    real_report = entry._report

    def report(group: str, outcome: Outcome) -> Outcome:
        STATS["granted"] += len(outcome.granted)
        STATS["dropped"] += len(outcome.dropped)
        STATS["answered"] += sum(
            1 for d in outcome.dropped if d.get("answer", "")[:9] == "Semaphore"
        )
        STATS["dead"] += len(outcome.dead)
        STATS["duplicates"] += len(outcome.duplicates)
        STATS["reclaimed"] += len(outcome.reclaimed)
        STATS["rejected"] += len(outcome.rejected)
        return real_report(group, outcome)

    monkeypatch.setattr(entry, "_report", report)
    STATS.clear()
    # Grants are sent one after the other, so the plan's call numbers name the same calls in
    # every run of an example (the pool's threads would interleave them at random).
    with mock.patch.object(decide, "NOTIFY_THREADS", 1):
        run_state_machine_as_test(Gatekeeping, settings=settings(max_examples=examples(1.0)))
    print(dict(STATS))
    exercised = ("granted", "dropped", "answered", "dead", "duplicates", "handed back", "crashes")
    assert all(STATS[k] for k in exercised), dict(STATS)
    families = [("throttled",), ("500", "503"), ("timeout", "timeout after"), ("conflict",)]
    families += [("AccessDeniedException",), ("ValidationException",), CLOSED]
    assert all(any(STATS[f"fault {f}"] for f in family) for family in families), dict(STATS)
