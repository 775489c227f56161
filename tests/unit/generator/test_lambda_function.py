"""The Lambda function a Task names: which references pass, and what a bad qualifier says
(the bad-spec corpus shows them located in a spec)."""

from __future__ import annotations

import pytest

from generator.asl import lambda_function


@pytest.mark.parametrize(
    "reference",
    [
        "my-function",
        "my-function:live",
        "my-function:7",
        "my-function:$LATEST",
        "123456789012:function:my-function:live",
        "arn:aws:lambda:us-east-1:123456789012:function:my-function",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:my_function:PROD-2",
        "arn:aws:sns:us-east-1:123456789012:topic",  # not a Lambda function: not checked here
    ],
)
def test_lambda_references_aws_accepts(reference: str) -> None:
    assert lambda_function.problem(reference) is None


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("my-function:", "the qualifier after 'my-function:' is empty"),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:", "qualifier after 'fn:' is empty"),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:bad alias!", "'bad alias!' is not"),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:a:b", "'a:b' is not"),
        ("123456789012:function:fn:" + "a" * 129, "is not a Lambda version or alias"),
        ("arn:aws:lambda:us-east-1:123456789012:function:", "the function name is empty"),
    ],
)
def test_lambda_references_with_a_bad_qualifier(reference: str, expected: str) -> None:
    problem = lambda_function.problem(reference)
    assert problem is not None and expected in problem, problem
