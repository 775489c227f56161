"""The runtime tests' environment and the session's emulator as `moto`
(tests/support/lambda_fixtures.py)."""

from tests.support.lambda_fixtures import _aws_env, moto, moto_endpoint, use_handler

__all__ = ["_aws_env", "moto", "moto_endpoint", "use_handler"]
