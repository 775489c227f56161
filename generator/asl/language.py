"""Which query language each state uses, the fields that belong to the other one, and the
workflow variables each scope can read.

AWS's rules: a workflow's `QueryLanguage` (default JSONPath) is every state's unless the state
sets its own; a JSONPath workflow may opt single states into JSONata, a JSONata workflow admits
no JSONPath state. States inside a Map or Parallel inherit the workflow's language, not their
parent state's. Variables (`Assign`) are visible to the scope that assigns them and the scopes
nested in it, except inside a distributed Map, whose child workflows start with none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.asl.jsonata import Expressions, Place
from generator.loader import Node
from generator.report import Reporter, join, key_at
from generator.vocabulary import (
    JSONATA,
    JSONATA_ONLY,
    JSONPATH,
    JSONPATH_ONLY,
    QUERY_LANGUAGES,
    RESERVED_VARIABLE,
    VARIABLE_NAME,
    VARIABLE_NAME_MAX,
)


@dataclass(frozen=True, slots=True)
class Language:
    """What a state's checks need to know about its language and its scope."""

    jsonata: bool
    expressions: Expressions
    variables: frozenset[str]  # assigned in this scope or one it can read

    def place(self, field: str, *, result: bool = False, error_output: bool = False) -> Place:
        return Place(field, self.variables, result, error_output)


def top_language(root: Node) -> str:
    """The workflow's language; an invalid value was reported by the top-level checks."""
    value = root.get("QueryLanguage")
    return JSONATA if value is not None and value.scalar == JSONATA else JSONPATH


def state_language(r: Reporter, node: Node, path: str, top: str) -> str:
    """The state's own QueryLanguage, else the workflow's."""
    value = node.get("QueryLanguage")
    if value is None:
        return top
    chosen = r.choice(value, join(path, "QueryLanguage"), "QueryLanguage", QUERY_LANGUAGES)
    if chosen == JSONPATH and top == JSONATA:
        r.error(
            value,
            join(path, "QueryLanguage"),
            "a JSONata workflow cannot have a JSONPath state",
            "rewrite this state in JSONata, or set QueryLanguage: JSONPath on the workflow and "
            "JSONata on the states that use it",
        )
        return JSONATA
    return chosen or top


def foreign_fields(r: Reporter, node: Node, path: str, jsonata: bool) -> None:
    """Fields of the other language: JSONPath fields in a JSONata state, and the reverse."""
    for key in node.mapping:
        if jsonata and key in JSONPATH_ONLY:
            r.error(
                *key_at(node, path, key),
                f"{key} is a JSONPath field; this state uses JSONata",
                f"write {JSONPATH_ONLY[key]}",
            )
        elif not jsonata and key in JSONATA_ONLY:
            r.error(
                *key_at(node, path, key),
                f"{key} is a JSONata field; this state uses JSONPath",
                "add QueryLanguage: JSONata to this state (or to the workflow), or use the "
                "JSONPath fields (Parameters, ResultSelector, ResultPath, OutputPath, ItemsPath)",
            )


def assigned(states: Node) -> set[str]:
    """Every variable a scope's states assign: in the state, its Choice rules, its catchers."""
    names: set[str] = set()
    for state in states.mapping.values():
        if not state.is_map:
            continue
        holders = [state]
        for field in ("Choices", "Catch"):
            if (v := state.get(field)) is not None and v.is_seq:
                holders += [item for item in v.items if item.is_map]
        for holder in holders:
            if (assign := holder.get("Assign")) is not None and assign.is_map:
                names.update(k.removesuffix(".$") for k in assign.mapping)
    return names


_VARIABLE = re.compile(VARIABLE_NAME)


def assign_names(r: Reporter, node: Node, path: str) -> None:
    """The keys of an Assign: names a JSONata expression can read back."""
    for key in node.mapping:
        name = key.removesuffix(".$")
        if name == RESERVED_VARIABLE:
            r.error(
                *key_at(node, path, key),
                "the variable name 'states' is reserved ($states)",
                "choose another name",
            )
        elif not _VARIABLE.match(name) or len(name) > VARIABLE_NAME_MAX:
            r.error(
                *key_at(node, path, key),
                f"{name!r} is not a valid variable name",
                f"use up to {VARIABLE_NAME_MAX} letters, digits and '_', not starting with a digit",
            )
