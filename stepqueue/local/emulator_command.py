"""`stepqueue emulator [--background | --stop]`: the project's local AWS, with its workers.

Runs the emulator (stepqueue.local.emulator, a child process whose log goes to
BUILD/emulator/server.log: its internals never reach the terminal) and, beside it, the local
event source runner (stepqueue.local.runner) for whatever is deployed on it: every
POLL_S the deployed SQS event source mappings are read back, and when they change (an apply
added, removed or changed one) the runner is restarted on the new set. So `stepqueue submit`
and `stepqueue run --env local` complete as they do on AWS, for deployments applied after the
emulator started. The runner runs the project's Lambda zip (BUILD/lambda/stepqueue.zip, what
`plan` builds and `apply` deploys); a mapping deployed from another zip waits, with one log
line, until the zip and the deployment agree again.

The port is written to BUILD/emulator.port (what `--env local` reads). `--background` starts
the same thing detached (pid in BUILD/emulator/pid, its output in BUILD/emulator/emulator.log)
and returns once it answers; `--stop` ends it.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from stepqueue import console
from stepqueue.project import Project

POLL_S = 2.0
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = console.Parser(
        prog=prog,
        description="The local AWS emulator and the event source runner for whatever is "
        "deployed on it (foreground; Ctrl-C stops both).",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--background", action="store_true", help="start detached and return")
    mode.add_argument("--stop", action="store_true", help="stop the background emulator")
    parser.add_argument(
        "--no-enforce-iam",
        dest="enforce_iam",
        action="store_false",
        help="accept any request (by default each worker calls AWS with its own deployed "
        "role, so a missing permission fails here as on AWS)",
    )
    console.add_flags(parser, top=True)  # --json, -v, -q (docs/cli.md)
    return parser


def main(argv: list[str], project: Project | None, prog: str = "stepqueue emulator") -> int:
    parser = _parser(prog)
    return console.run(lambda: _main(parser, argv, project))


def _main(parser: argparse.ArgumentParser, argv: list[str], project: Project | None) -> int:
    args = parser.parse_args(argv)
    console.configure(args, prog=parser.prog)
    assert project is not None  # only --help comes without one
    files = Files(project)
    if args.stop:
        return stop(files)
    if args.background:
        return background(files, args.enforce_iam)
    return foreground(project, files, args.enforce_iam)


class Files:
    """The project's emulator files."""

    def __init__(self, project: Project) -> None:
        self.project_root = project.root
        self.port = project.port_file
        self.dir = project.emulator_dir
        self.pid = self.dir / "pid"
        self.output = self.dir / "emulator.log"
        self.server_log = self.dir / "server.log"
        self.workers_log = self.dir / "workers.log"

    def running_pid(self) -> int | None:
        """The background emulator's pid, when the pid file names a live process that is one
        (a stale file whose pid was reused by another process names none: never signalled)."""
        try:
            pid = int(self.pid.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # no /proc (macOS): trust the pid file while the emulator answers
            return pid if self.answering() else None
        return pid if b"stepqueue" in command and b"emulator" in command else None

    def answering(self) -> str | None:
        """The endpoint of this project's emulator, when one answers at its port file's port."""
        from stepqueue.local.emulator import is_reachable

        try:
            endpoint = f"http://127.0.0.1:{int(self.port.read_text().strip())}"
        except (OSError, ValueError):
            return None
        return endpoint if is_reachable(endpoint) else None


def _say(message: str) -> None:
    console.current().info(f"[emulator] {message}")


def background(files: Files, enforce_iam: bool) -> int:
    if (pid := files.running_pid()) is not None:
        _say(f"already running (pid {pid}); `stepqueue emulator --stop` stops it")
        console.current().result({"endpoint": files.answering(), "pid": pid, "started": False})
        return 0
    if (endpoint := files.answering()) is not None:
        _say(f"this project's emulator already runs at {endpoint} (in a terminal): stop it there")
        return 1
    files.dir.mkdir(parents=True, exist_ok=True)
    files.port.unlink(missing_ok=True)
    command = [sys.executable, "-m", "stepqueue", "emulator", "--project", str(files.project_root)]
    command += [] if enforce_iam else ["--no-enforce-iam"]
    with open(files.output, "ab") as output:
        child = subprocess.Popen(
            command,
            cwd=files.project_root,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command and the terminal's Ctrl-C
        )
    files.pid.write_text(f"{child.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            files.pid.unlink(missing_ok=True)
            _say(f"did not start (exit {child.returncode}); its output: {files.output}")
            return 1
        if (endpoint := files.answering()) is not None:
            _say(f"running at {endpoint} (pid {child.pid}); logs in {files.dir}")
            document = {"endpoint": endpoint, "pid": child.pid, "started": True}
            console.current().result(document, None)
            return 0
        time.sleep(0.2)
    _say(f"no answer after {START_TIMEOUT_S:.0f} s; its output: {files.output}")
    return 1


def stop(files: Files) -> int:
    pid = files.running_pid()
    if pid is None:
        files.pid.unlink(missing_ok=True)
        _say("not running")
        console.current().result({"stopped": False, "running": False})
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and files.running_pid() == pid:
        time.sleep(0.2)
    if files.running_pid() == pid:
        _say(f"pid {pid} did not stop in {STOP_TIMEOUT_S:.0f} s")
        return 1
    files.pid.unlink(missing_ok=True)
    _say("stopped")
    console.current().result({"stopped": True, "pid": pid})
    return 0


def foreground(project: Project, files: Files, enforce_iam: bool) -> int:
    from stepqueue.local.emulator import Emulator, EmulatorError

    if (endpoint := files.answering()) is not None and os.getpid() != files.running_pid():
        _say(f"this project's emulator already runs at {endpoint}: one per project")
        return 1
    stopping = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    files.dir.mkdir(parents=True, exist_ok=True)
    try:
        emulator = Emulator(enforce_iam=enforce_iam, log_path=files.server_log).start()
    except EmulatorError as error:
        _say(str(error))
        return 1
    try:
        tmp = files.port.with_name(files.port.name + ".tmp")
        tmp.write_text(f"{emulator.port}\n")
        tmp.replace(files.port)
        _say(
            f"ready at {emulator.endpoint}; workers run whatever is deployed on it "
            f"(logs in {files.dir}); Ctrl-C to stop"
        )
        console.current().result({"endpoint": emulator.endpoint, "port": emulator.port}, None)
        Supervisor(emulator.endpoint, project.lambda_zip, files.workers_log).run(stopping)
    finally:
        files.port.unlink(missing_ok=True)
        emulator.stop()
        _say("stopped")
    return 0


class Supervisor:
    """The local runner for the mappings deployed now, restarted whenever they change."""

    def __init__(self, endpoint: str, zip_path: Path, log_path: Path) -> None:
        self.endpoint = endpoint
        self.zip_path = zip_path
        self.log_path = log_path
        self.runner: Any = None
        self.deployed: tuple[Any, ...] = ()
        self.complaint = ""

    def run(self, stopping: threading.Event) -> None:
        try:
            while not stopping.is_set():
                self.tick()
                stopping.wait(POLL_S)
        finally:
            self._stop_runner()

    def tick(self) -> None:
        from stepqueue.local.runner import RunnerError, discover

        try:
            settings = tuple(discover(self.endpoint))
            if self.runner is not None:
                self.runner.check()
        except RunnerError as error:
            self._complain(f"workers stopped: {error}; restarting them")
            self._stop_runner()
            return
        except Exception as error:  # mid-apply: a mapping whose queue or function is not there yet
            self._complain(f"cannot read the deployment yet ({type(error).__name__}: {error})")
            return
        if settings == self.deployed and self.runner is not None:
            return
        self._stop_runner()
        if settings:
            self._start_runner(settings)

    def _start_runner(self, settings: tuple[Any, ...]) -> None:
        from stepqueue.local.runner import Runner, RunnerError

        try:
            runner = Runner(self.endpoint, self.zip_path, log_path=self.log_path)
            runner.start()
        except RunnerError as error:
            self._complain(f"cannot run the deployed workers: {error}")
            return
        self.runner, self.deployed = runner, settings
        names = ", ".join(s.function_name for s in settings)
        self.complaint = ""
        _say(f"workers: {len(settings)} event source mapping(s) ({names})")

    def _stop_runner(self) -> None:
        runner, self.runner, self.deployed = self.runner, None, ()
        if runner is not None:
            runner.stop()

    def _complain(self, message: str) -> None:
        if message != self.complaint:  # once, not every POLL_S
            self.complaint = message
            _say(message)
