"""One local "Lambda container": run by stepqueue.local.runner as a long-lived subprocess.

    python -I container.py TASK_ROOT      (env: _HANDLER, the function's variables, ...)

Standard library only, and run with -I: nothing of this repository is importable, only the
extracted zip (TASK_ROOT, first on sys.path, as /var/task in Lambda) and the interpreter's
site-packages (boto3, which the Lambda runtime provides too). So the artifact is what runs.

Protocol, JSON lines: the container writes {"ready": true, "handler_file": ...} once the handler
module is imported (the init phase), then for each request line {"event": ..., "request_id": ...,
"deadline_ms": ...} writes {"result": ...} or {"error": {"errorType", "errorMessage"}}. The
protocol uses a private copy of stdout; the handler's own stdout (Powertools logs) goes to
stderr, which the runner sends to a log file.

Opt-in, for testkit/scale_proof.py: STEPQUEUE_LOCAL_LATENCY_MS (JSON, {operation: ms, "between":
ms}) makes every AWS call the handler makes wait its operation's latency first, and every
invocation wait "between" first (Lambda's poller between two batches of a group), so a model of
AWS at those latencies can be checked here; STEPQUEUE_LOCAL_CALL_LOG (a directory) receives one
JSON line per call and per invocation, with their times.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

Log = Callable[[dict[str, Any]], None]


class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get(
            "STEPQUEUE_FUNCTION_ARN", f"arn:aws:lambda:{region}:123456789012:function:{name}"
        )
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _call_log() -> Log:
    """Lines of the opt-in call log (one file per container), or nothing."""
    directory = os.environ.get("STEPQUEUE_LOCAL_CALL_LOG")
    if not directory:
        return lambda _: None
    import threading  # the grants' calls are made from a pool

    out = open(os.path.join(directory, f"calls-{os.getpid()}.jsonl"), "a", buffering=1)  # noqa: SIM115
    lock = threading.Lock()

    def write(line: dict[str, Any]) -> None:
        with lock:
            out.write(json.dumps(line) + "\n")

    return write


def _inject_latency(log: Log) -> float:
    """Every botocore call waits its operation's configured latency; returns the seconds an
    invocation waits first. Nothing when the variable is unset."""
    latency_ms: dict[str, float] = json.loads(os.environ.get("STEPQUEUE_LOCAL_LATENCY_MS") or "{}")
    if not latency_ms:
        return 0.0
    from botocore.client import BaseClient  # provided by the Lambda runtime, as boto3

    original = BaseClient._make_api_call

    def slowed(self: Any, operation_name: str, api_params: Any) -> Any:
        started = time.time()
        time.sleep(latency_ms.get(operation_name, 0.0) / 1000)
        try:
            return original(self, operation_name, api_params)
        finally:
            log({"op": operation_name, "start": started, "end": time.time()})

    BaseClient._make_api_call = slowed
    return float(latency_ms.get("between", 0.0)) / 1000


def _groups(event: Any) -> list[str]:
    records = event.get("Records") if isinstance(event, dict) else None
    found = {
        str((r.get("attributes") or {}).get("MessageGroupId"))
        for r in records or []
        if isinstance(r, dict)
    }
    return sorted(found)


def main() -> int:
    task_root = sys.argv[1]
    sys.path.insert(0, task_root)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # everything printed from now on (logs) goes to stderr
    sys.stdout = sys.stderr

    def send(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    log = _call_log()
    try:
        between_s = _inject_latency(log)
        module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
        module = importlib.import_module(module_name)
        handler = getattr(module, function_name)
    except Exception as exc:  # the init error Lambda would report
        send({"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    send({"ready": True, "handler_file": getattr(module, "__file__", None)})

    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(request["request_id"], int(request["deadline_ms"]))
        reply: dict[str, Any]
        if between_s:
            time.sleep(between_s)
        started = time.time()
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()
            reply = {"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}}
        else:
            try:
                json.dumps(result)
                reply = {"result": result}
            except (TypeError, ValueError) as exc:  # what Lambda reports for such a result
                reply = {"error": {"errorType": "Runtime.MarshalError", "errorMessage": str(exc)}}
        log({"invocation": _groups(request["event"]), "start": started, "end": time.time()})
        send(reply)
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
