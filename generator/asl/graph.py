"""The graph of each scope: transitions name states of the same scope, every state is
reachable from StartAt, some reachable state ends the scope, and state names are unique across
the whole machine (an ASL rule, since executions report states by name alone)."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable

from generator.loader import Node
from generator.report import Reporter, did_you_mean, join, key_at
from generator.vocabulary import FLOW, RELEASE_BEFORE, RESERVED_PREFIX, STATE_NAME_MAX, TERMINAL


def target(r: Reporter, node: Node, path: str, states: Node) -> None:
    """A Next, Default or catcher Next: the name of a state in `states`, the same scope."""
    name = r.string(node, path, path.rsplit(".", 1)[-1])
    if name is not None and name not in states.mapping:
        r.error(
            node,
            path,
            f"{name!r} is not a state in this scope",
            did_you_mean(name, states.mapping) or f"use one of: {', '.join(states.mapping)}",
        )


def start_at(r: Reporter, node: Node, path: str, states: Node) -> str | None:
    """The StartAt of a scope when it names one of its states."""
    if (start := node.get("StartAt")) is None:
        return None
    name = r.string(start, join(path, "StartAt"), "StartAt")
    if name is not None and name not in states.mapping:
        r.error(
            start,
            join(path, "StartAt"),
            f"StartAt names {name!r}, which is not a state in this scope",
            did_you_mean(name, states.mapping) or f"use one of: {', '.join(states.mapping)}",
        )
        return None
    return name


def transition(r: Reporter, node: Node, path: str, states: Node) -> None:
    """Next or End (true), not both: the way a flow state goes on."""
    nxt, end = node.get("Next"), node.get("End")
    if nxt is not None and end is not None:
        r.error(
            *key_at(node, path, "End"),
            "a state cannot have both Next and End",
            "keep Next to continue, or End: true to finish",
        )
    elif nxt is None and end is None:
        r.error(node, path, "the state has neither Next nor End", "add Next: <state> or End: true")
    if nxt is not None:
        target(r, nxt, join(path, "Next"), states)
    if end is not None and r.boolean(end, join(path, "End"), "End") is False:
        r.error(
            end,
            join(path, "End"),
            "End must be true when present",
            "write End: true, or remove End and add Next",
        )


def reachability(r: Reporter, start: str, states: Node, path: str) -> None:
    seen = _reachable(start, states, {})
    broken = _broken_targets(seen, states)
    # A state left unreachable by a mistyped Next is one mistake, not two: it is named in the
    # Next's error, reached through the name that Next probably meant ("did you mean").
    # While a Next names nothing close to any state, every unreachable state may be the one it
    # meant: each is named there, none reported apart.
    meant = {t: close for t in broken if (close := _closest(t, states.mapping))}
    unreached = [name for name in states.mapping if name not in seen]
    if any(t not in meant for t in broken):
        folded = unreached
    else:
        with_fix = _reachable(start, states, meant)
        folded = [name for name in unreached if name in with_fix]
    if folded:
        _fold_unreachable(r, path, sorted(broken), folded)
    for name in unreached:
        if name not in folded:
            r.error(
                states.key_node(name),
                join(join(path, "States"), name),
                f"state {name!r} is unreachable from StartAt {start!r}",
                "reference it with Next, Default or a Catch, or remove it",
            )
    # A broken Next or a malformed End is already reported; an extra "never ends" would be
    # noise about the same mistake.
    dangling = broken or any(_dangling(states.mapping[n]) for n in seen)
    if not dangling and not any(_terminates(states.mapping[n]) for n in seen):
        r.error(
            states,
            join(path, "States"),
            "no reachable state ends the workflow",
            "add End: true, a Succeed or a Fail state",
        )


def _reachable(start: str, states: Node, meant: dict[str, str]) -> set[str]:
    """The states reached from `start`, a broken target read as `meant[target]`."""
    seen = {start}
    todo = [start]
    while todo:
        for name in _targets(states.mapping[todo.pop()]):
            name = meant.get(name, name)
            if name in states.mapping and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def _broken_targets(seen: set[str], states: Node) -> set[str]:
    return {t for n in seen for t in _targets(states.mapping[n]) if t not in states.mapping}


def _closest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _fold_unreachable(r: Reporter, path: str, broken: list[str], folded: list[str]) -> None:
    """Append "it leaves X unreachable" to the errors of this scope's broken targets."""
    prefix = join(path, "States") + "."
    heads = tuple(f"{t!r} is not a state in this scope" for t in broken)
    left = ", ".join(repr(name) for name in folded)
    noun = "state" if len(folded) == 1 else "states"
    for index, d in enumerate(r.diagnostics):
        inner = d.path.removeprefix(prefix)
        if (
            d.is_error
            and inner != d.path
            and ".States." not in inner  # a nested scope's own States
            and d.message.startswith(heads)
        ):
            r.diagnostics[index] = dataclasses.replace(
                d, message=f"{d.message}, which leaves {noun} {left} unreachable"
            )


class Names:
    """State names seen so far in one machine, for the uniqueness rule."""

    def __init__(self) -> None:
        self._first: dict[str, str] = {}  # state name -> path of its first definition

    def check(self, r: Reporter, key: Node, name: str, path: str) -> None:
        if name in self._first:
            r.error(
                key,
                path,
                f"state name {name!r} is already used at {self._first[name]}",
                "state names must be unique across the whole state machine; rename one",
            )
        else:
            self._first[name] = path
        if name.startswith(RESERVED_PREFIX):
            r.error(
                key,
                path,
                f"state names starting with {RESERVED_PREFIX!r} are reserved for generated states",
                "rename the state",
            )


def name_length(r: Reporter, key: Node, name: str, path: str, released: bool) -> None:
    """At most 80 characters; fewer for a terminal the semaphore puts a release state before,
    since that state's name is the prefix plus this name."""
    limit = STATE_NAME_MAX - len(RELEASE_BEFORE) if released else STATE_NAME_MAX
    if len(name) > limit:
        r.error(
            key,
            path,
            f"state name is {len(name)} characters, more than {limit}",
            f"shorten it to at most {limit} characters",
        )


def _targets(state: Node) -> list[str]:
    """Names a state can transition to, ignoring malformed entries (reported elsewhere)."""
    if not state.is_map:
        return []
    found = [v for field in ("Next", "Default") if (v := state.get(field)) is not None]
    for field in ("Choices", "Catch"):
        if (v := state.get(field)) is not None and v.is_seq:
            found.extend(
                n for item in v.items if item.is_map and (n := item.get("Next")) is not None
            )
    return [n.scalar for n in found if isinstance(n.scalar, str)]


def _dangling(state: Node) -> bool:
    """End present but not true, or a flow state with neither Next nor End."""
    if "End" in state.mapping:
        return state.mapping["End"].scalar is not True
    kind = state.get("Type")
    return kind is not None and kind.scalar in FLOW and "Next" not in state.mapping


def _terminates(state: Node) -> bool:
    if not state.is_map:
        return True  # already reported; do not pile on
    kind = state.get("Type")
    if kind is not None and kind.scalar in TERMINAL:
        return True
    end = state.get("End")
    return end is not None and end.scalar is True
