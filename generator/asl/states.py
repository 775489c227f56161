"""The rules of each state type beyond its field table.

Parallel and Map return the scopes they hold instead of walking them, so that the walk (and
its recursion) stays in one place, `machine`.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.asl import choice, lambda_function, paths
from generator.asl.jsonata import is_expression
from generator.asl.language import Language
from generator.loader import Node
from generator.report import Reporter, join, key_at, value_at
from generator.vocabulary import (
    ASL_SECONDS_MAX,
    EXECUTION_TYPES,
    FAIL_EXCLUSIVE,
    ITEM_BATCHER_EXCLUSIVE,
    ITEM_PROCESSOR_FIELDS,
    MAP_EXCLUSIVE,
    MAP_MODES,
    NUMBER_OR_EXPRESSION,
    PROCESSOR_CONFIG_FIELDS,
    READER_CONFIG_EXCLUSIVE,
    SCOPE_FIELDS,
    TASK_EXCLUSIVE,
    WAIT_FIELDS,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A nested scope to walk: a Parallel branch or a Map processor."""

    node: Node
    path: str
    express: bool  # inside an EXPRESS Map
    isolated: bool = False  # a distributed Map's children: no variable of the parent scopes


def seconds(r: Reporter, node: Node, path: str, field: str, lang: Language) -> int | None:
    v = node.get(field)
    if v is None:
        return None
    if lang.jsonata and lang.expressions.value_or_expression(
        v, join(path, field), lang.place(field)
    ):
        return None
    return r.integer(v, join(path, field), field, 1, ASL_SECONDS_MAX)


def task(r: Reporter, node: Node, path: str, lang: Language) -> tuple[int | None, int | None]:
    """TimeoutSeconds and HeartbeatSeconds (None when absent, invalid or an expression),
    checked together."""
    timeout = seconds(r, node, path, "TimeoutSeconds", lang)
    heartbeat = seconds(r, node, path, "HeartbeatSeconds", lang)
    if timeout is not None and heartbeat is not None and heartbeat >= timeout:
        r.error(
            *value_at(node, path, "HeartbeatSeconds"),
            f"HeartbeatSeconds ({heartbeat}) must be less than TimeoutSeconds ({timeout})",
            "lower HeartbeatSeconds or raise TimeoutSeconds",
        )
    for field in ("TimeoutSecondsPath", "HeartbeatSecondsPath"):
        paths.optional_path(r, node, path, field)
    if not lang.jsonata:  # a JSONata state has no ...Path field (reported as such)
        r.exclusive(node, path, TASK_EXCLUSIVE)
    if (v := node.get("Credentials")) is not None:
        credentials(r, v, join(path, "Credentials"), lang)
    return timeout, heartbeat


def credentials(r: Reporter, node: Node, path: str, lang: Language) -> None:
    """The role a Task assumes: a mapping such as {RoleArn: ...} or {RoleArn.$: $.role}, whose
    `.$` values are paths or intrinsic functions (JSONata: whose strings may be expressions,
    checked with the state's other templates)."""
    if lang.jsonata and is_expression(node.scalar):
        return  # one expression that evaluates to the mapping
    if not node.is_map:
        r.error(
            node,
            path,
            f"Credentials must be a mapping with the role to assume, got {node.type_name()}",
            "write Credentials: {RoleArn: arn:aws:iam::123456789012:role/name} "
            + (
                "or {RoleArn: '{% $states.input.role %}'}"
                if lang.jsonata
                else "or {RoleArn.$: $.role}"
            ),
        )
    elif not lang.jsonata:
        paths.payload(r, node, path, "Credentials")


def resource(r: Reporter, node: Node, path: str, lang: Language) -> None:
    """The Resource of a Task without `Worker:`, and the function a Lambda call names."""
    if (v := node.get("Resource")) is None:
        r.error(
            node,
            path,
            "a Task needs Resource or Worker",
            "add Worker: <a worker from workers:> or Resource: <an ARN>",
        )
        return
    arn = r.string(v, join(path, "Resource"), "Resource")
    if arn is not None and not arn.startswith("arn:"):
        r.error(
            v,
            join(path, "Resource"),
            f"Resource must be an ARN, got {arn!r}",
            "write arn:aws:states:::... or a Lambda ARN, or use Worker:",
        )
    elif arn is not None and lambda_function.INVOKE.match(arn):
        lambda_function.check_invoke(r, node, path, lang)
    elif arn is not None:
        lambda_function.check_resource(r, v, join(path, "Resource"), arn)


