"""The start queue's message body (docs/contracts.md, "The start queue"), parsed and bounded
before anything acts on it.

``{"workflow": NAME, "name": EXECUTION_NAME, "input": <any JSON value>}``; ``input`` may be left
out (the execution then starts with ``{}``). The execution's input is the value's canonical JSON
(sorted keys, no spaces), so the same value always gives the same input text: Step Functions
answers a repeated StartExecution with identical name and input with the running execution
itself rather than an error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# SQS takes 256 KiB per message, body and attributes together. A body is kept to 240 KiB so
# that the starter can always move it to the DLQ with its reason attached (about 1.5 KB).
BODY_MAX_BYTES = 240 * 1024
# Step Functions' own limit on an execution's input: 262,144 bytes of UTF-8.
INPUT_MAX_BYTES = 262_144
# JSON nesting beyond this is refused before json.loads can exhaust the stack.
MAX_DEPTH = 200
FIELDS = frozenset({"workflow", "name", "input"})

WORKFLOW = re.compile(r"^[a-z][a-z0-9-]{0,29}$")  # a spec's `name:` (generator/README.md)
# Execution names: 1-80 characters, none of AWS's forbidden ones (whitespace, ? * < > { } [ ]
# " # % \ ^ | ~ ` $ & , ; : / and control characters). ASCII only: CloudWatch cannot track
# metrics of names with other characters.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9!'()+.=@_-]{1,80}$")


class BodyError(ValueError):
    """A body that can never start an execution: it goes to the DLQ with this reason."""

    code = "Stepqueue.MalformedBody"


@dataclass(frozen=True, slots=True)
class StartRequest:
    workflow: str
    name: str
    input: str  # canonical JSON text, at most INPUT_MAX_BYTES


def canonical_json(value: Any) -> str:
    """The one serialisation of an input: what `stepqueue submit` hashes and what starts."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse(body: str) -> StartRequest:
    size = len(body.encode("utf-8", errors="surrogatepass"))
    if size > BODY_MAX_BYTES:
        raise BodyError(f"body is {size} bytes, over {BODY_MAX_BYTES}")
    if _nesting(body) > MAX_DEPTH:
        raise BodyError(f"body nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except ValueError as exc:
        raise BodyError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError("body is not a JSON object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise BodyError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    workflow, name = data.get("workflow"), data.get("name")
    if not isinstance(workflow, str) or not WORKFLOW.match(workflow):
        raise BodyError(f"workflow {str(workflow)[:40]!r} is not a workflow name")
    if not isinstance(name, str) or not EXECUTION_NAME.match(name):
        raise BodyError(
            f"name {str(name)[:90]!r} is not an execution name "
            "(1-80 of A-Z a-z 0-9 ! ' ( ) + . = @ _ -)"
        )
    text = canonical_json(data.get("input", {}))
    if len(text.encode("utf-8", errors="surrogatepass")) > INPUT_MAX_BYTES:
        raise BodyError(f"input is over Step Functions' {INPUT_MAX_BYTES} bytes")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError("input holds a lone surrogate: not valid Unicode") from None
    return StartRequest(workflow=workflow, name=name, input=text)


def _no_constant(name: str) -> Any:
    # Python reads NaN and Infinity; JSON, and so Step Functions, does not.
    raise ValueError(f"{name} is not JSON")


def _nesting(text: str) -> int:
    """How deep brackets nest, outside strings: a cheap bound before the recursive parser."""
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
