"""`permissions:` of a worker: Allow statements and managed policies for that worker's role only.

Checked as IAM would read them, so a typo is a located error rather than a policy that grants
nothing (or everything): `service:Action` actions (wildcards inside allowed, `*` alone refused),
ARN resources (`*` is a warning naming the statement), IAM condition operators.
"""

from __future__ import annotations

import re

from generator import references
from generator.loader import Node
from generator.model import Statement
from generator.report import Reporter, join

_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_SID = re.compile(r"^[A-Za-z0-9]+$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}|aws|\*)?:.+$")
_MANAGED_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[A-Za-z0-9+=,.@_/-]+$")
_OPERATOR = re.compile(
    r"^(ForAllValues:|ForAnyValue:)?("
    r"StringEquals|StringNotEquals|StringEqualsIgnoreCase|StringNotEqualsIgnoreCase|"
    r"StringLike|StringNotLike|NumericEquals|NumericNotEquals|NumericLessThan|"
    r"NumericLessThanEquals|NumericGreaterThan|NumericGreaterThanEquals|DateEquals|"
    r"DateNotEquals|DateLessThan|DateLessThanEquals|DateGreaterThan|DateGreaterThanEquals|"
    r"Bool|BinaryEquals|IpAddress|NotIpAddress|ArnEquals|ArnLike|ArnNotEquals|ArnNotLike|Null"
    r")(IfExists)?$"
)
_CONDITION_KEY = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9_/.:-]+$")
STATEMENT_KEYS = ("actions", "conditions", "resources", "sid")
CONDITION_KEYS = ("test", "values", "variable")
# An IAM role takes at most 20 managed policies (10 unless the quota was raised).
MANAGED_POLICIES_MAX = 20


def permissions(
    r: Reporter, node: Node, path: str
) -> tuple[tuple[Statement, ...], tuple[str, ...]]:
    if not r.is_map(node, path, "permissions"):
        return (), ()
    r.keys(node, path, ("managed_policy_arns", "statements"), what="permissions")
    statements: list[Statement] = []
    if (v := node.get("statements")) is not None and r.is_seq(
        v, join(path, "statements"), "statements"
    ):
        sids: set[str] = set()
        for i, item in enumerate(v.items):
            statement = _statement(r, item, join(join(path, "statements"), i), sids)
            if statement is not None:
                statements.append(statement)
    managed: list[str] = []
    if (v := node.get("managed_policy_arns")) is not None:
        managed = _managed(r, v, join(path, "managed_policy_arns"))
    return tuple(statements), tuple(managed)


def _statement(r: Reporter, node: Node, path: str, sids: set[str]) -> Statement | None:
    if not r.is_map(node, path, "a statement"):
        return None
    r.keys(node, path, STATEMENT_KEYS, ("sid", "actions", "resources"), what="a statement")
    sid = _sid(r, node, path, sids)
    actions = _list(r, node, path, "actions", lambda n, p: _action(r, n, p))
    resources = _list(r, node, path, "resources", lambda n, p: _resource(r, n, p, sid))
    conditions: list[tuple[str, str, tuple[str, ...]]] = []
    if (v := node.get("conditions")) is not None and r.is_seq(
        v, join(path, "conditions"), "conditions"
    ):
        for i, item in enumerate(v.items):
            condition = _condition(r, item, join(join(path, "conditions"), i))
            if condition is not None:
                conditions.append(condition)
    if sid is None or not actions or not resources:
        return None
    return Statement(sid, tuple(actions), tuple(resources), tuple(conditions))


def _sid(r: Reporter, node: Node, path: str, sids: set[str]) -> str | None:
    if (v := node.get("sid")) is None:
        return None
    sid = r.string(v, join(path, "sid"), "sid")
    if sid is None:
        return None
    if not _SID.match(sid):
        r.error(
            v,
            join(path, "sid"),
            f"sid {sid!r} is not valid",
            "use letters and digits only, e.g. ReadImages",
        )
        return None
    if sid in sids:
        r.error(
            v,
            join(path, "sid"),
            f"sid {sid!r} is used twice in this worker",
            "give each statement its own sid",
        )
        return None
    sids.add(sid)
    return sid


def _list(r: Reporter, node: Node, path: str, key: str, check: object) -> list[str]:
    if (v := node.get(key)) is None or not r.is_seq(v, join(path, key), key):
        return []
    out: list[str] = []
    for i, item in enumerate(v.items):
        text = check(item, join(join(path, key), i))  # type: ignore[operator]
        if text is not None and text not in out:
            out.append(text)
    return out


