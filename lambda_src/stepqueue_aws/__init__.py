"""AWS helpers shared by the worker runtime, the gatekeeper, the watchdog and the starter.

Import-light on purpose: boto3 and botocore are imported when the first client is made.
`stepqueue_aws.emf` writes their embedded-metric-format lines.
"""

from stepqueue_aws import emf
from stepqueue_aws.core import (
    Retries,
    aws_error_code,
    cached_client,
    change_visibility,
    doubling_backoff,
    error_code,
    inject_client,
)

__all__ = [
    "Retries",
    "aws_error_code",
    "cached_client",
    "change_visibility",
    "doubling_backoff",
    "emf",
    "error_code",
    "inject_client",
]
