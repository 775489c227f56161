"""The semaphore's gatekeeper: one serialised decision-maker per semaphore (docs/design.md §4).

Fed by the waiting-room FIFO queue, one message group per semaphore, so SQS delivers one
batch of a semaphore at a time and every acquire, release, reclaim and limit change of that
semaphore is decided in arrival order, by one invocation.
"""

from stepqueue_gatekeeper.decide import Gatekeeper, Outcome
from stepqueue_gatekeeper.messages import Message, MessageError, parse

__all__ = ["Gatekeeper", "Message", "MessageError", "Outcome", "parse"]
