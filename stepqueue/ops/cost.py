"""What one execution of a workflow uses and costs, walked from its generated definition.

Two paths per workflow, each walked state by state through the ASL the generator renders (the
acquire and release states of a semaphore included):

- **happy**: every task succeeds at its first attempt.
- **failing**: the same, until the first queued task, whose handler fails (a task error of its
  own name). A Retry matching it (`States.ALL` or `States.TaskFailed`) runs the task again
  `MaxAttempts` times; then the first Catch matching it is followed, or the execution fails.
  Inside a Map or a Parallel the other items and branches are counted as succeeding.

At a Choice a run takes one branch: the one the user names (`Assumptions.branches`, `--branch
STATE=TARGET`), else the most expensive of those that can still reach a Succeed or an `End`
without going round a loop again (each is walked to the end of its machine and priced; the
first of equals wins). A Map runs its item processor `map_items` times (a JSONata Map whose
`Items` is a literal list: that many), a Parallel every branch. Each path says what it priced
(`path`, `choices`).

The same user states calling Lambda directly (`lambda:invoke`, no queue, no semaphore) are
walked the same way, so the two can be compared side by side.

Usage per execution is what AWS bills: state transitions (each state entered, each retry), SQS
requests (standard for the worker queues, FIFO for the waiting room), Lambda requests and
GB-seconds (workers, and the gatekeeper), DynamoDB write units (the semaphore), priced from the
one table of `prices.py`. Assumptions a spec cannot tell are parameters: how long a handler
runs (`task_seconds`), how long an execution waits for a slot (`wait_seconds`: shown with the
estimate; a waiter parked in the waiting room bills nothing while it waits), how many items a
Map iterates (`map_items`) and which branch a Choice takes (`branches`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from generator.model import Workflow
from generator.vocabulary import WAITING_ROOM
from stepqueue.ops.prices import US_EAST_1, Prices

# -- the semaphore's own work, as bench/scale.py models it (docs/design.md §4) ----------------
GATEKEEPER_INVOCATION_S = 0.1  # one batch: two transactions and the grants
GATEKEEPER_MEMORY_GB = 256 / 1024  # modules/gatekeeper's memory_mb default
TRANSACTION_FACTOR = 2  # a transactional write bills two write units per KB
WAITER_ITEM_KB = 1.3  # execution ARN, acquire id, task token (up to 1,024 characters)
HOLDER_ITEM_KB = 0.4
COUNTER_ITEM_KB = 1.0  # limit, held, head, tail, version, the last message ids
COUNTER_WRITES_PER_MESSAGE = 2  # apply and settle: one counter write each

DEFAULT_RETRY_ATTEMPTS = 3  # ASL's MaxAttempts when a retrier leaves it out
MAX_STATES_WALKED = 10_000  # a walk that long is a loop this model does not follow
# States entered in all, every Choice branch compared included: past it, the user names them.
MAX_STATES_COMPARED = 200_000
FAILING_ERRORS = frozenset({"States.ALL", "States.TaskFailed"})
WORKER_RESOURCE = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
POST_RESOURCE = "arn:aws:states:::sqs:sendMessage"
ROOM_QUEUE = "${gatekeeper_queue_url}"  # releases
ARRIVALS_QUEUE = "${arrivals_queue_url}"  # acquires
WORKER_QUEUE_PREFIX, WORKER_QUEUE_SUFFIX = "${queue_url.", "}"


class CostError(ValueError):
    """A definition this model cannot walk, said in one line."""


@dataclass(frozen=True)
class Assumptions:
    executions: int = 1000
    task_seconds: float = 1.0
    wait_seconds: float = 0.0
    map_items: int = 1
    # Choice state -> the state it goes to; a Choice not named takes its most expensive branch.
    branches: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Usage:
    """What one execution uses (fractions where batches are shared)."""

    transitions: float = 0
    sqs_standard_requests: float = 0
    sqs_fifo_requests: float = 0
    lambda_invocations: float = 0
    lambda_gb_seconds: float = 0
    dynamodb_write_units: float = 0

    def add(self, other: Usage, times: float = 1) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + times * getattr(other, f.name))

    def usd(self, prices: Prices = US_EAST_1) -> float:
        return (
            self.transitions * prices.usd_per_1000_transitions / 1000
            + self.sqs_standard_requests * prices.usd_per_million_sqs_standard / 1e6
            + self.sqs_fifo_requests * prices.usd_per_million_sqs_fifo / 1e6
            + self.lambda_invocations * prices.usd_per_million_lambda_requests / 1e6
            + self.lambda_gb_seconds * prices.usd_per_lambda_gb_second
            + self.dynamodb_write_units * prices.usd_per_million_write_units / 1e6
        )


@dataclass
class Walk:
    usage: Usage = field(default_factory=Usage)
    states: list[str] = field(default_factory=list)  # entered, in order (a Map's items once)
    failed_task: str | None = None  # the state whose handler failed, on the failing path
    succeeded: bool = True  # how the execution ends
    # For people: the states priced, a Map's items, a Parallel's branches and retries shown.
    path: list[str] = field(default_factory=list)
    choices: list[dict[str, str]] = field(default_factory=list)  # state, took, how

    def fork(self) -> Walk:
        return Walk(
            replace(self.usage),
            list(self.states),
            self.failed_task,
            self.succeeded,
            list(self.path),
            list(self.choices),
        )


@dataclass(frozen=True)
class PathCost:
    usage: Usage
    states: list[str]
    succeeded: bool
    failed_task: str | None
    path: list[str]
    choices: list[dict[str, str]]
    usd_per_1000: float
    usd_for_executions: float

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = {k: round(v, 6) for k, v in data["usage"].items()}
        data["usd_per_1000"] = round(self.usd_per_1000, 6)
        data["usd_for_executions"] = round(self.usd_for_executions, 6)
        return data


@dataclass(frozen=True)
class WorkflowCost:
    workflow: str
    semaphore_mode: str | None
    queued: dict[str, PathCost | None]  # "happy", "failing" (None: no queued task to fail)
    direct: dict[str, PathCost | None]

    def as_json(self) -> dict[str, Any]:
        def paths(p: dict[str, PathCost | None]) -> dict[str, Any]:
            return {k: (v.as_json() if v is not None else None) for k, v in p.items()}

        return {
            "workflow": self.workflow,
            "semaphore_mode": self.semaphore_mode,
            "queued": paths(self.queued),
            "direct": paths(self.direct),
        }


def estimate(
    workflow: Workflow,
    definition: Mapping[str, Any],
    assumptions: Assumptions,
    prices: Prices = US_EAST_1,
) -> WorkflowCost:
    """`definition`: the generated ASL of `workflow` (generator.api.render)."""
    mode = WAITING_ROOM if workflow.concurrency else None
    queued = _Walker(workflow, assumptions, prices, direct=False)
    direct = _Walker(workflow, assumptions, prices, direct=True)
    result: dict[str, dict[str, PathCost | None]] = {"queued": {}, "direct": {}}
    for name, walker, machine in (
        ("queued", queued, definition),
        ("direct", direct, workflow.definition),
    ):
        for path, failing in (("happy", False), ("failing", True)):
            walk = walker.run(machine, failing)
            if failing and walk.failed_task is None:
                result[name][path] = None
                continue
            per_execution = walk.usage.usd(prices)
            result[name][path] = PathCost(
                usage=walk.usage,
                states=walk.states,
                succeeded=walk.succeeded,
                failed_task=walk.failed_task,
                path=walk.path,
                choices=walk.choices,
                usd_per_1000=1000 * per_execution,
                usd_for_executions=assumptions.executions * per_execution,
            )
    return WorkflowCost(workflow.name, mode, result["queued"], result["direct"])


class _Walker:
    def __init__(
        self, workflow: Workflow, assumptions: Assumptions, prices: Prices, *, direct: bool
    ) -> None:
        self.workflow = workflow
        self.assumptions = assumptions
        self.prices = prices
        self.direct = direct
        self.entered = 0  # states entered by every walk and comparison of this walker

    def run(self, machine: Mapping[str, Any], failing: bool) -> Walk:
        walk = Walk()
        walk.succeeded = self._machine(machine, walk, failing)
        if not walk.succeeded and not self.direct:
            self._reclaim(walk)
        return walk

    # -- the walk --------------------------------------------------------------------------

    def _machine(self, machine: Mapping[str, Any], walk: Walk, failing: bool) -> bool:
        """Walk one (sub-)machine from StartAt; True when it ends in success."""
        return self._from(machine["States"], machine["StartAt"], walk, failing, set())

    def _from(
        self,
        states: Mapping[str, Any],
        name: str | None,
        walk: Walk,
        failing: bool,
        seen: set[str],
    ) -> bool:
        """Walk from state `name` to the end of its machine; True when it ends in success."""
        while name is not None:
            self._enter(walk)
            seen.add(name)
            state = states[name]
            walk.states.append(name)
            walk.usage.transitions += 1
            kind = state["Type"]
            if kind == "Choice":
                walk.path.append(name)
                return self._choice(states, name, state, walk, failing, seen)
            error = self._state(name, state, walk, failing)
            if kind in ("Succeed", "Fail"):
                return bool(kind == "Succeed")
            if error:
                name = _catch(state)
                if name is None:
                    return False
                continue
            if state.get("End"):
                return True
            name = state["Next"]
        return True

    def _enter(self, walk: Walk) -> None:
        self.entered += 1
        if len(walk.states) > MAX_STATES_WALKED:
            raise CostError(f"workflow {self.workflow.name}: the walk does not end")
        if self.entered > MAX_STATES_COMPARED:
            raise CostError(
                f"workflow {self.workflow.name}: comparing the branches of its Choice states "
                f"walks more than {MAX_STATES_COMPARED:,} states; name the branch each takes "
                "with --branch STATE=TARGET"
            )

    def _state(self, name: str, state: Mapping[str, Any], walk: Walk, failing: bool) -> bool:
        """Count one state that is not a Choice; True when it ends in an error."""
        kind = state["Type"]
        if kind == "Task":
            return self._task(name, state, walk, failing)
        if kind == "Map":
            return self._map(name, state, walk, failing)
        if kind == "Parallel":
            return self._parallel(name, state, walk, failing)
        walk.path.append(name)
        return False

    def _choice(
        self,
        states: Mapping[str, Any],
        name: str,
        state: Mapping[str, Any],
        walk: Walk,
        failing: bool,
        seen: set[str],
    ) -> bool:
        """Take the named branch, else the most expensive one that can still succeed."""
        named = self.assumptions.branches.get(name)
        if named is not None:
            if named not in choice_targets(state):
                raise CostError(
                    f"--branch {name}={named}: {named} is not a branch of the Choice {name} "
                    f"(its branches: {', '.join(choice_targets(state))})"
                )
            if named in seen:
                raise CostError(
                    f"--branch {name}={named}: {named} was walked already, so the run would go "
                    "round this loop for ever; name a branch that leaves it"
                )
            walk.choices.append({"state": name, "took": named, "how": "named with --branch"})
            return self._from(states, named, walk, failing, seen)
        candidates = _candidates(states, state, seen)
        if len(candidates) == 1:
            how = "the only branch that can still succeed"
            walk.choices.append({"state": name, "took": candidates[0], "how": how})
            return self._from(states, candidates[0], walk, failing, seen)
        best: tuple[Walk, bool] | None = None
        how = f"the most expensive of {len(candidates)}: {', '.join(candidates)}"
        for target in candidates:
            trial = walk.fork()
            trial.choices.append({"state": name, "took": target, "how": how})
            ok = self._from(states, target, trial, failing, set(seen))
            if best is None or trial.usage.usd(self.prices) > best[0].usage.usd(self.prices):
                best = (trial, ok)
        assert best is not None  # _candidates is never empty
        chosen, ok = best
        walk.usage, walk.states, walk.path = chosen.usage, chosen.states, chosen.path
        walk.choices, walk.failed_task = chosen.choices, chosen.failed_task
        return ok

    def _task(self, name: str, state: Mapping[str, Any], walk: Walk, failing: bool) -> bool:
        """Count one Task state; True when it is the task that fails."""
        worker = self._worker_of(state)
        if worker is not None:
            fails = failing and walk.failed_task is None
            attempts = 1 + (_retries(state) if fails else 0)
            walk.usage.transitions += attempts - 1
            for _ in range(attempts):
                self._worker_attempt(worker, walk.usage)
            if fails:
                walk.failed_task = name
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                walk.path.append(f"{name} (fails{tries})")
            else:
                walk.path.append(name)
            return fails
        walk.path.append(name)
        if self.direct:
            return False
        resource = state.get("Resource")
        queue = _arguments(state).get("QueueUrl")
        if queue == ARRIVALS_QUEUE and resource == WORKER_RESOURCE:
            self._room_acquire(walk.usage)
        elif queue == ROOM_QUEUE and resource == POST_RESOURCE:
            self._room_message(walk.usage)
        return False

    def _map(self, name: str, state: Mapping[str, Any], walk: Walk, failing: bool) -> bool:
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor is None:
            raise CostError(f"workflow {self.workflow.name}: a Map without ItemProcessor")
        literal = state.get("Items")
        items = len(literal) if isinstance(literal, list) else self.assumptions.map_items
        source = "its Items" if isinstance(literal, list) else "--map-items"
        if items == 0:
            walk.path.append(f"{name} (0 items, {source})")
            return False
        one = Walk(failed_task=walk.failed_task)
        ok = self._machine(processor, one, failing)
        failed_here = one.failed_task is not None and walk.failed_task is None
        self._merge(walk, one)
        if failed_here and items > 1:
            happy = Walk(failed_task=one.failed_task)
            self._machine(processor, happy, False)
            walk.usage.add(happy.usage, items - 1)
        elif items > 1:
            walk.usage.add(one.usage, items - 1)
        walk.path.append(f"{name} ({items} item(s), {source}: {' → '.join(one.path)})")
        return failed_here and not ok

    def _parallel(self, name: str, state: Mapping[str, Any], walk: Walk, failing: bool) -> bool:
        all_ok = True
        branches = []
        for branch in state["Branches"]:
            one = Walk(failed_task=walk.failed_task)
            ok = self._machine(branch, one, failing)
            all_ok = all_ok and ok
            self._merge(walk, one)
            branches.append(" → ".join(one.path))
        walk.path.append(f"{name} ({' | '.join(branches)})")
        return not all_ok

    @staticmethod
    def _merge(walk: Walk, inner: Walk) -> None:
        walk.usage.add(inner.usage)
        walk.states.extend(inner.states)
        walk.choices.extend(inner.choices)
        if inner.failed_task is not None and walk.failed_task is None:
            walk.failed_task = inner.failed_task

    # -- what each kind of state bills -------------------------------------------------------

    def _worker_of(self, state: Mapping[str, Any]) -> str | None:
        if self.direct:
            worker = state.get("Worker")
            return str(worker) if worker is not None else None
        queue = _arguments(state).get("QueueUrl")
        if (
            state.get("Resource") == WORKER_RESOURCE
            and isinstance(queue, str)
            and queue.startswith(WORKER_QUEUE_PREFIX)
            and queue.endswith(WORKER_QUEUE_SUFFIX)
        ):
            return queue[len(WORKER_QUEUE_PREFIX) : -len(WORKER_QUEUE_SUFFIX)]
        return None

    def _worker_attempt(self, name: str, usage: Usage) -> None:
        worker = self.workflow.worker(name)
        usage.lambda_gb_seconds += worker.memory_mb / 1024 * self.assumptions.task_seconds
        if self.direct:
            usage.lambda_invocations += 1
            return
        # Full batches: the mapping receives, invokes once and deletes once per batch.
        per_batch = 1 / worker.batch_size
        usage.sqs_standard_requests += 1 + 2 * per_batch  # send; receive and delete
        usage.lambda_invocations += per_batch

    def _room_message(self, usage: Usage) -> None:
        """One message into the waiting room, handled in its own gatekeeper invocation (no
        batching: an upper bound, a burst shares batches of up to 10)."""
        usage.sqs_fifo_requests += 3  # send; the mapping's receive and delete
        usage.lambda_invocations += 1
        usage.lambda_gb_seconds += GATEKEEPER_MEMORY_GB * GATEKEEPER_INVOCATION_S
        usage.dynamodb_write_units += (
            COUNTER_WRITES_PER_MESSAGE * TRANSACTION_FACTOR * _units(COUNTER_ITEM_KB)
        )

    def _room_acquire(self, usage: Usage) -> None:
        self._room_message(usage)
        # Its waiter item is written on arrival and deleted when granted, its holder item
        # written then (and deleted by the release).
        usage.dynamodb_write_units += TRANSACTION_FACTOR * (
            2 * _units(WAITER_ITEM_KB) + 2 * _units(HOLDER_ITEM_KB)
        )

    def _reclaim(self, walk: Walk) -> None:
        """A failed execution of a workflow with a semaphore also posts a reclaim (EventBridge)."""
        if self.workflow.concurrency:
            self._room_message(walk.usage)


def _arguments(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """A Task's request: `Parameters` (JSONPath) or `Arguments` (JSONata)."""
    found = state.get("Parameters", state.get("Arguments"))
    return found if isinstance(found, Mapping) else {}


