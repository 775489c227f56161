"""Which xdist worker runs what, and the proof that it happened.

pytest-xdist's own `xdist_group` mark never reaches its scheduler with the pinned pytest
(xdist renames `item._nodeid`, which pytest 9 no longer reads), so groups are decided here
from the node id alone, which is what the controller sees: every group of tests/tiers.py (a
subfolder of tests/system/) is one work unit, so one worker runs all of its tests in file
order; every other file is a unit of its own, handed to whichever worker is free.

Each worker records when each test ran; at the end the controller checks that no group ran
on two workers and that no two tests of a group overlapped, and fails the run if one did.
"""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tiers import group_of

TIMELINE = "stepqueue_timeline"  # the key of the timeline file in each worker's input


@dataclass(frozen=True)
class Ran:
    """One test as it ran: where and when (monotonic clock of the machine: all workers run
    on this one)."""

    nodeid: str
    worker: str
    start: float
    end: float


def scope_of(nodeid: str) -> str:
    """The work unit of a test: its group, else its file."""
    return group_of(nodeid) or nodeid.split("::", 1)[0]


def violations(runs: Iterable[Ran]) -> list[str]:
    """Each group's tests must have run on one worker and one at a time."""
    by_group: dict[str, list[Ran]] = {}
    for run in runs:
        group = group_of(run.nodeid)
        if group is not None:
            by_group.setdefault(group, []).append(run)
    found: list[str] = []
    for group, members in sorted(by_group.items()):
        workers = sorted({m.worker for m in members})
        if len(workers) > 1:
            found.append(f"group {group} ran on {len(workers)} workers: {', '.join(workers)}")
        ordered = sorted(members, key=lambda m: m.start)
        for before, after in itertools.pairwise(ordered):
            if after.start < before.end:
                found.append(
                    f"group {group}: {after.nodeid} started while {before.nodeid} was running"
                )
    return found


def make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class TierScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    # Work units are taken in collection order (tests/tiers.py puts the system groups first),
    # not re-sorted by size.
    config.option.loadscopereorder = False
    return TierScheduling(config, log)


class Timeline:
    """Where each test's start and end are written (one JSON line each) and read back."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, run: Ran) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(run.__dict__) + "\n")

    def read(self) -> list[Ran]:
        if not self.path.exists():
            return []
        return [Ran(**json.loads(line)) for line in self.path.read_text().splitlines() if line]


class Plugin:
    """Registered by tests/conftest.py in the controller and in every worker."""

    def __init__(self, config: pytest.Config) -> None:
        worker_input = getattr(config, "workerinput", None)
        self.worker = "main" if worker_input is None else str(worker_input["workerid"])
        if worker_input is None:
            handle, name = tempfile.mkstemp(prefix="stepqueue-timeline-", suffix=".jsonl")
            os.close(handle)
            self.timeline = Timeline(Path(name))
            self.owner = True
        else:
            self.timeline = Timeline(Path(worker_input[TIMELINE]))
            self.owner = False

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[TIMELINE] = str(self.timeline.path)

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        return make_scheduler(config, log)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        start = time.monotonic()
        try:
            return (yield)
        finally:
            self.timeline.record(Ran(item.nodeid, self.worker, start, time.monotonic()))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.owner:
            return
        found = violations(self.timeline.read())
        self.timeline.path.unlink(missing_ok=True)
        if found:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.section("scheduling violated", sep="=", red=True)
                for line in found:
                    reporter.line(line, red=True)
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
