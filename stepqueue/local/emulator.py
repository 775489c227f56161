"""The local AWS emulator: moto's server with the shims of docs/design.md §8.

`with Emulator() as emu:` runs the server in a child process (`python -m stepqueue.local.emulator`)
rather than in a thread of the caller, because:
- Step Functions' interpreter calls back into the server at `localhost:$MOTO_PORT`; MOTO_PORT is
  process-global, so an in-process server would pin one emulator per process and leak the
  variable into the caller;
- the server, the interpreter and its threads get their own GIL instead of competing with the
  test or benchmark that drives them;
- stopping is a signal, and the shims patch moto in the child only.

The child binds port 0 (no race for a "free" port), enables execution, then writes the port to
the port file: the file appearing means "ready".

`Emulator(enforce_iam=True)` makes moto authorise every request (docs/local-emulator.md, "IAM"):
the test key (`ACCESS_KEY`, what `env()`, `client()`, `make_client` and Terraform sign with)
then belongs to the emulator's own IAM user, allowed everything, and any other key must be an
IAM user's or an STS session's: the local runner calls each function with its role's session
(`assume_role`), so a permission the role lacks is refused as on AWS.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
ACCOUNT_ID = "123456789012"  # moto's default account for any access key it does not know
STEPFUNCTIONS_CONFIG = b'{"stepfunctions": {"execute_state_machine": true}}'
START_TIMEOUT_S = 60.0
# The server's exit status when it refuses to start because the installed moto does not fit the
# shims: its log then holds only the explanation, which the parent passes on as is.
EXIT_SHIMS_DO_NOT_FIT = 3


class EmulatorError(RuntimeError):
    """The emulator could not be started or reached."""


def aws_env(endpoint: str) -> dict[str, str]:
    """Environment for a process (worker, terraform, CLI) that must talk to the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # A corporate proxy must never see loopback traffic.
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def is_reachable(endpoint: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/config", timeout=timeout) as reply:
            # moto 5.2.5 answers this GET with 201, not 200: any success means it is up.
            return bool(200 <= reply.status < 300)
    except (OSError, urllib.error.URLError):
        return False


class Emulator:
    """A moto server in a child process; `endpoint`, `client()`, `env()` to use it."""

    def __init__(
        self,
        *,
        atomic_dynamodb: bool = True,
        shims: bool = True,
        enforce_iam: bool = False,
        log_path: Path | None = None,
    ) -> None:
        # shims=False serves plain moto: only for the tests that show each gap still exists.
        if enforce_iam and not shims:
            raise EmulatorError("enforce_iam needs the shims (moto's IAM gaps are shimmed)")
        self.atomic_dynamodb = atomic_dynamodb
        self.shims = shims
        self.enforce_iam = enforce_iam
        self._log_path = log_path
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        if not self.port:
            raise EmulatorError("the emulator is not running")
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return aws_env(self.endpoint)

    def client(self, service: str, **config: Any) -> Any:
        """A boto3 client bound to the emulator (credentials testing/testing, us-east-1)."""
        return make_client(self.endpoint, service, **config)

    def start(self) -> Emulator:
        self._tmp = tempfile.TemporaryDirectory(prefix="stepqueue-emulator-")
        port_file = Path(self._tmp.name) / "port"
        log_path = self._log_path or Path(self._tmp.name) / "server.log"
        cmd = [
            sys.executable,
            *("-m", "stepqueue.local.emulator", "--port-file", str(port_file), "--watch-parent"),
        ]
        if not self.atomic_dynamodb:
            cmd.append("--no-atomic-dynamodb")
        if not self.shims:
            cmd.append("--no-shims")
        if self.enforce_iam:
            cmd.append("--enforce-iam")
        env = {**os.environ, **aws_env("http://127.0.0.1:0")}
        env.pop("AWS_ENDPOINT_URL")  # the server talks to itself through MOTO_PORT, set inside
        with open(log_path, "wb") as log:
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        if self._wait_for_port(self._proc, port_file):
            return self
        error = _start_failure(self._proc.returncode, log_path)
        self.stop()
        raise error

    def _wait_for_port(self, proc: subprocess.Popen[bytes], port_file: Path) -> bool:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if port_file.exists():
                self.port = int(port_file.read_text().strip())
                return True
            if proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.port = 0
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.stop()


def _start_failure(returncode: int | None, log_path: Path) -> EmulatorError:
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    if returncode == EXIT_SHIMS_DO_NOT_FIT:
        # The server's whole explanation (every shim that does not fit), and nothing else.
        return EmulatorError(f"the emulator did not start:\n{log[-20000:].strip()}")
    return EmulatorError(f"the emulator did not start; its log ends with:\n{log[-3000:]}")


def make_client(endpoint: str, service: str, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    settings: dict[str, Any] = {"max_pool_connections": 64, "retries": {"mode": "standard"}}
    settings.update(config)
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(**settings),
    )


def iam_enforced(endpoint: str) -> bool:
    """Whether the emulator at `endpoint` authorises requests: it then refuses a key nobody
    holds (GetCallerIdentity itself is allowed to every known key)."""
    import boto3
    from botocore.exceptions import ClientError

    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="stepqueue-probe-unknown-key",
        aws_secret_access_key="unknown",
    )
    try:
        sts.get_caller_identity()
    except ClientError:
        return True
    return False


