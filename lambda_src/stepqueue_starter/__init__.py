"""The start queue's starter: StartExecution at a bounded rate, from SQS (docs/design.md §11).

A burst of submissions larger than StartExecution's rate quota or the account's open-execution
quota waits in the start queue instead of being refused; each message names its execution, so a
message delivered or submitted twice never starts a second execution; a message that cannot
start lands in the start DLQ with the reason as message attributes.
"""

from stepqueue_starter.messages import BodyError, StartRequest, parse
from stepqueue_starter.outcome import Outcome, classify
from stepqueue_starter.pacing import TokenBucket

__all__ = ["BodyError", "Outcome", "StartRequest", "TokenBucket", "classify", "parse"]
