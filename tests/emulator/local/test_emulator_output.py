"""The emulator's internals never reach the user's terminal (docs/cli.md): `stepqueue emulator`
answers with one ready line (one JSON document with --json) and sends the server's logs, the
Step Functions interpreter's included, to its log file. A Catch path ending in a Fail state
is what made the interpreter print whole syntax trees (~9.7 KB in the demo) to the
terminal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from stepqueue.local.emulator import aws_env, make_client
from stepqueue.paths import REPO

ROLE = "arn:aws:iam::123456789012:role/unused"
CAUGHT = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "no-such-function", "Payload": {}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": True,
        },
        # A Fail state after the Catch: the interpreter logs the failure with the state's
        # whole syntax tree.
        "Caught": {"Type": "Fail", "Error": "Failed", "Cause": "on purpose"},
    },
}


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None, "the emulator ended before it was ready"
        assert time.monotonic() < deadline, "the emulator did not start in 60 s"
        time.sleep(0.1)


def _run_caught_execution(endpoint: str) -> None:
    sfn = make_client(endpoint, "stepfunctions")
    arn = sfn.create_state_machine(name="caught", definition=json.dumps(CAUGHT), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    status = "RUNNING"
    while status == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = sfn.describe_execution(executionArn=execution)["status"]
    assert status == "FAILED"  # caught, then failed on purpose, as on AWS


def test_the_interpreters_logs_go_to_the_log_file(tmp_path: Path) -> None:
    port_file, log_file = tmp_path / "port", tmp_path / "emulator.log"
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    env.update({k: v for k, v in aws_env("http://127.0.0.1:0").items() if k.startswith("AWS_")})
    env.pop("AWS_ENDPOINT_URL")
    command = [
        *(sys.executable, "-m", "stepqueue.local.emulator", "--json"),
        *("--port-file", str(port_file), "--log-file", str(log_file)),
    ]
    with subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            _wait_for(port_file, proc)
            endpoint = f"http://127.0.0.1:{int(port_file.read_text())}"
            _run_caught_execution(endpoint)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    ready = json.loads(out)  # one document: the endpoint, its port and its log
    assert ready["endpoint"] == endpoint and ready["log"] == str(log_file)
    lines = err.strip().splitlines()
    assert [line.split(" at ")[0] for line in lines] == ["emulator ready", "emulator stopped"]
    assert len(err) < 2000, err
    logged = log_file.read_text()
    assert "Exception=FailureEventException, Error=Failed" in logged
    assert "(StateFail|" in logged  # the syntax tree: in the log, not on the terminal
