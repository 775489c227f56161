"""Wraps a workflow body in the semaphore (docs/contracts.md, "Semaphore: the waiting room").

The waiting room (docs/design.md §4): the acquire parks the execution with its task token in
the gatekeeper's FIFO queue and the release posts to it. Happy path: acquire as the new first
state, one release before the user's terminal (2 extra states). Every way out releases: End:
true and transitions to a top-level Succeed/Fail go through a release state first;
Task/Parallel/Map states get a last Catch States.ALL that releases and then fails with the
original error and cause. Abnormal ends (timeout, abort) are the gatekeeper's: EventBridge
posts a reclaim, and its sweep frees what no event reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from generator.loader import Node
from generator.model import Concurrency
from generator.render import Renderer
from generator.report import Reporter, value_at
from generator.vocabulary import (
    ACQUIRE,
    ACQUIRE_TIMEOUT,
    BODY_SECONDS_MAX,
    ERROR_ALL,
    EXPECTED_BURST_KEYS,
    EXPECTED_BURST_MAX,
    FALLIBLE,
    GATEKEEPER_CEILING_PER_S,
    JSONATA,
    JSONPATH,
    NO_MATCH,
    RELEASE,
    RELEASE_BEFORE,
    RELEASE_FAILED,
    RELEASE_MAX_ATTEMPTS,
    RELEASE_NO_MATCH,
    RELEASE_ON_ERROR,
    RERAISE,
    SLOT_TURNOVER_S,
    START_EXECUTION_BUCKET,
    START_EXECUTION_PER_S,
    TERMINAL,
)


def wrap(definition: dict[str, Any], c: Concurrency, renderer: Renderer) -> dict[str, Any]:
    """The body between an acquire and its releases. In a JSONata workflow every generated
    state is written in JSONata; in a JSONPath one, only the catchers added to JSONata states."""
    states: dict[str, Any] = definition["States"]
    top = definition.get("QueryLanguage", JSONPATH)
    form = _JSONATA if top == JSONATA else _JSONPATH
    exits = _Exits(terminals={n for n, s in states.items() if s["Type"] in TERMINAL})
    body = {name: _reroute(state, exits, top, renderer) for name, state in states.items()}
    # Only after the body: a StartAt that is a terminal gets its release after the body's.
    generated = _acquire(c, renderer, exits.via_release(definition["StartAt"]), form)
    generated.update(_releases(c, renderer, form, exits))
    return {**definition, "StartAt": ACQUIRE, "States": {**body, **generated}}


@dataclass
class _Exits:
    """The ways out of the body that must give the slot back, gathered while rerouting it."""

    terminals: set[str]
    releases: dict[str, str] = field(default_factory=dict)  # terminal -> its release state
    end: bool = False  # some state had End: true
    error: bool = False  # some state got the catcher that releases on any error
    no_match: bool = False  # some Choice had no Default

    def via_release(self, target: str) -> str:
        """The state to go to instead of `target`; a terminal's release is created when first
        used, so the release states come out in the order the body first reaches them."""
        if target not in self.terminals:
            return target
        return self.releases.setdefault(target, RELEASE_BEFORE + target)


def _reroute(state: dict[str, Any], exits: _Exits, top: str, renderer: Renderer) -> dict[str, Any]:
    """A copy of one body state whose every way out goes through a release."""
    state = dict(state)
    if "Next" in state:
        state["Next"] = exits.via_release(state["Next"])
    if "Default" in state:
        state["Default"] = exits.via_release(state["Default"])
    elif state["Type"] == "Choice":
        # Without a Default, no match fails the execution with States.NoChoiceMatched and
        # the slot would wait for the gatekeeper's reclaim; release first, then fail the same way.
        state["Default"] = RELEASE_NO_MATCH
        exits.no_match = True
    if "Choices" in state:
        state["Choices"] = [{**r, "Next": exits.via_release(r["Next"])} for r in state["Choices"]]
    catchers = _catchers(state, exits, top, renderer)
    if state.get("End") is True:
        del state["End"]
        state["Next"] = RELEASE
        exits.end = True
    if catchers:
        state["Catch"] = catchers
    return state


def _catchers(
    state: dict[str, Any], exits: _Exits, top: str, renderer: Renderer
) -> list[dict[str, Any]]:
    """The state's catchers rerouted, and one that releases on any error if it can fail and
    nothing already catches everything."""
    catchers = [{**r, "Next": exits.via_release(r["Next"])} for r in state.get("Catch", [])]
    if state["Type"] in FALLIBLE and not any(ERROR_ALL in r["ErrorEquals"] for r in catchers):
        catch_form = _JSONATA if state.get("QueryLanguage", top) == JSONATA else _JSONPATH
        catchers.append(
            renderer.fragment(catch_form["release_on_error_catch"], next=RELEASE_ON_ERROR)
        )
        exits.error = True
    return catchers


def _acquire(
    c: Concurrency, renderer: Renderer, next_state: str, form: dict[str, str]
) -> dict[str, Any]:
    """The acquire state, and where it goes when no slot comes in time."""
    generated = _room_acquire(c, renderer, next_state, form)
    timeout_cause = (
        f"No slot of semaphore {c.semaphore} (limit {c.limit}) became free within "
        f"about {c.max_wait_seconds} s; raise concurrency.max_wait_seconds or the limit."
    )
    generated[ACQUIRE_TIMEOUT] = renderer.fragment("acquire_timeout.json.j2", cause=timeout_cause)
    return generated


def _releases(
    c: Concurrency, renderer: Renderer, form: dict[str, str], exits: _Exits
) -> dict[str, Any]:
    """The release states the body's exits asked for, and the states that follow them."""

    def release(**transition: Any) -> dict[str, Any]:
        return _release_state(c, renderer, form, **transition)

    generated: dict[str, Any] = {}
    if exits.end:
        generated[RELEASE] = release(End=True)
    for target, release_name in exits.releases.items():
        generated[release_name] = release(Next=target)
    if exits.error:
        generated[RELEASE_ON_ERROR] = release(Next=RERAISE)
        generated[RERAISE] = renderer.fragment(form["reraise"])
    if exits.no_match:
        generated[RELEASE_NO_MATCH] = release(Next=NO_MATCH)
        generated[NO_MATCH] = renderer.fragment("no_choice_matched.json.j2")
    # The release that ends the execution is the only one without a Next, so the only one
    # that carries on to RELEASE_FAILED when it gives up (state names cannot take the
    # reserved prefix, so no terminal is named like it).
    if exits.end:
        generated[RELEASE_FAILED] = renderer.fragment("release_not_posted.json.j2")
    return generated


