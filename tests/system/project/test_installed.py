"""The installed tool, used from a project of one's own with this repository out of sight:
`stepqueue init`, then validate, generate, the emulator, plan and apply locally, `run` (the
handler's output, exit 0) and `submit` (two executions that succeed)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.system.project.conftest import Installed

DEADLINE_S = 120.0


def _ok(installed: Installed, command: str, cwd: Path) -> str:
    result = installed.hidden(command, cwd)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_the_wheel_runs_a_new_project_without_this_repository(installed: Installed) -> None:
    home = installed.home
    _ok(installed, "stepqueue init demo-app", home)
    project = home / "demo-app"
    assert (project / "stepqueue.toml").is_file()
    try:
        _ok(installed, "stepqueue validate", project)
        _ok(installed, "stepqueue generate", project)
        assert (project / "build" / "generated" / "workflows.tfvars.json").is_file()
        _ok(installed, "stepqueue emulator --background", project)
        _ok(installed, "stepqueue plan --env local", project)
        _ok(installed, "stepqueue apply --env local", project)
        shown = _ok(installed, "stepqueue run demo-app --env local --input '{}' --json", project)
        result = json.loads(shown)
        assert result["status"] == "SUCCEEDED"
        assert result["output"] == {"greeting": "Hello, world!"}
        assert "Greet" in result["states"]
        failed = installed.hidden(
            """stepqueue run demo-app --env local --input '{"name": ""}'""", project
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert "FAILED" in failed.stdout and "error: Hello.NoName" in failed.stdout

        (project / "two.jsonl").write_text('{"name": "a"}\n{"name": "b"}\n')
        sent = _ok(installed, "stepqueue submit demo-app --env local --each two.jsonl", project)
        names = {json.loads(line)["name"] for line in sent.splitlines()}
        assert len(names) == 2
        assert _statuses(installed, project, names) == {"SUCCEEDED"}
    finally:
        installed.hidden("stepqueue emulator --stop", project)


def _statuses(installed: Installed, project: Path, names: set[str]) -> set[str]:
    """The final statuses of the executions `names` (started by the starter: they show up)."""
    probe = (
        "python -c 'import json,sys; from stepqueue.local.emulator import make_client; "
        'sfn = make_client("http://127.0.0.1:" + open("build/emulator.port").read().strip(), '
        '"stepfunctions"); '
        'arn = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] '
        'if m["name"] == "demo-app"][0]; '
        'print(json.dumps({e["name"]: e["status"] for e in '
        'sfn.list_executions(stateMachineArn=arn)["executions"]}))\''
    )
    deadline = time.monotonic() + DEADLINE_S
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = json.loads(_ok(installed, probe, project))
        ours = {name: statuses.get(name) for name in names}
        if all(status not in (None, "RUNNING") for status in ours.values()):
            return {str(status) for status in ours.values()}
        time.sleep(1)
    raise AssertionError(f"not ended within {DEADLINE_S} s: {statuses}")


def test_the_wheel_points_nowhere_into_this_repository(installed: Installed) -> None:
    from stepqueue.paths import REPO

    shown = _ok(
        installed,
        "python -c 'import stepqueue, stepqueue_runtime, stepqueue.paths as p; "
        "print(stepqueue.__file__, stepqueue_runtime.__file__, p.TERRAFORM_ROOT, p.MODULES)'",
        installed.home,
    )
    assert str(REPO) not in shown
    assert str(installed.venv) in shown
