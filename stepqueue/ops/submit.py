"""`stepqueue submit`: what goes into the start queue, read from files, bounded and named.

Every message is ``{"input": VALUE, "name": NAME, "workflow": WORKFLOW}`` (docs/contracts.md,
"The start queue"). The execution's name is what makes a submission idempotent: given with
``--name``, or derived from the workflow, the input's canonical JSON and an optional ``--key``,
so the same submission made twice, or a message delivered twice, never starts two executions.
Nothing is sent until every input has been read and checked.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

# The starter's bound (lambda_src/stepqueue_starter/messages.py, tested equal): SQS takes
# 256 KiB per message, and the starter keeps room to move a message to its DLQ with the reason.
BODY_MAX_BYTES = 240 * 1024
BATCH_MAX_ENTRIES = 10  # SendMessageBatch: 10 messages ...
BATCH_MAX_BYTES = 262_144  # ... and 256 KiB in all
MAX_EACH = 100_000  # messages of one --each run: a burst, not a data pipeline
MAX_DEPTH = 200  # as the starter: deeper JSON is refused before it is parsed
KEY_MAX = 256
SEND_ATTEMPTS = 5  # per batch, for entries SQS failed on its side
WORKFLOW = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9!'()+.=@_-]{1,80}$")  # as the starter's


class SubmitInputError(ValueError):
    """Bad input: one line naming the file (and line) and the fix; exit status 2."""


class SendError(RuntimeError):
    """SQS refused or kept failing a batch; what was sent before is printed already."""


@dataclass(frozen=True)
class Submission:
    workflow: str
    name: str
    input: str  # canonical JSON
    source: str  # where it was read: FILE, FILE:LINE or "default input"

    def body(self) -> str:
        # The input is canonical JSON already: embedded as is, with the keys in sorted order.
        return (
            f'{{"input":{self.input},"name":{json.dumps(self.name)},'
            f'"workflow":{json.dumps(self.workflow)}}}'
        )


def canonical_json(value: Any) -> str:
    """The starter's serialisation (stepqueue_starter.messages.canonical_json)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def execution_name(workflow: str, input_json: str, key: str = "") -> str:
    """The same workflow, input and key always give the same 64-character name."""
    digest = hashlib.sha256()
    for part in (workflow, key, input_json):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


def check_workflow(workflow: str) -> None:
    if not WORKFLOW.match(workflow):
        raise SubmitInputError(
            f"workflow {workflow!r} is not a workflow name: give the `name:` of a spec "
            "([a-z][a-z0-9-]{0,29})"
        )


def check_name(name: str) -> None:
    if not EXECUTION_NAME.match(name):
        raise SubmitInputError(
            f"--name {name[:90]!r} is not an execution name: "
            "give 1-80 of A-Z a-z 0-9 ! ' ( ) + . = @ _ -"
        )


def check_key(key: str) -> None:
    if len(key) > KEY_MAX:
        raise SubmitInputError(f"--key is {len(key)} characters: at most {KEY_MAX}")