def _units(kb: float) -> int:
    return max(1, math.ceil(kb))


def _errors_match(entry: Mapping[str, Any]) -> bool:
    return bool(FAILING_ERRORS & set(entry.get("ErrorEquals", [])))


def _retries(state: Mapping[str, Any]) -> int:
    for retrier in state.get("Retry", []):
        if _errors_match(retrier):
            return int(retrier.get("MaxAttempts", DEFAULT_RETRY_ATTEMPTS))
    return 0


def _catch(state: Mapping[str, Any]) -> str | None:
    for catcher in state.get("Catch", []):
        if _errors_match(catcher):
            return str(catcher["Next"])
    return None


def choice_targets(choice: Mapping[str, Any]) -> list[str]:
    """A Choice's branches: its rules' targets in order, then Default; each once."""
    targets = [str(rule["Next"]) for rule in choice.get("Choices", [])]
    if "Default" in choice:
        targets.append(str(choice["Default"]))
    return list(dict.fromkeys(targets))


def choices_of(machine: Mapping[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """Every Choice state of a definition, nested ones included, with its branches."""
    for name, state in machine.get("States", {}).items():
        if state.get("Type") == "Choice":
            yield name, choice_targets(state)
        for inner in (state.get("ItemProcessor"), state.get("Iterator")):
            if isinstance(inner, Mapping):
                yield from choices_of(inner)
        for branch in state.get("Branches", []):
            yield from choices_of(branch)


def _candidates(states: Mapping[str, Any], choice: Mapping[str, Any], seen: set[str]) -> list[str]:
    """The branches a run may take: those that can still succeed without going round a loop
    again, else any not walked yet."""
    targets = choice_targets(choice)
    fresh = [t for t in targets if t not in seen]
    if not fresh:
        raise CostError("a Choice whose every branch loops back: the walk would not end")
    return [t for t in fresh if _can_succeed(states, t, seen)] or fresh


def _can_succeed(states: Mapping[str, Any], start: str, seen: set[str]) -> bool:
    """A Succeed or an End reachable from `start` without errors and without `seen` states."""
    stack, visited = [start], set(seen)
    while stack:
        name = stack.pop()
        if name in visited:
            continue
        visited.add(name)
        state = states[name]
        kind = state["Type"]
        if kind == "Succeed" or (kind != "Fail" and state.get("End")):
            return True
        if kind == "Choice":
            stack.extend(str(r["Next"]) for r in state.get("Choices", []))
            if "Default" in state:
                stack.append(str(state["Default"]))
        elif "Next" in state:
            stack.append(str(state["Next"]))
    return False
