from __future__ import annotations

import pytest

from generator.intrinsics import check_dynamic_value
from generator.jsonpath import check_path

VALID_PATHS = [
    "$",
    "$.a",
    "$.a.b_c-d",
    "$.items[0]",
    "$.items[-1]",
    "$['key with space']",
    "$.a['b'].c[2]",
    "$.items[*]",
    "$.items[1:3]",
    "$.items[0,2]",
    "$..name",
    "$.a.*",
    "$.items[?(@.price > 10)]",
    "$$.Execution.Id",
    "$$.Map.Item.Value",
    "$.é",
    "$myVar",
    "$my_var.field[0]",
    # Jayway JsonPath (which Step Functions runs) and asl-validator read these as names.
    "$.userAttributes.custom:tenant",
    "$.@timestamp",
    "$.a?b",
    "$.a*b",
    "$.price$",
    # ... and allow spaces inside brackets.
    "$[ 'key' ]",
    "$[ 0 ]",
    "$['a', 'b']",
]
INVALID_PATHS = [
    "",
    "a.b",
    "$.",
    "$.a..",
    "$.a[",
    "$.a[x]",
    "$.a b",
    "$['open",
    "$.a[?(@.x]",
    " $.a",  # before the path: asl-validator refuses it (after it: a warning, see paths.py)
    "$.a ",  # the syntax itself has no whitespace; paths.py trims it with a warning
    "$.a(b",
    "$['a' 'b']",
]
REFERENCE_OK = ["$", "$.a", "$.a[0]", "$['x'].y", "$.custom:id"]
REFERENCE_BAD = [
    "$.a[*]",
    "$..a",
    "$.a.*",
    "$.a[?(@.x)]",
    "$.a[1:2]",
    "$$.Execution.Id",
    "$var",
]


@pytest.mark.parametrize("path", VALID_PATHS)
def test_valid_paths(path: str) -> None:
    assert check_path(path) is None


@pytest.mark.parametrize("path", INVALID_PATHS)
def test_invalid_paths(path: str) -> None:
    assert check_path(path) is not None


@pytest.mark.parametrize("path", REFERENCE_OK)
def test_reference_paths(path: str) -> None:
    assert check_path(path, reference=True, context=False) is None


@pytest.mark.parametrize("path", REFERENCE_BAD)
def test_reference_paths_reject_operators(path: str) -> None:
    assert check_path(path, reference=True, context=False) is not None


@pytest.mark.parametrize(
    "value",
    [
        "$.x",
        "$$.Task.Token",
        "States.Format('{} and {}', $.a, $.b)",
        "States.ArrayLength($.items)",
        "States.JsonToString(States.StringToJson($.raw))",
        "States.Format('it\\'s {}', $.x)",
        "States.UUID()",
    ],
)
def test_valid_dynamic_values(value: str) -> None:
    assert check_dynamic_value(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "States.Frmat('{}', $.x)",
        "States.Format('{}', $.x",
        "States.Format('{}) extra",
        "x",
        "States.UUID() + 1",
    ],
)
def test_invalid_dynamic_values(value: str) -> None:
    assert check_dynamic_value(value) is not None
