"""stepqueue worker runtime: runs a user handler per SQS record and calls Step Functions back.

Kept import-light on purpose: boto3 is imported on the first invocation, not here.
"""

from stepqueue_runtime.context import TaskContext
from stepqueue_runtime.errors import TaskFailed

__all__ = ["TaskContext", "TaskFailed"]