def parse_value(text: str, where: str) -> str:
    """One JSON value as canonical JSON; a located error otherwise."""
    if _nesting(text) > MAX_DEPTH:
        raise SubmitInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise SubmitInputError(f"{where}: not JSON ({exc}): give one JSON value") from None
    except RecursionError:
        raise SubmitInputError(f"{where}: JSON nested too deep") from None
    text = canonical_json(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SubmitInputError(
            f"{where}: a string holds a lone surrogate (\\ud800-\\udfff): not valid Unicode"
        ) from None
    return text


def submission(
    workflow: str, input_json: str, where: str, name: str | None, key: str
) -> Submission:
    made = Submission(
        workflow=workflow,
        name=name if name is not None else execution_name(workflow, input_json, key),
        input=input_json,
        source=where,
    )
    size = len(made.body().encode("utf-8"))
    if size > BODY_MAX_BYTES:
        raise SubmitInputError(
            f"{where}: the message would be {size:,} bytes, over the start queue's "
            f"{BODY_MAX_BYTES:,}: keep large data in S3 and pass a reference in the input"
        )
    return made


def read_input(path: str | None, stdin: BinaryIO | None = None) -> tuple[str, str]:
    """(canonical JSON, where) of `--input FILE|-`; ``{}`` without one."""
    if path is None:
        return "{}", "default input {}"
    where = "stdin" if path == "-" else path
    with _open(path, stdin) as stream:
        data = stream.read(BODY_MAX_BYTES + 1)
    if len(data) > BODY_MAX_BYTES:
        raise SubmitInputError(
            f"{where}: over {BODY_MAX_BYTES:,} bytes: keep large data in S3 and pass a reference"
        )
    return parse_value(_decode(data, where), where), where


def read_each(path: str, stdin: BinaryIO | None = None) -> Iterator[tuple[str, str]]:
    """(canonical JSON, FILE:LINE) of each non-blank line of `--each FILE|-`."""
    where = "stdin" if path == "-" else path
    count = 0
    with _open(path, stdin) as stream:
        for number in range(1, sys.maxsize):
            line = stream.readline(BODY_MAX_BYTES + 2)
            if not line:
                return
            at = f"{where}:{number}"
            if len(line.rstrip(b"\r\n")) > BODY_MAX_BYTES:
                raise SubmitInputError(
                    f"{at}: line over {BODY_MAX_BYTES:,} bytes: keep large data in S3 and pass "
                    "a reference"
                )
            text = _decode(line, at).strip()
            if not text:
                continue
            count += 1
            if count > MAX_EACH:
                raise SubmitInputError(
                    f"{at}: more than {MAX_EACH:,} inputs: split the file into several runs"
                )
            yield parse_value(text, at), at
    return


def batches(submissions: list[Submission]) -> Iterator[list[Submission]]:
    """SendMessageBatch-sized groups: at most 10 messages and 256 KiB each."""
    batch: list[Submission] = []
    size = 0
    for item in submissions:
        item_size = len(item.body().encode("utf-8"))
        if batch and (len(batch) == BATCH_MAX_ENTRIES or size + item_size > BATCH_MAX_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def send(
    sqs: Any,
    queue_url: str,
    submissions: list[Submission],
    on_sent: Callable[[Submission, str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send every submission; `on_sent(submission, message_id)` as each is accepted. Entries
    SQS failed on its side are sent again (a duplicate is harmless: names are idempotent)."""
    for batch in batches(submissions):
        pending = dict(enumerate(batch))
        for attempt in range(SEND_ATTEMPTS):
            reply = sqs.send_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "MessageBody": s.body()} for i, s in pending.items()],
            )
            for ok in reply.get("Successful") or []:
                item = pending.pop(int(ok["Id"]))
                on_sent(item, str(ok.get("MessageId", "")))
            failed = reply.get("Failed") or []
            refused = [f for f in failed if f.get("SenderFault")]
            if refused:
                first = refused[0]
                item = pending[int(first["Id"])]
                raise SendError(
                    f"{item.source}: SQS refused the message: {first.get('Code')}: "
                    f"{first.get('Message', '')}"
                )
            if not pending:
                break
            sleep(min(2.0, 0.1 * 2**attempt))
        else:
            raise SendError(
                f"SQS kept failing {len(pending)} message(s) after {SEND_ATTEMPTS} attempts, "
                f"from {pending[min(pending)].source}: submit again (names are idempotent)"
            )


def _open(path: str, stdin: BinaryIO | None) -> Any:
    if path == "-":
        import contextlib

        return contextlib.nullcontext(stdin if stdin is not None else sys.stdin.buffer)
    file = Path(path)
    try:
        return file.open("rb")
    except FileNotFoundError:
        raise SubmitInputError(
            f"{path}: no such file: give an existing file or - for stdin"
        ) from None
    except IsADirectoryError:
        raise SubmitInputError(f"{path}: is a directory: give a file of JSON") from None
    except OSError as exc:
        raise SubmitInputError(f"{path}: cannot be read ({exc.strerror})") from None


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError as exc:
        raise SubmitInputError(
            f"{where}: not UTF-8 (byte {exc.start}): save the file as UTF-8"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Step Functions refuses it)")


def _nesting(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
