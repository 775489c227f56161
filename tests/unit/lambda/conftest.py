"""The runtime tests' environment (tests/support/lambda_fixtures.py)."""

from tests.support.lambda_fixtures import _aws_env, use_handler

__all__ = ["_aws_env", "use_handler"]
