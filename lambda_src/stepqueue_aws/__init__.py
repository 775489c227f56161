"""AWS helpers shared by the worker runtime and the reclaimer.

Import-light on purpose: boto3 and botocore are imported when the first client is made.
"""

from stepqueue_aws.core import Retries, aws_error_code, cached_client, error_code, inject_client

__all__ = ["Retries", "aws_error_code", "cached_client", "error_code", "inject_client"]
