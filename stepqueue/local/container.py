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
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


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


def main() -> int:
    task_root = sys.argv[1]
    sys.path.insert(0, task_root)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # everything printed from now on (logs) goes to stderr
    sys.stdout = sys.stderr

    def send(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
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
        send(reply)
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
