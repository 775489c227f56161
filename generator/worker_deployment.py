"""A worker's own Lambda settings: architecture, environment, VPC, layers, tags, log retention,
its dependencies (`worker_deps`) and its IAM permissions (`worker_iam`).

Everything is checked here, with the shapes AWS would refuse at apply time, so a mistake is a
located error at `validate`, not a failed apply. Defaults are filled in `model.Deployment`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from generator import references
from generator.loader import Node
from generator.model import Deployment
from generator.report import Reporter, join
from generator.worker_deps import dependencies
from generator.worker_iam import permissions

ARCHITECTURES = ("arm64", "x86_64")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731),
    *(1096, 1827, 2192, 2557, 2922, 3288, 3653),
)
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Set by Lambda itself (AWS refuses them in a function's configuration) or by the runtime.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
        "TZ",
        "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
    }
)
RESERVED_PREFIX = "STEPQUEUE_"
# Lambda's bound on a function's whole environment (names and values); the runtime's own
# variables (handler, queue count, payload store) take some of it.
ENV_MAX_BYTES = 4096
ENV_RUNTIME_SHARE = 1024
_SECRET_ARN = {
    "ssm": re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/[A-Za-z0-9_.\-/]+$"),
    "secret": re.compile(
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
    ),
}
_SECRET_FIX = {
    "ssm": "write the parameter's ARN, arn:aws:ssm:REGION:ACCOUNT:parameter/NAME",
    "secret": "write the secret's ARN, arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf",
}
_LAYER = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
LAYERS_MAX = 5
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8}([0-9a-f]{9})?$")
SUBNETS_MAX, SECURITY_GROUPS_MAX = 16, 5
TAGS_MAX, TAG_KEY_MAX, TAG_VALUE_MAX = 50, 128, 256


def deployment(r: Reporter, worker: Node, path: str, spec: Path | None) -> Deployment:
    """The worker's own settings; what is wrong is reported and left at its default."""
    found: dict[str, Any] = {}
    if (v := worker.get("architecture")) is not None:
        found["architecture"] = r.choice(
            v, join(path, "architecture"), "architecture", ARCHITECTURES
        )
    if (v := worker.get("log_retention_days")) is not None:
        found["log_retention_days"] = _retention(r, v, join(path, "log_retention_days"))
    if (v := worker.get("environment")) is not None:
        found["environment"], found["secrets"] = _environment(r, v, join(path, "environment"))
    if (v := worker.get("vpc")) is not None:
        found["subnet_ids"], found["security_group_ids"] = _vpc(r, v, join(path, "vpc"))
    if (v := worker.get("layers")) is not None:
        found["layers"] = _layers(r, v, join(path, "layers"))
    if (v := worker.get("tags")) is not None:
        found["tags"] = _tags(r, v, join(path, "tags"))
    if (v := worker.get("permissions")) is not None:
        found["statements"], found["managed_policy_arns"] = permissions(
            r, v, join(path, "permissions")
        )
    found["dependencies"] = dependencies(r, worker, path, spec)
    return Deployment(**{k: v for k, v in found.items() if v is not None})


def _retention(r: Reporter, node: Node, path: str) -> int | None:
    allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
    value = r.integer(node, path, "log_retention_days", 1, LOG_RETENTION_DAYS[-1])
    if value is not None and value not in LOG_RETENTION_DAYS:
        r.error(
            node,
            path,
            f"log_retention_days {value} is not a period CloudWatch Logs keeps logs for",
            f"use one of {allowed}",
        )
        return None
    return value


def _environment(
    r: Reporter, node: Node, path: str
) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """(plain variables, secret references), each sorted by name."""
    plain: dict[str, str] = {}
    secrets: dict[str, str] = {}
    if not r.is_map(node, path, "environment"):
        return (), ()
    for name, value in node.mapping.items():
        where = join(path, name)
        if not _env_name(r, node.key_node(name), where, name):
            continue
        if value.is_map:
            if (arn := _secret(r, value, where, name)) is not None:
                secrets[name] = arn
            continue
        text = _env_value(r, value, where, name)
        if text is not None:
            plain[name] = references.for_root(text)
    _env_size(r, node, path, plain, secrets)
    return tuple(sorted(plain.items())), tuple(sorted(secrets.items()))


def _env_name(r: Reporter, key: Node, path: str, name: str) -> bool:
    if name.startswith(RESERVED_PREFIX) or name in RESERVED_ENV:
        owner = "the stepqueue runtime's" if name.startswith(RESERVED_PREFIX) else "Lambda's"
        r.error(
            key,
            path,
            f"environment variable {name} is reserved: it is {owner} own",
            "choose another name (e.g. without the STEPQUEUE_ / AWS_ prefix)",
        )
        return False
    if not _ENV_NAME.match(name):
        r.error(
            key,
            path,
            f"environment variable name {name!r} is not valid",
            "use a letter, then letters, digits or '_' (e.g. BUCKET_NAME)",
        )
        return False
    return True


