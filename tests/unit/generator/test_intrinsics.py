"""Intrinsic functions: the calls Step Functions accepts pass, and each wrong call is refused
with what is wrong (the bad-spec corpus shows the located messages)."""

from __future__ import annotations

import pytest

from generator.intrinsics import SIGNATURES, check_dynamic, check_dynamic_value

# AWS's documented examples and forms around them.
VALID = [
    "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
    "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
    "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
    "'.'), 1))",
    "States.Array($.Id)",
    "States.Array()",
    "States.Array('Foo', 2020, $.someJson, null, true)",
    "States.ArrayPartition($.inputArray,4)",
    "States.ArrayContains($.inputArray, $.lookingFor)",
    "States.ArrayRange(1, 9, 2)",
    "States.ArrayRange(9, 1, -2)",
    "States.ArrayRange(1, 1000, 1)",
    "States.ArrayGetItem($.inputArray, $.index)",
    "States.ArrayLength($.inputArray)",
    "States.ArrayUnique($.inputArray)",
    "States.Base64Encode($.input)",
    "States.Base64Decode($.base64)",
    "States.Hash($.Data, $.Algorithm)",
    "States.Hash('text', 'SHA-512')",
    "States.JsonMerge($.json1, $.json2, false)",
    "States.StringToJson($.escapedJsonString)",
    "States.JsonToString($.unescapedJson)",
    "States.MathRandom($.start, $.end)",
    "States.MathRandom(1, 999, 1234)",
    "States.MathAdd($.value1, $.step)",
    "States.MathAdd($.value1, -1)",
    "States.MathAdd(1.5, 2)",  # AWS rounds a fractional argument
    "States.MathAdd(States.ArrayLength($$.Execution.Input.machines), -1)",
    "States.StringSplit($.inputString, $.splitter)",
    "States.UUID()",
    "States.Format('Hello, my name is {}.', $.name)",
    "States.Format($.template, $.name)",
    "States.Format('{}_{}',$$.Execution.Name,$['test-batch']['batch_id'])",
    "States.Format('it\\'s {}', $inputPayload.foo[1].bar)",
    "States.Format( 'x{}' , $.a )",
    "States.ArrayGetItem($.Records[?(@.OutputKey == 'a, b')].OutputValue, 0)",
    "States.Array(" * 10 + ")" * 10,
]


@pytest.mark.parametrize("value", VALID)
def test_calls_aws_accepts(value: str) -> None:
    assert check_dynamic_value(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("States.MathAdd(1, '-1')", "takes a number as argument 2, got the string '-1'"),
        ("States.MathAdd('-1', 'abc')", "takes a number as argument 1"),
        ("States.MathRandom(true, 10)", "takes a number as argument 1, got true"),
        ("States.ArrayRange(1, '9', 2)", "takes a number as argument 2"),
        ("States.StringSplit($.s, 1)", "takes a string as argument 2, got the number 1"),
        ("States.Base64Encode(null)", "takes a string as argument 1, got null"),
        ("States.ArrayLength('abc')", "takes an array as argument 1"),
        ("States.ArrayGetItem($.a, 1.5)", "takes a whole number as argument 2"),
        ("States.JsonMerge($.a, 'b', false)", "takes a JSON object as argument 2"),
        ("States.JsonMerge($.a, $.b, 'false')", "takes a boolean as argument 3"),
        ("States.Format(7, $.x)", "takes a string as argument 1"),
        ("States.ArrayLength(States.UUID())", "got States.UUID(...), which returns a string"),
        ("States.UUID(1)", "States.UUID takes no arguments, got 1"),
        ("States.MathAdd($.n)", "States.MathAdd takes 2 arguments, got 1"),
        ("States.MathRandom(1, 2, 3, 4)", "takes 2 or 3 arguments, got 4"),
        ("States.Format()", "takes at least 1 argument, got 0"),
        ("States.Hash($.x, 'sha256')", "States.Hash has no algorithm 'sha256'"),
        ("States.JsonMerge($.a, $.b, true)", "merges shallowly only"),
        ("States.ArrayPartition($.a, 0)", "chunk size above 0, got 0"),
        ("States.ArrayRange(1, 9, 0)", "step (argument 3) is 0"),
        ("States.ArrayRange(0, 1000, 1)", "would make 1001 items"),
        ("States.Format('{}', name)", "expected an argument at position 21"),
        ("States.Array(1,)", "expected an argument"),
        ("States.Array(1 2)", "expected ',' or ')'"),
        ("States.Format('{}', $.x", "expected ',' or ')' in States.Format(...) at the end"),
        ("States.Format('{}) x", "unterminated string"),
        ("States.Format('{}', $.)", "argument '$.': expected a field name"),
        ("States.MathAdd(1e999, 1)", "out of range"),
        ("States.Array(" * 11 + ")" * 11, "more than 10 nested intrinsic functions"),
        ("States.Frmat('{}', $.x)", "unknown intrinsic function States.Frmat"),
        ("States.UUID() ", "whitespace after the intrinsic function's closing ')'"),
        ("States.UUID() + 1", "unexpected text after"),
    ],
)
def test_wrong_calls_say_what_is_wrong(value: str, expected: str) -> None:
    problem = check_dynamic(value)
    assert problem is not None and expected in problem.message, problem


def test_every_function_has_a_usage_that_passes() -> None:
    for name, signature in SIGNATURES.items():
        assert signature.usage.startswith(f"States.{name}("), name
        assert check_dynamic_value(signature.usage) is None, signature.usage


def test_deep_nesting_is_refused_without_recursing_into_it() -> None:
    text = "States.Array(" * 100_000 + ")" * 100_000
    problem = check_dynamic(text)
    assert problem is not None and "nested" in problem.message
