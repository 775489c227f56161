"""Cross-field rules and handler checks, one focused case each (the corpus has more)."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.api import generate, load_and_validate
from generator.errors import GeneratorError
from generator.handlers import check_handler
from tests.unit.generator.helpers import LAMBDA_SRC, REPO, WORKFLOWS, write_spec


def _diags(tmp_path: Path, text: str) -> list[str]:
    _, diags = load_and_validate([write_spec(tmp_path, text)], lambda_src=LAMBDA_SRC)
    return [f"{d.severity.value}: {d.message}" for d in diags]


def _worker_spec(settings: str, state: str = "") -> str:
    return (
        "name: r\nworkers:\n  w: {handler: examples.common.echo" + settings + "}\n"
        "StartAt: A\nStates:\n  A: {Type: Task, Worker: w, End: true" + state + "}\n"
    )


@pytest.mark.parametrize(
    ("settings", "state", "expected"),
    [
        (
            ", timeout_seconds: 60, visibility_timeout_seconds: 359",
            "",
            "error: visibility timeout 359 s is below",
        ),
        (", batch_size: 11", "", "error: batch_size 11 is above 10"),
        (
            ", max_concurrency: 4, reserved_concurrency: 3",
            "",
            "error: reserved_concurrency 3 is below max_concurrency 4",
        ),
        (
            ", timeout_seconds: 100",
            "",
            "warning: TimeoutSeconds 1800 is shorter than max_receive_count",
        ),
        (
            ", timeout_seconds: 600",
            ", TimeoutSeconds: 60",
            "error: worker 'w' may run 600 s (its timeout_seconds) but state 'A' waits "
            "TimeoutSeconds 60",
        ),
        (
            "",
            ", TimeoutSeconds: 60, HeartbeatSeconds: 60",
            "error: HeartbeatSeconds (60) must be less than TimeoutSeconds (60)",
        ),
        (
            ", delay_seconds: 20",
            ", HeartbeatSeconds: 20",
            "error: HeartbeatSeconds 20 is not above the worker's delivery delay",
        ),
    ],
)
def test_rule(tmp_path: Path, settings: str, state: str, expected: str) -> None:
    assert any(d.startswith(expected) for d in _diags(tmp_path, _worker_spec(settings, state)))


@pytest.mark.parametrize(
    ("settings", "state"),
    [
        (", timeout_seconds: 60, visibility_timeout_seconds: 360", ""),  # exactly the minimum
        (", batch_size: 100, batching_window_seconds: 1", ""),
        (", max_concurrency: 4, reserved_concurrency: 4", ""),
        (", timeout_seconds: 100", ", TimeoutSeconds: 3150"),  # 5 x (600 + 30)
        ("", ", TimeoutSeconds: 1051, HeartbeatSeconds: 1050"),
    ],
)
def test_rule_boundaries_pass(tmp_path: Path, settings: str, state: str) -> None:
    assert _diags(tmp_path, _worker_spec(settings, state)) == []


def test_defaults_and_tfvars(tmp_path: Path) -> None:
    workflows, _ = load_and_validate(
        [write_spec(tmp_path, _worker_spec(", batching_window_seconds: 7"))], lambda_src=LAMBDA_SRC
    )
    assert workflows is not None
    assert workflows[0].workers[0].tfvars("wf") == {
        "handler": "examples.common.echo",
        "timeout_seconds": 30,
        "memory_mb": 256,
        "batch_size": 1,
        "batching_window_seconds": 7,
        "max_concurrency": 2,
        "reserved_concurrency": None,
        "max_receive_count": 5,
        "visibility_timeout_seconds": 6 * 30 + 7 + 30,
        "message_retention_seconds": 345600,
        "delay_seconds": 0,
        "ephemeral_storage_mb": 512,
        "artifact": None,
        "architecture": "x86_64",
        "environment": {},
        "secrets": {},
        "policy_statements": [],
        "managed_policy_arns": [],
        "log_retention_days": None,
        "subnet_ids": [],
        "security_group_ids": [],
        "layers": [],
        "tags": {},
    }


def test_handler_check_with_own_files(tmp_path: Path) -> None:
    pkg = tmp_path / "examples"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "mod.py").write_text(
        "import os\n\ndef f(p, c):\n    pass\n\nasync def g(p, c):\n    pass\n\nh = f\n"
    )
    (pkg / "sub" / "__init__.py").write_text("def k(p, c):\n    pass\n")
    (pkg / "broken.py").write_text("def f(:\n")
    assert check_handler(tmp_path, "examples.mod.f") is None
    assert check_handler(tmp_path, "examples.mod.g") is None
    assert check_handler(tmp_path, "examples.mod.h") is None
    assert check_handler(tmp_path, "examples.sub.k") is None
    missing = check_handler(tmp_path, "examples.mod.nope")
    assert missing is not None and "does not define 'nope'" in missing[0]
    no_module = check_handler(tmp_path, "examples.gone.f")
    assert no_module is not None and "no examples/gone.py in lambda_src" in no_module[0]
    broken = check_handler(tmp_path, "examples.broken.f")
    assert broken is not None and "cannot parse" in broken[0]


def test_example_workflows_match_the_real_handlers() -> None:
    """Integration with the runtime engineer's lambda_src/examples (parsed, not imported)."""
    workflows, diags = load_and_validate(WORKFLOWS, lambda_src=REPO / "lambda_src")
    assert workflows is not None, [d.format() for d in diags]