def _env_value(r: Reporter, value: Node, path: str, name: str) -> str | None:
    if value.kind != "scalar" or not isinstance(value.scalar, str):
        r.error(
            value,
            path,
            f"environment variable {name} must be a string or {{ssm: ARN}} / {{secret: ARN}}, "
            f"got {value.type_name()}",
            "quote the value (e.g. '8' or 'true'): a variable's value is text",
        )
        return None
    text: str = value.scalar
    for unknown in references.unknown(text, policy_variables=False):
        r.error(
            value,
            path,
            f"environment variable {name} refers to ${{{unknown}}}, which the deployment "
            "does not define",
            references.fix_text() + " (write $ alone for a literal dollar sign)",
        )
        return None
    return text


def _secret(r: Reporter, value: Node, path: str, name: str) -> str | None:
    kinds = [k for k in value.mapping if k in _SECRET_ARN]
    r.keys(value, path, _SECRET_ARN.keys(), what=f"environment variable {name}")
    kind = r.exactly_one(
        value,
        path,
        kinds,
        f"environment variable {name} needs exactly one of ssm: or secret:",
        "write {ssm: arn:aws:ssm:...:parameter/NAME} or {secret: arn:aws:secretsmanager:...}",
    )
    if kind is None:
        return None
    arn = r.string(value.mapping[kind], join(path, kind), kind)
    if arn is None:
        return None
    if not _SECRET_ARN[kind].match(arn):
        r.error(
            value.mapping[kind],
            join(path, kind),
            f"{arn!r} is not the ARN of {'an SSM parameter' if kind == 'ssm' else 'a secret'} "
            "(the runtime reads it at cold start; the value never enters the spec or the state)",
            _SECRET_FIX[kind],
        )
        return None
    return arn


def _env_size(
    r: Reporter, node: Node, path: str, plain: dict[str, str], secrets: dict[str, str]
) -> None:
    size = sum(len(k) + len(references.sample(v)) for k, v in plain.items())
    if secrets:
        size += len("STEPQUEUE_SECRETS") + len(json.dumps(secrets))
    if size > ENV_MAX_BYTES - ENV_RUNTIME_SHARE:
        r.error(
            node,
            path,
            f"the environment takes {size} bytes; Lambda allows {ENV_MAX_BYTES} in all and "
            f"the runtime's own variables need up to {ENV_RUNTIME_SHARE}",
            "move large values to an SSM parameter ({ssm: ARN}) or the payload bucket",
        )


def _strings(
    r: Reporter, node: Node, path: str, what: str, pattern: re.Pattern[str], example: str
) -> tuple[str, ...]:
    if not r.is_seq(node, path, what):
        return ()
    out: list[str] = []
    for i, item in enumerate(node.items):
        text = r.string(item, join(path, i), what)
        if text is None:
            continue
        if not pattern.match(text):
            r.error(item, join(path, i), f"{text!r} is not valid in {what}", f"write {example}")
            continue
        if text in out:
            r.error(item, join(path, i), f"{text!r} is listed twice in {what}", "list it once")
            continue
        out.append(text)
    return tuple(out)


def _at_most(r: Reporter, node: Node, path: str, what: str, found: int, limit: int) -> None:
    if found > limit:
        r.error(
            node, path, f"{what} has {found} entries; Lambda takes at most {limit}", "remove some"
        )


def _vpc(r: Reporter, node: Node, path: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    keys = ("security_group_ids", "subnet_ids")
    if not r.is_map(node, path, "vpc"):
        return (), ()
    r.keys(node, path, keys, keys, what="vpc")
    subnets: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    if (v := node.get("subnet_ids")) is not None:
        subnets = _strings(r, v, join(path, "subnet_ids"), "subnet_ids", _SUBNET, "subnet-0abc1234")
        _at_most(r, v, join(path, "subnet_ids"), "subnet_ids", len(subnets), SUBNETS_MAX)
    if (v := node.get("security_group_ids")) is not None:
        where = join(path, "security_group_ids")
        groups = _strings(r, v, where, "security_group_ids", _SECURITY_GROUP, "sg-0abc1234")
        _at_most(r, v, where, "security_group_ids", len(groups), SECURITY_GROUPS_MAX)
    return subnets, groups


def _layers(r: Reporter, node: Node, path: str) -> tuple[str, ...]:
    example = "a layer version ARN, arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION"
    layers = _strings(r, node, path, "layers", _LAYER, example)
    _at_most(r, node, path, "layers", len(layers), LAYERS_MAX)
    return layers


def _tags(r: Reporter, node: Node, path: str) -> tuple[tuple[str, str], ...]:
    if not r.is_map(node, path, "tags"):
        return ()
    tags: dict[str, str] = {}
    for key, value in node.mapping.items():
        where = join(path, key)
        if key.lower().startswith("aws:") or not 1 <= len(key) <= TAG_KEY_MAX:
            r.error(
                node.key_node(key),
                where,
                f"tag key {key!r} is not allowed",
                f"use 1-{TAG_KEY_MAX} characters, not starting with 'aws:'",
            )
            continue
        text = r.string(value, where, f"tag {key}", non_empty=False)
        if text is not None and len(text) > TAG_VALUE_MAX:
            r.error(
                value, where, f"tag {key} is longer than {TAG_VALUE_MAX} characters", "shorten it"
            )
        elif text is not None:
            tags[key] = text
    _at_most(r, node, path, "tags", len(node.mapping), TAGS_MAX)
    return tuple(sorted(tags.items()))
