"""The bad-spec corpus: each case is rejected with positions, exit code 1, no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.cli import main
from tests.unit.generator.helpers import (
    LAMBDA_SRC,
    REPO,
    SNAPSHOT,
    bad_cases,
    case_files,
    diagnose,
    relative,
    run_cli,
    snapshot_text,
)

LINE = re.compile(
    r"^(?P<file>[^:]+\.yaml):(?P<line>\d+):(?P<col>\d+): (error|warning): .+ \(at .+\)"
)


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def test_corpus_is_large_enough() -> None:
    assert len(bad_cases()) >= 30


@pytest.mark.parametrize("case", bad_cases(), ids=lambda p: p.name)
def test_bad_spec_is_rejected_with_position(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    errors = [d for d in diagnose(case) if d.is_error]
    assert errors, "a bad spec must produce at least one error"
    files = {relative(p) for p in case_files(case)}
    for d in errors:
        assert d.file in files and d.line >= 1 and d.col >= 1
        assert d.message and d.fix
    code = main(["validate", "--lambda-src", str(LAMBDA_SRC), *sorted(files)])
    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    printed = [line for line in err.splitlines() if not line.startswith("stepqueue:")]
    assert printed and all(LINE.match(line) for line in printed), printed


def test_messages_match_snapshot() -> None:
    expected = SNAPSHOT.read_text(encoding="utf-8")
    assert snapshot_text() == expected, "run `make regen` and review the diff if intended"


def test_whole_corpus_through_the_real_cli() -> None:
    files = [relative(p) for case in bad_cases() if case.is_file() for p in case_files(case)]
    result = run_cli("validate", *files)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_keys_suggest_the_right_one() -> None:
    text = SNAPSHOT.read_text(encoding="utf-8")
    assert (
        "unknown key 'concurency' in the spec (at concurency) — did you mean 'concurrency'?" in text
    )
    assert "did you mean 'Next'?" in text
    assert "did you mean 'timeout_seconds'?" in text
    assert "did you mean 'Task'?" in text


def test_shared_semaphore_error_names_both_files() -> None:
    case = next(c for c in bad_cases() if c.name == "shared_semaphore_limits")
    [error] = [d for d in diagnose(case) if d.is_error]
    assert "first.yaml" in error.message and "second.yaml" in error.file