def test_api_generate_raises_with_diagnostics(tmp_path: Path) -> None:
    bad = write_spec(tmp_path, "name: x\nStartAt: A\nStates:\n  A: {Type: Pass, Next: B}\n")
    with pytest.raises(GeneratorError) as info:
        generate([bad], tmp_path / "out", lambda_src=LAMBDA_SRC)
    assert any("'B' is not a state" in d.message for d in info.value.diagnostics)
    assert not (tmp_path / "out").exists()
    assert generate(WORKFLOWS, tmp_path / "out", lambda_src=LAMBDA_SRC) == []
    assert (tmp_path / "out" / "workflows.tfvars.json").is_file()


def test_legacy_iterator_and_nested_scopes_are_validated(tmp_path: Path) -> None:
    diags = _diags(
        tmp_path,
        """
name: m
StartAt: M
States:
  M:
    Type: Map
    Iterator:
      StartAt: X
      States:
        X: {Type: Pass, Next: Y}
        Z: {Type: Succeed}
    End: true
""",
    )
    # 'Y' is like no state: Z may be the one it meant, so Z is named in that error only.
    assert diags == ["error: 'Y' is not a state in this scope, which leaves state 'Z' unreachable"]


def test_a_worker_outliving_its_task_is_one_error_naming_both_fixes(tmp_path: Path) -> None:
    diags = _diags(tmp_path, _worker_spec(", timeout_seconds: 600", ", TimeoutSeconds: 60"))
    # The redelivery warning would be about the same mistake: only the error is reported.
    assert len(diags) == 1 and diags[0].startswith("error: worker 'w' may run 600 s"), diags
    _, found = load_and_validate(
        [write_spec(tmp_path, _worker_spec(", timeout_seconds: 600", ", TimeoutSeconds: 60"))],
        lambda_src=LAMBDA_SRC,
    )
    assert "raise this state's TimeoutSeconds to at least 600" in found[0].fix
    assert "lower timeout_seconds of worker 'w' to 60 or less" in found[0].fix
    assert found[0].path == "States.A.TimeoutSeconds"


def test_a_worker_that_fits_its_task_is_not_reported(tmp_path: Path) -> None:
    spec = _worker_spec(", timeout_seconds: 60, max_receive_count: 1", ", TimeoutSeconds: 400")
    assert _diags(tmp_path, spec) == []


def test_states_left_unreachable_by_a_typo_are_folded_into_it(tmp_path: Path) -> None:
    diags = _diags(
        tmp_path,
        """
name: m
StartAt: A
States:
  A: {Type: Pass, Next: Chekc}
  Check: {Type: Pass, Next: Charge}
  Charge: {Type: Pass, Next: Ship}
  Ship: {Type: Pass, Next: Notify}
  Notify: {Type: Pass, Next: Done}
  Done: {Type: Succeed}
  Orphan: {Type: Succeed}
""",
    )
    assert diags == [
        "error: 'Chekc' is not a state in this scope, which leaves states 'Check', 'Charge', "
        "'Ship', 'Notify', 'Done' unreachable",
        # Not reached even through 'Check': its own mistake, reported on its own.
        "error: state 'Orphan' is unreachable from StartAt 'A'",
    ]


