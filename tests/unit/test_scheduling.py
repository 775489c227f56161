"""The tiers and the scheduling of the suite itself (tests/tiers.py, tests/scheduling.py): the
folder decides the tier, a group is one work unit, the end-of-run check fails a run whose
groups overlapped or split, and the unit tier refuses Terraform and the emulator."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.scheduling import Ran, scope_of, violations
from tests.tiers import TierViolation, group_of, guard_unit_tier, tier_of

STACK_A = "tests/system/stack/test_applied.py::test_outputs"
STACK_B = "tests/system/stack/test_ops.py::test_destroy_leaves_nothing"
TF = "tests/system/terraform/test_moved.py::test_moved"
UNIT = "tests/unit/test_cli.py::test_help"
EMU = "tests/emulator/semaphore/test_waiting_room.py::test_sweep[a@b]"


def test_the_folder_decides_the_tier_and_the_group() -> None:
    assert [tier_of(n) for n in (STACK_A, TF, UNIT, EMU)] == [
        "system",
        "system",
        "unit",
        "emulator",
    ]
    assert [group_of(n) for n in (STACK_A, STACK_B, TF, UNIT, EMU)] == [
        "system/stack",
        "system/stack",
        "system/terraform",
        None,
        None,
    ]
    with pytest.raises(pytest.UsageError, match="tests/unit/, tests/emulator/ or tests/system/"):
        tier_of("tests/test_loose.py::test_x")


def test_a_group_is_one_work_unit_and_any_other_file_its_own() -> None:
    assert scope_of(STACK_A) == scope_of(STACK_B) == "system/stack"
    assert scope_of(TF) == "system/terraform"
    assert scope_of(UNIT) == "tests/unit/test_cli.py"
    # A parametrize id with "@" in it is not mistaken for xdist's group suffix.
    assert scope_of(EMU) == "tests/emulator/semaphore/test_waiting_room.py"


def test_a_run_that_kept_its_groups_apart_passes() -> None:
    runs = [
        Ran(STACK_A, "gw0", 0.0, 5.0),
        Ran(STACK_B, "gw0", 5.0, 9.0),
        Ran(TF, "gw1", 1.0, 8.0),  # another group, another worker: may overlap
        Ran(UNIT, "gw1", 8.0, 8.1),
        Ran(EMU, "gw0", 2.0, 3.0),  # not in a group
    ]
    assert violations(runs) == []


def test_a_group_on_two_workers_fails_the_run() -> None:
    runs = [Ran(STACK_A, "gw0", 0.0, 1.0), Ran(STACK_B, "gw1", 2.0, 3.0)]
    assert violations(runs) == ["group system/stack ran on 2 workers: gw0, gw1"]


def test_two_tests_of_a_group_running_at_once_fail_the_run() -> None:
    runs = [Ran(STACK_A, "gw0", 0.0, 5.0), Ran(STACK_B, "gw0", 4.0, 6.0)]
    assert violations(runs) == [
        f"group system/stack: {STACK_B} started while {STACK_A} was running"
    ]


def test_the_unit_guard_refuses_terraform_and_the_emulator() -> None:
    # This test runs under the unit tier's own guard; a second one, stacked on it, refuses
    # first, so the outer guard never sees the attempts.
    with pytest.MonkeyPatch.context() as patch:
        guard = guard_unit_tier(patch)
        started = next(guard)
        with pytest.raises(TierViolation, match="started Terraform"):
            subprocess.Popen(["/usr/local/bin/terraform", "version"])
        with pytest.raises(TierViolation, match="started the emulator"):
            subprocess.run([sys.executable, "-m", "stepqueue.local.emulator", "--port", "0"])
        # Anything else still runs.
        assert subprocess.run([sys.executable, "-c", "pass"], check=False).returncode == 0
        assert started == ["Terraform", "the emulator"]
        with pytest.raises(pytest.fail.Exception, match="move it to tests/emulator/"):
            next(guard)
