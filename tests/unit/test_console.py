"""stepqueue.console: progress as lines in a log and redrawn on a terminal, -q, and errors in
both forms (the commands' side: tests/unit/test_cli_convention.py)."""

from __future__ import annotations

import io
import json
import time

import pytest

from stepqueue import console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _console(monkeypatch: pytest.MonkeyPatch, err: io.StringIO, **flags: object) -> console.Console:
    monkeypatch.setattr("sys.stderr", err)
    monkeypatch.setattr(console, "LOG_HEARTBEAT_S", 0.0)  # a line at every tick
    monkeypatch.setattr(console, "TICK_S", 0.01)
    return console.Console(**flags)  # type: ignore[arg-type]


def _until(stream: io.StringIO, text: str) -> None:
    """Wait for the ticker thread to have written `text` (a wait, not a timing assertion)."""
    deadline = time.monotonic() + 30
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, stream.getvalue()
        time.sleep(0.01)


def test_in_a_log_progress_is_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    out = _console(monkeypatch, log)
    with out.step("terraform apply", total=4) as progress:
        for done in range(1, 5):
            progress.advance()
            _until(log, f"terraform apply: {done}/4")
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "terraform apply ..."
    assert lines[-1].startswith("terraform apply: 4/4 ") and lines[-1].endswith(" done")
    assert any(line.startswith("terraform apply: 2/4 ") for line in lines)


def test_on_a_terminal_progress_redraws_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    out = _console(monkeypatch, terminal)
    with out.step("executions done", total=2) as progress:
        progress.update(1, "holders 1/5")
        _until(terminal, "(holders 1/5)")
    text = terminal.getvalue()
    assert "\rexecutions done" in text.replace("\x1b[K", "")
    assert "(holders 1/5)" in text
    assert text.endswith(" done\n") and text.count("\n") == 1  # one line when it ends


def test_a_failed_step_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    out = _console(monkeypatch, log)
    with pytest.raises(RuntimeError), out.step("terraform plan"):
        raise RuntimeError("boom")
    assert log.getvalue().splitlines()[-1].endswith(" failed")


def test_quiet_shows_no_progress_nor_narration(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    out = _console(monkeypatch, log, verbosity=-1)
    out.info("starting")
    with out.step("terraform apply", total=1) as progress:
        progress.advance()
    assert log.getvalue() == ""


def test_errors_in_both_forms(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = console.usage_error("--count 0: 1 or more", fix="give 1 or more")
    assert console.Console().report(error) == console.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "stepqueue: error: --count 0: 1 or more — give 1 or more\n"
    failure = console.CommandError("the queue is gone", kind="aws")
    assert console.Console(json=True).report(failure) == console.EXIT_FAILURE
    captured = capsys.readouterr()
    document = {
        "error": {"kind": "aws", "message": "the queue is gone", "file": None, "line": None,
                  "fix": None}
    }  # fmt: skip
    assert json.loads(captured.out) == document and json.loads(captured.err) == document


def test_bad_input_exceptions_exit_2() -> None:
    class StageInvalid(RuntimeError, console.BadInput):
        pass

    assert console.from_exception(StageInvalid("stage 'X'")).exit_code == console.EXIT_USAGE
    assert console.from_exception(RuntimeError("down")).exit_code == console.EXIT_FAILURE


def test_one_document_per_command(capsys: pytest.CaptureFixture[str]) -> None:
    out = console.Console(json=True)
    out.result({"a": 1})
    with pytest.raises(RuntimeError, match="one JSON document"):
        out.result({"b": 2})
    assert json.loads(capsys.readouterr().out) == {"a": 1}