def test_heartbeat_is_compared_with_the_default_timeout(tmp_path: Path) -> None:
    diags = _diags(tmp_path, _worker_spec("", ", HeartbeatSeconds: 1800"))
    assert (
        "error: HeartbeatSeconds (1800) must be less than the default TimeoutSeconds (1800)"
        in diags
    )


def test_semaphore_names_follow_the_terraform_rule(tmp_path: Path) -> None:
    spec = (
        "name: s\nconcurrency: {semaphore: glue_jobs, limit: 2}\n"
        "StartAt: A\nStates:\n  A: {Type: Succeed}\n"
    )
    assert any("semaphore name 'glue_jobs' is not valid" in d for d in _diags(tmp_path, spec))


def test_cli_lambda_src_option(tmp_path: Path) -> None:
    from tests.unit.generator.helpers import run_cli

    spec = write_spec(tmp_path, _worker_spec(""))
    empty = tmp_path / "empty_src"
    empty.mkdir()
    result = run_cli("validate", "--lambda-src", str(empty), str(spec))
    assert result.returncode == 1 and "no examples/common.py in lambda_src" in result.stderr


@pytest.mark.parametrize(
    ("heartbeat", "error"),
    [(60, True), (67, True), (68, False)],  # delay + window 45 s: HeartbeatSeconds > 67.5
)
def test_heartbeat_leaves_a_third_after_delay_and_window(
    tmp_path: Path, heartbeat: int, error: bool
) -> None:
    """The runtime's first heartbeat may come delay + window after the message is queued
    (when the worker reads it), and the next a third of HeartbeatSeconds later: delay + window
    must stay under two thirds of HeartbeatSeconds so that one failed heartbeat is not fatal.
    The reviewer's case: window 45 s, HeartbeatSeconds 60, batch_size 10."""
    settings = (
        ", timeout_seconds: 60, batch_size: 10, delay_seconds: 15, batching_window_seconds: 30"
    )
    diags = _diags(tmp_path, _worker_spec(settings, f", HeartbeatSeconds: {heartbeat}"))
    expected = (
        f"error: HeartbeatSeconds {heartbeat} is not above 1.5 x the worker's delivery delay + "
        "batching window (45 s)"
    )
    assert any(d.startswith(expected) for d in diags) is error, diags
    assert [d for d in diags if d.startswith("error")] == (
        [d for d in diags if d.startswith(expected)] if error else []
    )


def test_symlinked_handler_folder_is_checked_and_packaged(tmp_path: Path) -> None:
    """What check_handler accepts (it follows links) is what the zip holds (packaged_files)."""
    from generator.handlers import packaged_files

    shared = tmp_path / "shared_code" / "billing"
    shared.mkdir(parents=True)
    (shared / "__init__.py").write_text("")
    (shared / "charge.py").write_text("def run(payload, ctx):\n    return payload\n")
    (shared / "__pycache__").mkdir()
    (shared / "__pycache__" / "charge.cpython-311.pyc").write_bytes(b"")
    tree = tmp_path / "lambda_src"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("")
    (tree / "billing").symlink_to(shared, target_is_directory=True)  # a linked package
    (tree / "pkg" / "alias").symlink_to(shared, target_is_directory=True)  # the same, twice
    (tree / "pkg" / "loop").symlink_to(tree, target_is_directory=True)  # a cycle
    (tree / "dangling").symlink_to(tmp_path / "nowhere")

    for handler in ("billing.charge.run", "pkg.alias.charge.run"):
        assert check_handler(tree, handler) is None, handler
    packaged = packaged_files(tree)
    assert "billing/charge.py" in packaged and "billing/__init__.py" in packaged
    assert "pkg/alias/charge.py" in packaged
    assert packaged["billing/charge.py"].read_text().startswith("def run")
    assert not [name for name in packaged if "__pycache__" in name or "dangling" in name]
    # A cycle is not gone round, by either: the check refuses what the zip would not hold.
    assert not [name for name in packaged if name.startswith("pkg/loop/")]
    cycle = check_handler(tree, "pkg.loop.billing.charge.run")
    assert cycle is not None and "cycle of symbolic links" in cycle[0]
    assert list(packaged) == sorted(packaged)