def _release_state(
    c: Concurrency, renderer: Renderer, form: dict[str, str], **transition: Any
) -> dict[str, Any]:
    comment = f"Generated by stepqueue: give back the slot of semaphore {c.semaphore}."
    # The release never fails the execution: once its retries are spent
    # it carries on where it was going, and the sweep frees the slot after the end.
    fragment = renderer.fragment(
        form["room_release"],
        comment=comment,
        entry_hash=ENTRY_HASH,
        max_attempts=RELEASE_MAX_ATTEMPTS,
        carry_on=transition.get("Next", RELEASE_FAILED),
        semaphore=c.semaphore,
    )
    return {**fragment, **transition}


# The templates of the generated states, in each query language (JSONATA_FORMS: the
# JSONata form of the entry hash and the context fields the JSONPath templates read).
_TEMPLATES = (
    "room_acquire",
    "room_release",
    "reraise",
    "release_on_error_catch",
)
_JSONPATH = {name: f"{name}.json.j2" for name in _TEMPLATES}
_JSONATA = {name: f"{name}_jsonata.json.j2" for name in _TEMPLATES}

# One value per entry of a state by one execution: the acquire's identity and the FIFO
# deduplication id. A retried send of the same entry is dropped by SQS as a duplicate; a new
# entry (a redriven run that waits again) is a new arrival.
ENTRY_HASH = "States.Hash(States.Format('{} {}', $$.Execution.Id, $$.State.EnteredTime), 'SHA-256')"


# The Acquire's send retries longer than other SQS sends. A semaphore's arrivals queue takes 300
# SendMessage calls a second (SQS FIFO without high throughput, one message group), exactly
# StartExecution's refill: a burst's first 1,300 executions, started at once, are a surplus the
# refill never drains while the burst lasts, so that many sends are always being retried. Each
# waits about 1,300 / 300 = 4.3 s on average; 12 attempts (1, 2, 4, 8, 16, then 30 s with full
# jitter: up to 4 minutes) ride that out where 5 (31 s) would fail some executions. A retried
# send keeps its deduplication id (the entry's hash): never a second arrival.
ACQUIRE_SEND_ATTEMPTS = 12


