"""The `stepqueue` command: every user action is a subcommand, `--help` is fast and light, and
the generator never imports the deploy or local packages."""

from __future__ import annotations

import ast
import re
import resource
import subprocess
import sys

import pytest

from stepqueue.paths import REPO

COMMANDS = (
    "validate",
    "generate",
    "diagram",
    "plan",
    "apply",
    "destroy",
    "semaphore",
    "cost",
    "drift",
    "redrive",
    "demo",
    "emulator",
    "init",
    "run",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stepqueue", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def _cpu_seconds(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert _run(*args).returncode == 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_help_lists_every_command_and_is_fast() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"\n    {command}\s", result.stdout), command
    # CPU time, best of 5: wall time on a shared machine measures the machine.
    assert min(_cpu_seconds(["--help"]) for _ in range(5)) < 0.3


def test_help_loads_no_pipeline_deploy_or_emulator_code() -> None:
    probe = (
        "import sys; from stepqueue import cli; "
        "heavy = ('jinja2', 'yaml', 'python_terraform', 'boto3', 'moto', 'stepqueue.deploy', "
        "'stepqueue.local'); print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stderr


def test_generator_imports_neither_deploy_nor_local() -> None:
    for path in (REPO / "generator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.split(".")[0] in ("stepqueue", "bench")], path


def test_demo_and_emulator_show_their_own_options() -> None:
    demo = _run("demo", "--help")
    assert demo.returncode == 0 and "--executions" in demo.stdout
    assert demo.stdout.startswith("usage: stepqueue demo")
    emulator = _run("emulator", "--help")
    assert emulator.returncode == 0 and "--background" in emulator.stdout
    assert "--stop" in emulator.stdout


def test_deploy_usage_errors_are_clear() -> None:
    result = _run("plan", "--env", "local", "--backend-config", "x.s3.tfbackend")
    assert result.returncode == 2 and "--backend-config is for --env aws" in result.stderr
    result = _run("apply", "--backend", "s3")
    assert result.returncode == 2 and "--backend needs --backend-config" in result.stderr
    assert "Traceback" not in result.stderr


def test_operator_commands_state_their_defaults() -> None:
    redrive = _run("redrive", "--help")
    assert redrive.returncode == 0
    text = " ".join(redrive.stdout.split())
    assert "a dry run unless --yes" in text and "--delete-dead" in text
    drift = _run("drift", "--help")
    assert drift.returncode == 0 and "exit 1 when they differ" in " ".join(drift.stdout.split())
    cost = _run("cost", "--help")
    assert cost.returncode == 0 and "--wait-seconds" in cost.stdout


def test_a_closed_pipe_ends_quietly() -> None:
    """`stepqueue cost ... | head`: the reader leaving is no traceback, and exits as SIGPIPE."""
    script = (
        "import sys, stepqueue.cli as cli\n"
        "def write(*_args):\n"
        "    raise BrokenPipeError(32, 'Broken pipe')\n"
        "cli._main = write\n"
        "sys.exit(cli.main([]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 141
    assert "Traceback" not in done.stderr


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from stepqueue.cli import main

    with pytest.raises(SystemExit) as ended:
        main(["--version"])
    assert ended.value.code == 0
    assert capsys.readouterr().out.strip() == f"stepqueue {version('stepqueue')}"