def assume_role(endpoint: str, role_arn: str, session_name: str, seconds: int) -> dict[str, Any]:
    """sts:AssumeRole on the emulator, as the emulator's identity (which stands in for the AWS
    service a role trusts): the Credentials (AccessKeyId, SecretAccessKey, SessionToken,
    Expiration)."""
    name = re.sub(r"[^\w+=,.@-]", "-", session_name)[:64].ljust(2, "-")
    reply = make_client(endpoint, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName=name, DurationSeconds=seconds
    )
    credentials: dict[str, Any] = reply["Credentials"]
    return credentials


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        reply.read()


NON_ATOMIC_SWITCH_INTERVAL_S = 1e-5


def serve(
    port_file: Path | None,
    *,
    atomic_dynamodb: bool,
    shims: bool = True,
    enforce_iam: bool = False,
    port: int = 0,
    watch_parent: bool = False,
    log_file: Path | None = None,
) -> None:
    """Run the server in this process until SIGINT/SIGTERM (the child side of `Emulator`).

    Raises ShimError before serving when the shims do not fit the installed moto. Plain moto
    (shims=False) starts on any release: it is what the test_gap_* tests re-check a new moto
    release with, shim by shim."""
    from moto.server import ThreadedMotoServer

    from stepqueue.local.shims import apply_shims

    if log_file is not None:
        _log_to(log_file)
    # One line per request would drown the terminal and fill the log; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    active = apply_shims(atomic_dynamodb=atomic_dynamodb, enforce_iam=enforce_iam) if shims else []
    if not atomic_dynamodb:
        # Without the atomicity shim, two requests' writes interleave only when the server
        # switches threads inside one of them; at Python's default 5 ms a transaction of a few
        # items rarely spans a switch, so the races the stress tests must be able to see were
        # seen in some runs and not others. Switching often makes them routine.
        sys.setswitchinterval(NON_ATOMIC_SWITCH_INTERVAL_S)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    actual_port = server.get_host_and_port()[1]
    # Read by the Step Functions interpreter at every task call: it must be the real port.
    os.environ["MOTO_PORT"] = str(actual_port)
    endpoint = f"http://127.0.0.1:{actual_port}"
    _post(f"{endpoint}/moto-api/config", STEPFUNCTIONS_CONFIG)

    stop = threading.Event()

    def on_signal(signum: int, frame: types.FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if port_file is not None:
        port_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(f"{actual_port}\n")
        tmp.replace(port_file)  # atomic: a reader never sees a half-written port
    from stepqueue import console

    console.current().result({"endpoint": endpoint, "port": actual_port, "log": str(log_file)})
    logged = f"; its log: {log_file}" if log_file is not None else ""
    print(
        f"emulator ready at {endpoint} (shims: {', '.join(active) or 'none'}){logged}; "
        "Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    parent = os.getppid()
    try:
        # Also stop when the parent dies without stopping us (SIGKILL, a timeout): an orphaned
        # emulator would hold its port and memory forever.
        while not stop.wait(0.5) and (watch_parent is False or os.getppid() == parent):
            pass
    finally:
        if port_file is not None:
            with contextlib.suppress(FileNotFoundError):
                port_file.unlink()
        print("emulator stopped", file=sys.stderr, flush=True)
        # No graceful server shutdown: moto keeps everything in memory, and joining its request
        # threads (SQS long polls, Step Functions interpreters) can take arbitrarily long.
        os._exit(0)


def _log_to(log_file: Path) -> None:
    """Every logger of this process (moto's Step Functions interpreter writes whole ASTs at
    ERROR on a Catch path, werkzeug its request errors) into `log_file`: the terminal gets
    the ready line and nothing of the emulator's internals."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=str(log_file),
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )


def main(argv: list[str] | None = None, prog: str = "python -m stepqueue.local.emulator") -> int:
    from stepqueue import console

    parser = console.Parser(
        prog=prog,
        description="Run moto's server with stepqueue's shims in the foreground. --json: "
        "stdout is one JSON document once it is ready (endpoint, port, log).",
    )
    parser.add_argument("--port-file", type=Path, help="write the port here once ready")
    parser.add_argument("--port", type=int, default=0, help="default: a free loopback port")
    parser.add_argument(
        "--no-atomic-dynamodb",
        dest="atomic_dynamodb",
        action="store_false",
        help="do not serialise DynamoDB item operations (shows moto's race)",
    )
    parser.add_argument("--no-shims", dest="shims", action="store_false", help=argparse.SUPPRESS)
    parser.add_argument(
        "--enforce-iam",
        action="store_true",
        help="authorise every request (the test key is allowed everything; see "
        "docs/local-emulator.md)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        metavar="FILE",
        help="where the emulator's own logs go (default: stderr)",
    )
    parser.add_argument("--watch-parent", action="store_true", help=argparse.SUPPRESS)
    console.add_flags(parser, top=True)
    return console.run(lambda: _main(parser, argv))


def _main(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    from stepqueue import console
    from stepqueue.local.shims import ShimError

    args = parser.parse_args(argv)
    console.configure(args, prog=parser.prog)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: 0 (any free port) to 65535")
    try:
        serve(
            args.port_file,
            atomic_dynamodb=args.atomic_dynamodb,
            shims=args.shims,
            enforce_iam=args.enforce_iam,
            port=args.port,
            watch_parent=args.watch_parent,
            log_file=args.log_file,
        )
    except ShimError as error:
        if args.watch_parent:  # the child of Emulator: its parent passes the log on as is
            print(f"{parser.prog}: cannot start: {error}", file=sys.stderr, flush=True)
            return EXIT_SHIMS_DO_NOT_FIT
        # A refusal the message explains in full: a traceback would only bury it.
        raise console.CommandError(f"cannot start: {error}", kind="emulator") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