def _room_acquire(
    c: Concurrency, renderer: Renderer, next_state: str, form: dict[str, str]
) -> dict[str, Any]:
    return {
        ACQUIRE: renderer.fragment(
            form["room_acquire"],
            comment="Generated by stepqueue: wait for a slot of semaphore "
            f"{c.semaphore} in its waiting room, up to {c.max_wait_seconds} s, "
            "at no cost while waiting.",
            entry_hash=ENTRY_HASH,
            max_wait_seconds=c.max_wait_seconds,
            sqs_retry={
                **renderer.fragment("sqs_retry.json.j2"),
                "MaxAttempts": ACQUIRE_SEND_ATTEMPTS,
            },
            timeout_state=ACQUIRE_TIMEOUT,
            next=next_state,
            key=c.admission.key,
            priority=c.admission.priority,
            semaphore=c.semaphore,
        )
    }


# -- sizing: a burst of the documented size must not time out in the waiting room --------------


def served_per_s(limit: int, body_seconds: float, rate: float | None) -> tuple[float, str]:
    """Executions a second the semaphore can grant in a burst, and what bounds it: its slots
    turning over, its rate, or its gatekeeper (docs/design.md §4, Throughput)."""
    bounds = [(float(GATEKEEPER_CEILING_PER_S), "its gatekeeper's ceiling at central latencies")]
    if body_seconds > 0:
        turnover = body_seconds + SLOT_TURNOVER_S
        bounds.append(
            (
                limit / turnover,
                f"limit {limit} / (body_seconds {body_seconds:g} + {SLOT_TURNOVER_S:g} s for "
                "the gatekeeper to grant a freed slot again)",
            )
        )
    if rate is not None:
        bounds.append((rate, "concurrency.rate.per_second"))
    return min(bounds)


def burst_wait_seconds(executions: int, limit: int, per_s: float) -> float:
    """The longest wait in a burst started as fast as StartExecution allows (its bucket at
    once, then its refill) and granted in order at `per_s`: the i-th execution is granted
    when the i - limit before it beyond the first slots have been. The wait is linear in i
    between the bucket's end and the burst's, so the longest is at one of them."""

    def wait(i: int) -> float:
        started = max(0, i - START_EXECUTION_BUCKET) / START_EXECUTION_PER_S
        return (i - limit) / per_s - started

    ends = {min(executions, START_EXECUTION_BUCKET), executions}
    return max([0.0, *(wait(i) for i in ends if i > limit)])


def sized_wait_seconds(
    executions: int, limit: int, body_seconds: float, rate: float | None
) -> tuple[float, float, str]:
    """The longest wait of a burst (burst_wait_seconds at served_per_s) and one round more:
    slots free in whole rounds of one body, so the last waiters of a round wait for its end.
    Returns (seconds, executions/s, what bounds the rate)."""
    per_s, bound = served_per_s(limit, body_seconds, rate)
    round_s = body_seconds + SLOT_TURNOVER_S if body_seconds > 0 else 0.0
    return burst_wait_seconds(executions, limit, per_s) + round_s, per_s, bound


def check_burst(
    r: Reporter, node: Node, limit: int | None, max_wait_seconds: int | None, rate: float | None
) -> None:
    """concurrency.expected_burst: warn, with the number, when a burst of that size would
    make its last waiters wait longer than max_wait_seconds (they fail with the acquire's
    timeout instead of running)."""
    path = "concurrency.expected_burst"
    burst = node.get("expected_burst")
    if burst is None or not r.is_map(burst, path, "expected_burst"):
        return
    r.keys(burst, path, EXPECTED_BURST_KEYS, ("executions",), what="expected_burst")
    executions = body_seconds = None
    if (v := burst.get("executions")) is not None:
        executions = r.integer(v, f"{path}.executions", "executions", 1, EXPECTED_BURST_MAX)
    if (v := burst.get("body_seconds")) is not None:
        body_seconds = r.number(v, f"{path}.body_seconds", "body_seconds", 0, BODY_SECONDS_MAX)
    if executions is None or limit is None or max_wait_seconds is None:
        return
    worst, per_s, bound = sized_wait_seconds(executions, limit, body_seconds or 0.0, rate)
    if worst <= max_wait_seconds:
        return
    r.warning(
        *value_at(node, "concurrency", "max_wait_seconds"),
        f"a burst of {executions} executions (concurrency.expected_burst), started as fast as "
        f"StartExecution allows ({START_EXECUTION_BUCKET} at once, then "
        f"{START_EXECUTION_PER_S}/s), is granted about {per_s:.4g} executions/s ({bound}): "
        f"its last waiters wait about {math.ceil(worst)} s, longer than max_wait_seconds "
        f"{max_wait_seconds}, and fail with the acquire's timeout instead of running",
        f"set concurrency.max_wait_seconds to at least {math.ceil(worst)}, or raise the limit, "
        "or start the burst through the start queue at a pace the semaphore serves",
    )