def _action(r: Reporter, node: Node, path: str) -> str | None:
    action = r.string(node, path, "action")
    if action is None:
        return None
    if action.strip("*?") == "":
        r.error(
            node,
            path,
            f"action {action!r} grants every action of every service",
            "name the actions the handler calls, e.g. s3:GetObject (s3:Get* at the widest)",
        )
        return None
    if not _ACTION.match(action):
        r.error(
            node,
            path,
            f"action {action!r} is not service:Action",
            "write e.g. s3:GetObject or dynamodb:Query (wildcards inside are allowed: s3:Get*)",
        )
        return None
    return action


def _resource(r: Reporter, node: Node, path: str, sid: str | None) -> str | None:
    text = r.string(node, path, "resource")
    if text is None:
        return None
    if text == "*":
        r.warning(
            node,
            path,
            f"statement {sid or '(no sid)'} grants its actions on every resource ('*')",
            "name the resources, e.g. ${payload_bucket_arn}/* or an ARN, unless the action "
            "takes no resource",
        )
        return text
    if bad := references.unknown(text, policy_variables=True):
        r.error(
            node,
            path,
            f"resource {text!r} refers to ${{{bad[0]}}}, which the deployment does not define",
            references.fix_text() + ", or an IAM policy variable such as ${aws:username}",
        )
        return None
    if not _ARN.match(references.sample(text)):
        r.error(
            node,
            path,
            f"resource {text!r} is not an ARN",
            "write arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, e.g. "
            "arn:${partition}:s3:::my-bucket/* or ${payload_bucket_arn}/*",
        )
        return None
    return references.for_root(text)


def _condition(r: Reporter, node: Node, path: str) -> tuple[str, str, tuple[str, ...]] | None:
    if not r.is_map(node, path, "a condition"):
        return None
    r.keys(node, path, CONDITION_KEYS, CONDITION_KEYS, what="a condition")
    test = _matching(
        r,
        node,
        path,
        "test",
        _OPERATOR,
        "an IAM condition operator",
        "use e.g. StringEquals, StringLike, ArnLike, Bool, IpAddress",
    )
    variable = _matching(
        r,
        node,
        path,
        "variable",
        _CONDITION_KEY,
        "a condition key",
        "write e.g. aws:SourceVpc or s3:prefix",
    )
    values = _condition_values(r, node, path)
    if test is None or variable is None or values is None:
        return None
    return test, variable, values


def _matching(
    r: Reporter, node: Node, path: str, key: str, pattern: re.Pattern[str], what: str, fix: str
) -> str | None:
    if (v := node.get(key)) is None or (text := r.string(v, join(path, key), key)) is None:
        return None
    if not pattern.match(text):
        r.error(v, join(path, key), f"{text!r} is not {what}", fix)
        return None
    return text


def _condition_values(r: Reporter, node: Node, path: str) -> tuple[str, ...] | None:
    if (v := node.get("values")) is None or not r.is_seq(v, join(path, "values"), "values"):
        return None
    out: list[str] = []
    for i, item in enumerate(v.items):
        value = item.scalar
        if item.kind != "scalar" or value is None or isinstance(value, float):
            r.error(
                item,
                join(join(path, "values"), i),
                f"a condition value must be text, got {item.type_name()}",
                "quote it",
            )
            return None
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if bad := references.unknown(text, policy_variables=True):
            r.error(
                item,
                join(join(path, "values"), i),
                f"condition value {text!r} refers to ${{{bad[0]}}}, which is not an IAM policy "
                "variable",
                "write the value itself, or a policy variable such as ${aws:username}",
            )
            return None
        if any(n in references.REFERENCES for n in references.names(text)):
            r.error(
                item,
                join(join(path, "values"), i),
                f"condition value {text!r} uses a deployment reference: they are filled in "
                "resources and environment values only",
                "write the value itself, or move the reference into resources",
            )
            return None
        out.append(text)  # IAM reads it as written: policy variables stay literal
    return tuple(out)


def _managed(r: Reporter, node: Node, path: str) -> list[str]:
    if not r.is_seq(node, path, "managed_policy_arns"):
        return []
    out: list[str] = []
    for i, item in enumerate(node.items):
        arn = r.string(item, join(path, i), "managed policy ARN")
        if arn is None:
            continue
        if not _MANAGED_POLICY.match(arn):
            r.error(
                item,
                join(path, i),
                f"{arn!r} is not a managed policy ARN",
                "write arn:aws:iam::ACCOUNT:policy/NAME (or arn:aws:iam::aws:policy/NAME)",
            )
        elif arn not in out:
            out.append(arn)
    if len(out) > MANAGED_POLICIES_MAX:
        r.error(
            node,
            path,
            f"{len(out)} managed policies; an IAM role takes at most {MANAGED_POLICIES_MAX}",
            "merge some into statements",
        )
    return out
