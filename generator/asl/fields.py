"""Which fields a state type takes, and the checks of the fields several types share."""

from __future__ import annotations

from generator.asl import language, paths
from generator.asl.jsonata import is_expression
from generator.asl.language import Language
from generator.loader import Node
from generator.report import Reporter, join
from generator.vocabulary import FALLIBLE, FIELDS, PAYLOAD_FIELDS, TEMPLATE_FIELDS

# Map fields whose nested strings may hold expressions in a JSONata state.
_MAP_TEMPLATES = ("ItemReader", "ItemBatcher", "ResultWriter")


def state_type(r: Reporter, node: Node, key: Node, name: str, path: str) -> str | None:
    """The state's Type when it is a known one."""
    kind_node = node.get("Type")
    if kind_node is None:
        r.error(
            key,
            path,
            f"state {name!r} has no Type",
            f"add Type: one of {', '.join(sorted(FIELDS))}",
        )
        return None
    return r.choice(kind_node, join(path, "Type"), "Type", FIELDS)


def check(r: Reporter, node: Node, path: str, kind: str, lang: Language) -> None:
    """Unknown keys for this type and fields of the other query language, then the
    input/output fields any type may carry."""
    r.keys(node, path, FIELDS[kind], what=f"a {kind} state")
    language.foreign_fields(r, node, path, lang.jsonata)
    if (v := node.get("Assign")) is not None and r.is_map(v, join(path, "Assign"), "Assign"):
        language.assign_names(r, v, join(path, "Assign"))
    if (v := node.get("Comment")) is not None:
        r.string(v, join(path, "Comment"), "Comment", non_empty=False)
    if lang.jsonata:
        _jsonata(r, node, path, kind, lang)
        return
    for field in ("InputPath", "OutputPath"):
        if (v := node.get(field)) is not None:
            paths.path_value(r, v, join(path, field), field, nullable=True)
    paths.result_path(r, node, path)
    for field in PAYLOAD_FIELDS:
        paths.optional_payload(r, node, path, field)


def _jsonata(r: Reporter, node: Node, path: str, kind: str, lang: Language) -> None:
    """The expressions of the fields every JSONata state may carry."""
    for field in (*TEMPLATE_FIELDS, *(_MAP_TEMPLATES if kind == "Map" else ())):
        v = node.get(field)
        if v is None or (field == "Assign" and not v.is_map):
            continue
        if field == "Arguments" and not v.is_map and not is_expression(v.scalar):
            r.error(
                v,
                join(path, field),
                f"Arguments must be a mapping or one JSONata expression, got {v.type_name()}",
                "write key: value pairs, or '{% expression %}'",
            )
            continue
        # $states.result exists once the work is done: in the Output and Assign of a state
        # that does work.
        result = kind in FALLIBLE and field in ("Output", "Assign")
        lang.expressions.template(v, join(path, field), lang.place(field, result=result))
