"""The command-line convention (docs/cli.md), command by command: with `--json` stdout is one
JSON document, an error is one JSON object `{"error": {kind, message, file, line, fix}}` on
stderr (and the document on stdout); exit 0 success, 1 a failure or a difference found, 2 bad
usage or bad input, argparse's own errors included.

Unit tier: the commands that need AWS, Terraform or the emulator are given input that fails
before any of them (a bad flag, a bad stage, no emulator running); their success paths with
the emulator are in tests/emulator/test_cli_convention.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stepqueue import cli
from stepqueue.paths import REPO
from stepqueue.project import Project

ORDERS = str(REPO / "workflows" / "orders.yaml")
BAD_SPEC = str(REPO / "tests" / "unit" / "generator" / "bad_specs" / "next_to_nowhere.yaml")
LAMBDA_SRC = str(REPO / "tests" / "unit" / "generator" / "fixtures" / "lambda_src")
ERROR_KEYS = {"kind", "message", "file", "line", "fix"}

# (command line, exit status, what stdout's document holds: a key, or "error")
CASES: list[tuple[list[str], int, str]] = [
    (["--version"], 0, "version"),
    ([], 2, "error"),
    (["no-such-command"], 2, "error"),
    (["validate", ORDERS, "--lambda-src", LAMBDA_SRC], 0, "valid"),
    (["validate", BAD_SPEC], 1, "error"),  # errors are what validate looks for
    (["validate", "missing.yaml"], 2, "error"),
    (["validate", ORDERS, "--no-such-flag"], 2, "error"),
    (["generate", BAD_SPEC, "--out", "{tmp}/out"], 2, "error"),
    (["generate", ORDERS, "--out", "{tmp}/out"], 0, "files"),
    (["diagram", ORDERS, "--lambda-src", LAMBDA_SRC], 0, "mermaid"),
    (["diagram", BAD_SPEC], 2, "error"),
    (["plan", "--env", "local", "--stage", "Bad-Stage"], 2, "error"),
    (["plan", "--env", "local"], 1, "error"),  # no emulator running
    (["plan", "--env", "local", "--backend-config", "x.s3.tfbackend"], 2, "error"),
    (["apply", "--env", "local", "--stage", "default"], 2, "error"),
    (["apply", "--backend", "s3"], 2, "error"),
    (["destroy", "--env", "local", "--stage", "UPPER"], 2, "error"),
    (["destroy", "--stage", "prod"], 1, "error"),  # no terminal to confirm, no --yes
    (["init", "{tmp}/new-project"], 0, "created"),
    (["init", "{tmp}/bad.json"], 2, "error"),  # not an empty directory
    (["init"], 2, "error"),
    (["run", "orders", "--input", "{not json", "--env", "local"], 2, "error"),
    (["run", "orders", "--input", "@{tmp}/missing.json", "--env", "local"], 2, "error"),
    (["run", "orders", "--env", "local"], 1, "error"),  # no emulator running
    (["run", "--env", "local"], 2, "error"),
    (["demo", "--executions", "0"], 2, "error"),
    (["demo", "--no-such-flag"], 2, "error"),
    (["emulator", "--background", "--stop"], 2, "error"),
    (["submit", "orders", "--input", "{tmp}/bad.json", "--env", "local"], 2, "error"),
    (["submit", "Not A Workflow", "--env", "local"], 2, "error"),
    (["submit", "orders", "--env", "local"], 1, "error"),  # no emulator running
    (["semaphore", "set", "orders", "--limit", "many"], 2, "error"),
    (["semaphore", "set", "orders", "--limit", "3", "--env", "local"], 1, "error"),
    (["semaphore", "status", "--env", "local"], 1, "error"),
    (["semaphore", "frobnicate"], 2, "error"),
    (["cost", ORDERS, "--executions", "1000"], 0, "workflows"),
    (["cost", ORDERS, "--executions", "0"], 2, "error"),
    (["cost", BAD_SPEC, "--executions", "10"], 2, "error"),
    (["drift", "--env", "local", "--stage", "default"], 2, "error"),
    (["drift", "--env", "local"], 1, "error"),  # no emulator running
    (["redrive", "orders", "enrich", "--yes", "--dry-run", "--env", "local"], 2, "error"),
    (["redrive", "orders", "enrich", "--max-messages", "0", "--env", "local"], 2, "error"),
    (["redrive", "orders"], 2, "error"),
]


@pytest.fixture(autouse=True)
def _no_emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No emulator is running (whatever a developer runs beside the tests), and no AWS."""
    monkeypatch.setattr(Project, "port_file", property(lambda _: tmp_path / "emulator.port"))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    (tmp_path / "bad.json").write_text("{not json")


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as ended:  # --help, --version: argparse's own exit
        code = int(ended.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _ids(case: tuple[list[str], int, str]) -> str:
    return " ".join(Path(a).name if "/" in a else a for a in case[0]) or "(nothing)"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_json_document_and_exit_status(
    case: tuple[list[str], int, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, status, holds = case
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = _run([*args, "--json"] if args else ["--json"], capsys)
    assert code == status, (code, out, err)
    assert "Traceback" not in err
    document = json.loads(out)  # exactly one document: json.loads refuses anything after it
    if holds == "error":
        assert set(document) == {"error"} and set(document["error"]) >= ERROR_KEYS
        assert document["error"]["message"]
        lines = err.strip().splitlines()
        assert json.loads(lines[-1]) == document  # stderr ends with the same object
        assert all(line.startswith("{") for line in lines), err  # nothing but JSON there
    else:
        assert holds in document, document


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_without_json_the_same_status_and_no_json_error(
    case: tuple[list[str], int, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, status, holds = case
    code, out, err = _run([a.replace("{tmp}", str(tmp_path)) for a in args], capsys)
    assert code == status
    assert "Traceback" not in err
    if holds == "error":
        assert err.strip() and not err.lstrip().startswith("{"), err
        assert '{"error"' not in out


def test_the_flags_go_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ["--json", "cost", ORDERS, "--executions", "5"],
        ["cost", "--json", ORDERS, "--executions", "5"],
        ["cost", ORDERS, "--executions", "5", "--json"],
    ):
        code, out, _ = _run(args, capsys)
        assert code == 0 and "workflows" in json.loads(out)
    code, out, _ = _run(["--json", "demo", "--executions", "0"], capsys)
    assert code == 2 and json.loads(out)["error"]["kind"] == "usage"


def test_quiet_keeps_only_the_answer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["validate", ORDERS, "--lambda-src", LAMBDA_SRC], capsys)
    assert code == 0 and "1 spec(s) valid" in err
    code, out, err = _run(["validate", "-q", ORDERS, "--lambda-src", LAMBDA_SRC], capsys)
    assert code == 0 and err == "" and out == ""
    code, out, err = _run(["-v", "validate", ORDERS, "--lambda-src", LAMBDA_SRC], capsys)
    assert code == 0 and "1 spec(s) valid" in err and out == ""


def test_every_command_takes_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    """A command added later gets --json, -v and -q by being registered: none is missed."""
    parser = cli._parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    leaves = []
    for name, sub in commands.choices.items():  # type: ignore[attr-defined]
        nested = [a for a in sub._actions if a.dest == "semaphore_command"]
        leaves += [(f"{name} {n}", s) for n, s in nested[0].choices.items()] if nested else []
        leaves += [] if nested else [(name, sub)]
    for name, sub in leaves:
        if name in cli.PASS_THROUGH:
            continue  # their own parsers: covered by CASES
        for flag in ("--json", "-v", "-q"):
            assert flag in sub._option_string_actions, (name, flag)
    for name in cli.PASS_THROUGH:
        code, out, _ = _run([name, "--help"], capsys)
        assert code == 0 and "--json" in out and "--quiet" in out, name


def test_apply_without_a_saved_plan_says_to_run_plan(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Credentials that answer nothing: the refusal must come before any call to AWS.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unused")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unused")
    code, out, _ = _run(["apply", "--stage", "zzcliconv", "--json"], capsys)
    assert code == 1
    message = json.loads(out)["error"]["message"]
    assert "run `stepqueue plan --env aws --stage zzcliconv`" in message
    assert "generate" not in message


def test_the_generator_module_follows_it_too(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "generator", *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
        )

    ok = run("validate", ORDERS, "--lambda-src", LAMBDA_SRC, "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["valid"] is True
    bad = run("validate", BAD_SPEC, "--json")
    assert bad.returncode == 1
    error = json.loads(bad.stderr)["error"]
    assert error["kind"] == "invalid-spec" and error["line"] == 7
    assert error["diagnostics"][0]["path"] == "States.A.Next"
    usage = run("validate", "--json")
    assert usage.returncode == 2 and json.loads(usage.stdout)["error"]["kind"] == "usage"
