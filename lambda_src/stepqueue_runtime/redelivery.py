"""Sending records back to their queue sooner than the visibility timeout.

A record in ``batchItemFailures`` is offered again only when its visibility timeout ends: six
function timeouts and more (the generator's rule), often longer than the state's
``HeartbeatSeconds``. A task whose record waits that long without a heartbeat fails with
``States.HeartbeatTimeout`` whatever happens next. So the runtime shortens the wait with
``ChangeMessageVisibility`` (the worker role allows it on its own queue):

- a record redelivered because an AWS call failed (throttled, 5xx, refused), whose state
  declares ``HeartbeatSeconds``, gets one heartbeat and comes back after a short backoff,
  under a third of ``HeartbeatSeconds`` (``delay``); if that heartbeat fails, at once;
- a record never started because the Lambda deadline was near comes back at once.

Either way the next delivery heartbeats as soon as it is read (its message is older than a
third of ``HeartbeatSeconds``: heartbeat.py), so the gap between two heartbeats is at most a
third of ``HeartbeatSeconds`` plus the batching window, which the generator keeps under two
thirds of it.

Best effort: if the call fails, the visibility timeout still brings the record back.
"""

from __future__ import annotations

from stepqueue_aws import doubling_backoff

_urls: dict[str, str | None] = {}


def queue_url(arn: str) -> str | None:
    """The queue URL of an SQS queue ARN (``arn:PARTITION:sqs:REGION:ACCOUNT:NAME``), as SQS
    forms it; None for anything else. Derived, not looked up: the role has no
    ``sqs:GetQueueUrl``, and the URL only names the queue (boto3 sends the request to its own
    endpoint, ``AWS_ENDPOINT_URL`` locally)."""
    url = _urls.get(arn, "")
    if url == "":
        parts = arn.split(":")
        if len(parts) == 6 and parts[0] == "arn" and parts[2] == "sqs" and all(parts[3:]):
            partition, region, account, name = parts[1], parts[3], parts[4], parts[5]
            domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
            url = f"https://sqs.{region}.{domain}/{account}/{name}"
        else:
            url = None
        _urls[arn] = url
    return url


def delay(heartbeat_seconds: float, receive_count: int) -> int:
    """Seconds before a record whose AWS call failed is offered again.

    At most a third of ``HeartbeatSeconds``, counted from a heartbeat sent just before (the
    caller sends it, and gives the record back at once if it fails). The next delivery
    heartbeats as soon as it is read, at most the batching window after the record is visible
    again, and the generator keeps delivery delay + batching window under two thirds of
    ``HeartbeatSeconds``: a third + under two thirds, so that heartbeat comes before the
    state's ``HeartbeatSeconds`` run out.
    """
    return int(min(doubling_backoff(receive_count), heartbeat_seconds / 3))
