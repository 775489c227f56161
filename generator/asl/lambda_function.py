"""The Lambda function a Task calls: the Resource ARN of a direct call, or the FunctionName of
the `lambda:invoke` integration.

A reference is a name, `name:qualifier`, a partial ARN (`123456789012:function:name`) or a
full ARN (`arn:aws:lambda:us-east-1:123456789012:function:name`), the last two with an optional
`:qualifier`. The qualifier, when there is a `:` for it, is `$LATEST`, a version number or an
alias (letters, digits, '-' and '_', at most 128): Lambda's pattern for FunctionName, which
Step Functions applies when it creates the state machine. Only the name and qualifier are
checked here; partition, Region and account are left to AWS.
"""

from __future__ import annotations

import re

from generator.asl.jsonata import is_expression
from generator.asl.language import Language
from generator.loader import Node
from generator.report import Reporter, join

# The Resource of the lambda:invoke integration, with or without the callback pattern.
INVOKE = re.compile(r"^arn:[^:]+:states:::lambda:invoke(\.waitForTaskToken)?$")
_QUALIFIER = re.compile(r"^(\$LATEST|[A-Za-z0-9_-]{1,128})$")
_FIX = "end it with the function's name, or with name:alias (...:live) or name:version (...:3)"


def problem(reference: str) -> str | None:
    """What is wrong with the name or qualifier of a function reference; None when both are
    fine or the text is no Lambda reference at all (another service's ARN)."""
    parts = reference.split(":")
    if parts[0] == "arn":
        if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
            return None
        name, rest = parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        name, rest = parts[2], parts[3:]
    else:
        name, rest = parts[0], parts[1:]
    if not name:
        return "the function name is empty"
    if not rest:
        return None
    qualifier = ":".join(rest)
    if not qualifier:
        return f"the qualifier after {name + ':'!r} is empty"
    if not _QUALIFIER.match(qualifier):
        return (
            f"{qualifier!r} is not a Lambda version or alias ($LATEST, a version number, or an "
            "alias of letters, digits, '-' and '_')"
        )
    return None


def check_resource(r: Reporter, node: Node, path: str, arn: str) -> None:
    """A Resource that calls a Lambda function directly."""
    if arn.split(":")[2:3] == ["lambda"] and (why := problem(arn)) is not None:
        r.error(node, path, f"Resource is not a valid Lambda function ARN: {why}", _FIX)


def check_invoke(r: Reporter, state: Node, path: str, lang: Language) -> None:
    """The FunctionName of a lambda:invoke Task: required, and a valid reference when it is
    written out (a path or an expression is read at run time)."""
    field, other = ("Arguments", "Parameters") if lang.jsonata else ("Parameters", "Arguments")
    payload = state.get(field)
    if payload is None and other in state.mapping:
        return  # the other language's field, reported as such
    if payload is not None and not payload.is_map:
        return  # one JSONata expression, or a shape reported elsewhere
    keys = payload.mapping if payload is not None else {}
    if "FunctionName" not in keys and "FunctionName.$" not in keys:
        where = payload if payload is not None else state
        r.error(
            where,
            join(path, field),
            "the lambda:invoke integration needs FunctionName",
            f"add {field}: {{FunctionName: <name or ARN>, Payload: ...}}",
        )
        return
    name = keys.get("FunctionName")
    if name is None or not isinstance(name.scalar, str) or is_expression(name.scalar):
        return
    if (why := problem(name.scalar)) is not None:
        r.error(
            name,
            join(join(path, field), "FunctionName"),
            f"FunctionName {name.scalar!r} is not a valid Lambda function: {why}",
            _FIX,
        )