def wait(r: Reporter, node: Node, path: str, lang: Language) -> None:
    found = [f for f in WAIT_FIELDS if f in node.mapping]
    needs = f"a Wait state needs exactly one of {', '.join(WAIT_FIELDS)}"
    field = r.exactly_one(node, path, found, needs, "keep exactly one")
    if field is None:
        return
    value = node.mapping[field]
    fpath = join(path, field)
    if lang.jsonata and field.endswith("Path"):
        return  # a JSONPath field, reported as such
    if lang.jsonata and lang.expressions.value_or_expression(value, fpath, lang.place(field)):
        return
    if field == "Seconds":
        r.integer(value, fpath, field, 0, ASL_SECONDS_MAX)
    elif field == "Timestamp":
        ts = r.string(value, fpath, field)
        if ts is not None and not choice.TIMESTAMP.match(ts):
            r.error(value, fpath, f"Timestamp must be RFC 3339, got {ts!r}", choice.TIMESTAMP_FIX)
    else:
        paths.path_value(r, value, fpath, field)


def fail(r: Reporter, node: Node, path: str, lang: Language) -> None:
    if lang.jsonata:
        for field in ("Error", "Cause"):
            if (v := node.get(field)) is not None and r.string(
                v, join(path, field), field, non_empty=False
            ):
                lang.expressions.value_or_expression(v, join(path, field), lang.place(field))
        return
    r.exclusive(node, path, FAIL_EXCLUSIVE)
    for plain, dynamic in FAIL_EXCLUSIVE:
        if (v := node.get(plain)) is not None:
            r.string(v, join(path, plain), plain, non_empty=False)
        if (v := node.get(dynamic)) is not None:
            paths.dynamic(r, v, join(path, dynamic), dynamic)


def parallel(r: Reporter, node: Node, path: str, express: bool) -> list[Scope]:
    branches = node.get("Branches")
    if branches is None:
        r.error(
            node, path, "a Parallel state needs Branches", "add Branches: with at least one branch"
        )
        return []
    if not r.is_seq(branches, join(path, "Branches"), "Branches"):
        return []
    scopes = []
    for i, branch in enumerate(branches.items):
        bpath = join(join(path, "Branches"), i)
        if r.is_map(branch, bpath, "a branch"):
            r.keys(branch, bpath, SCOPE_FIELDS, ("StartAt", "States"), what="a branch")
            scopes.append(Scope(branch, bpath, express))
    return scopes


def map_(r: Reporter, node: Node, path: str, express: bool, lang: Language) -> list[Scope]:
    processor, iterator = node.get("ItemProcessor"), node.get("Iterator")
    if processor is not None and iterator is not None:
        r.error(
            *key_at(node, path, "Iterator"),
            "a Map has ItemProcessor or the legacy Iterator, not both",
            "keep ItemProcessor",
        )
        return []
    if processor is None and iterator is None:
        r.error(
            node,
            path,
            "a Map state needs ItemProcessor",
            "add ItemProcessor: {StartAt: ..., States: ...}",
        )
        return []
    if lang.jsonata:
        _jsonata_map_fields(r, node, path, lang)
    else:
        _map_fields(r, node, path)
    _reader_and_batcher(r, node, path, lang)
    field, body = ("ItemProcessor", processor) if processor is not None else ("Iterator", iterator)
    assert body is not None
    bpath = join(path, field)
    if not r.is_map(body, bpath, field):
        return []
    # The legacy Iterator takes a ProcessorConfig too (asl-validator and LocalStack read it).
    r.keys(body, bpath, ITEM_PROCESSOR_FIELDS, ("StartAt", "States"), what=field)
    config = body.get("ProcessorConfig")
    cpath = join(bpath, "ProcessorConfig")
    distributed = False
    if config is not None and r.is_map(config, cpath, "ProcessorConfig"):
        r.keys(config, cpath, PROCESSOR_CONFIG_FIELDS, what="ProcessorConfig")
        if (v := config.get("Mode")) is not None:
            distributed = r.choice(v, join(cpath, "Mode"), "Mode", MAP_MODES) == "DISTRIBUTED"
        if (v := config.get("ExecutionType")) is not None:
            kind = r.choice(v, join(cpath, "ExecutionType"), "ExecutionType", EXECUTION_TYPES)
            express = kind == "EXPRESS"
        elif distributed:
            r.error(
                config,
                cpath,
                "a DISTRIBUTED Map needs ExecutionType: its child workflows run as STANDARD or "
                "EXPRESS executions",
                "add ExecutionType: STANDARD (or EXPRESS)",
            )
    return [Scope(body, bpath, express, isolated=distributed)]


def _jsonata_map_fields(r: Reporter, node: Node, path: str, lang: Language) -> None:
    """Items (a list or an expression) and the numbers that may be expressions."""
    if (v := node.get("Items")) is not None:
        ipath = join(path, "Items")
        if not v.is_seq and not lang.expressions.value_or_expression(v, ipath, lang.place("Items")):
            r.error(
                v,
                ipath,
                f"Items must be a list or one JSONata expression, got {v.type_name()}",
                "write Items: '{% $states.input.items %}'",
            )
        elif v.is_seq:
            lang.expressions.template(v, ipath, lang.place("Items"))
    for field, (lo, hi) in NUMBER_OR_EXPRESSION.items():
        if (v := node.get(field)) is None:
            continue
        fpath = join(path, field)
        if lang.expressions.value_or_expression(v, fpath, lang.place(field)):
            continue
        if field == "ToleratedFailurePercentage":
            r.number(v, fpath, field, lo, hi)
        else:
            r.integer(v, fpath, field, lo, hi)


def _map_fields(r: Reporter, node: Node, path: str) -> None:
    r.exclusive(node, path, MAP_EXCLUSIVE)
    paths.optional_path(r, node, path, "ItemsPath")
    if (v := node.get("MaxConcurrency")) is not None:
        r.integer(v, join(path, "MaxConcurrency"), "MaxConcurrency", 0, ASL_SECONDS_MAX)
    for f in ("MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCountPath"):
        paths.optional_path(r, node, path, f)
    if (v := node.get("ToleratedFailurePercentage")) is not None:
        field = "ToleratedFailurePercentage"
        r.number(v, join(path, field), field, 0, 100)
    if (v := node.get("ToleratedFailureCount")) is not None:
        field = "ToleratedFailureCount"
        r.integer(v, join(path, field), field, 0, ASL_SECONDS_MAX)


def _reader_and_batcher(r: Reporter, node: Node, path: str, lang: Language) -> None:
    """The limits of an ItemReader's ReaderConfig and of an ItemBatcher."""
    reader, rpath = node.get("ItemReader"), join(path, "ItemReader")
    if reader is not None and _mapping(r, reader, rpath, "ItemReader", lang):
        config = reader.get("ReaderConfig")
        _limits(r, config, join(rpath, "ReaderConfig"), READER_CONFIG_EXCLUSIVE, lang)
    _limits(r, node.get("ItemBatcher"), join(path, "ItemBatcher"), ITEM_BATCHER_EXCLUSIVE, lang)


def _limits(
    r: Reporter, node: Node | None, path: str, pairs: tuple[tuple[str, str], ...], lang: Language
) -> None:
    """At most one of a limit and its `...Path` twin, the twin a JSONPath; a JSONata state has
    no `...Path` field (it writes an expression in the limit instead)."""
    if node is None or not _mapping(r, node, path, path.rsplit(".", 1)[-1], lang):
        return
    if not lang.jsonata:
        r.exclusive(node, path, pairs)
        for _, twin in pairs:
            paths.optional_path(r, node, path, twin)
        return
    for limit, twin in pairs:
        if twin in node.mapping:
            r.error(
                *key_at(node, path, twin),
                f"{twin} is a JSONPath field; this state uses JSONata",
                f"write {limit}: '{{% $states.input.{limit[0].lower()}{limit[1:]} %}}'",
            )


def _mapping(r: Reporter, node: Node, path: str, what: str, lang: Language) -> bool:
    """A mapping, as AWS requires; a JSONata state's template checks say the rest."""
    return node.is_map if lang.jsonata else r.is_map(node, path, what)
