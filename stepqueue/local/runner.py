"""The local event source mapping: what Lambda's SQS poller does in AWS.

moto cannot run Lambdas without Docker, so locally the mappings are deployed disabled and this
runner does their job from the DEPLOYED settings, read back from the emulator (never the spec):
the mapping (batch size, batching window, ScalingConfig.MaximumConcurrency,
ReportBatchItemFailures), the function (handler, environment, timeout, memory) and the queue.

Per mapping: one poller thread receives a batch (waiting up to the batching window to fill it)
and hands it to a container as soon as one of its `max_concurrency` slots is free. It holds at
most one batch ahead: receiving the next batch while every slot is busy takes the receive off
the path from one invocation to the next, and that batch waits at most one invocation (the
function timeout), far inside its visibility timeout (the generator requires at least 6x the
function timeout). A slot is the invocation, as in Lambda: it is free again when the handler
returns, before the runner deletes the batch's records. Each container is a
long-lived subprocess (stepqueue/local/container.py) running the function's handler from the
extracted zip, as Lambda isolates invocations in processes. An invocation still running at the
function timeout is killed there, as Lambda kills it: the container process ends, no response,
every record of its batch left for redelivery (the runtime's own deadline margin is what makes
that rare). After the invocation, the records
not in `batchItemFailures` are deleted; the others stay in flight until their visibility timeout
ends, are received again (ApproximateReceiveCount grows) and, past the queue's
maxReceiveCount, moto's redrive moves them to the DLQ on receive, as SQS does. A FIFO queue
also gets Lambda's FIFO rules (stepqueue/local/fifo.py): one batch in flight per message group,
and a group's records after a failed one are failed too.

On an emulator that enforces IAM (`Emulator(enforce_iam=True)`; detected, or `role_credentials`),
each mapping calls AWS as Lambda does, with its function's execution role: the runner assumes
the role (sts:AssumeRole, as the emulator's identity standing in for Lambda) and polls, deletes
and changes visibility with that session, and every container gets the session's keys in its
environment instead of the test key. A container is retired before its keys expire
(`CREDENTIALS_MARGIN_S`): a new one starts with fresh keys, as Lambda's environments do.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from stepqueue.local.emulator import REGION, assume_role, aws_env, iam_enforced, make_client
from stepqueue.local.fifo import GroupGate, failed_in_order, is_fifo

CONTAINER_SCRIPT = Path(__file__).with_name("container.py")
# No ScalingConfig: Lambda scales an SQS mapping up to the function's reserved concurrency (or
# the account's pool). Locally that is capped, so a missing setting cannot fork hundreds of
# Python processes.
DEFAULT_MAX_CONCURRENCY = 10
POLL_WAIT_S = 1  # long-poll slice: short, so stop() is noticed within a second
# A FIFO group is unlocked when its batch is deleted, but moto's long poll only looks again
# after a whole second (it wakes on sends, not deletes): a FIFO queue is polled without waiting,
# with this pause between empty receives, so a gatekeeper round is not one second long; the
# runner's own deletes end the pause early, since they are what unlocks its groups.
FIFO_IDLE_S = 0.05
CONTAINER_START_TIMEOUT_S = 60.0
# A role session lasts an hour (STS's default). Keys are renewed, and a container holding them
# retired, once less than this is left: more than any invocation lasts (the function timeout is
# at most 15 minutes), so no handler runs on expired keys.
CREDENTIALS_SECONDS = 3600
CREDENTIALS_MARGIN_S = 1200.0


class RunnerError(RuntimeError):
    """The deployed settings cannot be run locally."""


@dataclass(frozen=True)
class MappingSettings:
    """Everything the runner needs about one deployed mapping, read back from the emulator."""

    uuid: str
    function_name: str
    function_arn: str
    queue_arn: str
    queue_url: str
    batch_size: int
    batching_window_s: int
    max_concurrency: int
    report_batch_item_failures: bool
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    code_sha256: str
    visibility_timeout_s: int
    max_receive_count: int | None
    dlq_arn: str | None
    role_arn: str = ""
    runtime: str = ""
    architecture: str = "x86_64"


def _queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def discover(endpoint: str, function_prefix: str = "") -> list[MappingSettings]:
    """The SQS mappings deployed on the emulator whose function name starts with the prefix."""
    lam = make_client(endpoint, "lambda")
    sqs = make_client(endpoint, "sqs")
    found: list[MappingSettings] = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for esm in page["EventSourceMappings"]:
            queue_arn = esm["EventSourceArn"]
            if ":sqs:" not in queue_arn:
                continue
            fn = lam.get_function_configuration(FunctionName=esm["FunctionArn"])
            if not fn["FunctionName"].startswith(function_prefix):
                continue
            url = sqs.get_queue_url(QueueName=_queue_name(queue_arn))["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            redrive = json.loads(attributes.get("RedrivePolicy") or "null") or {}
            reserved = lam.get_function_concurrency(FunctionName=fn["FunctionName"]).get(
                "ReservedConcurrentExecutions"
            )
            scaling = (esm.get("ScalingConfig") or {}).get("MaximumConcurrency")
            max_concurrency = int(scaling or min(reserved or DEFAULT_MAX_CONCURRENCY, 1000))
            if reserved is not None:  # Lambda can never run more than the reserved amount
                max_concurrency = min(max_concurrency, int(reserved))
            found.append(
                MappingSettings(
                    uuid=esm["UUID"],
                    function_name=fn["FunctionName"],
                    function_arn=fn["FunctionArn"],
                    queue_arn=queue_arn,
                    queue_url=url,
                    batch_size=int(esm.get("BatchSize") or 10),
                    batching_window_s=int(esm.get("MaximumBatchingWindowInSeconds") or 0),
                    max_concurrency=max(1, max_concurrency),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (esm.get("FunctionResponseTypes") or []),
                    handler=fn["Handler"],
                    environment=dict((fn.get("Environment") or {}).get("Variables") or {}),
                    timeout_s=int(fn.get("Timeout") or 3),
                    memory_mb=int(fn.get("MemorySize") or 128),
                    code_sha256=fn.get("CodeSha256", ""),
                    visibility_timeout_s=int(attributes.get("VisibilityTimeout", 30)),
                    max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
                    dlq_arn=redrive.get("deadLetterTargetArn"),
                    role_arn=fn.get("Role", ""),
                    runtime=fn.get("Runtime", ""),
                    architecture=(fn.get("Architectures") or ["x86_64"])[0],
                )
            )
    return sorted(found, key=lambda m: m.function_name)


@dataclass(frozen=True)
class SessionKeys:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


class RoleSession:
    """A function's execution role, assumed on the emulator and renewed before it expires."""

    def __init__(self, endpoint: str, role_arn: str, session_name: str) -> None:
        self.endpoint = endpoint
        self.role_arn = role_arn
        self.session_name = session_name
        self._lock = threading.Lock()
        self._keys: SessionKeys | None = None

    def keys(self) -> SessionKeys:
        """Keys with more than CREDENTIALS_MARGIN_S left (assumed again when needed)."""
        with self._lock:
            if self._keys is None or not self.fresh(self._keys.expires_at):
                self._keys = self._assume()
            return self._keys

    @staticmethod
    def fresh(expires_at: float) -> bool:
        return expires_at - time.time() > CREDENTIALS_MARGIN_S

    def _assume(self) -> SessionKeys:
        from botocore.exceptions import ClientError

        try:
            reply = assume_role(
                self.endpoint, self.role_arn, self.session_name, CREDENTIALS_SECONDS
            )
        except ClientError as error:
            raise RunnerError(
                f"{self.session_name}: cannot assume its role {self.role_arn}: {error}"
            ) from None
        return SessionKeys(
            reply["AccessKeyId"],
            reply["SecretAccessKey"],
            reply["SessionToken"],
            reply["Expiration"].timestamp(),
        )

    def client(self, service: str) -> Any:
        """A boto3 client that signs with the role's keys and renews them (botocore refreshes
        within its own 15 minutes of expiry; `keys()` renews earlier)."""
        import boto3
        from botocore.config import Config
        from botocore.credentials import RefreshableCredentials
        from botocore.session import get_session

        def metadata() -> dict[str, str]:
            keys = self.keys()
            return {
                "access_key": keys.access_key_id,
                "secret_key": keys.secret_access_key,
                "token": keys.session_token,
                "expiry_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(keys.expires_at)),
            }

        botocore_session = get_session()
        botocore_session._credentials = RefreshableCredentials.create_from_metadata(
            metadata(), metadata, "sts-assume-role"
        )
        session = boto3.Session(botocore_session=botocore_session, region_name=REGION)
        return session.client(
            service,
            endpoint_url=self.endpoint,
            config=Config(max_pool_connections=64, retries={"mode": "standard"}),
        )


def zip_sha256(path: Path) -> str:
    """As Lambda's CodeSha256: base64 of the zip's sha256."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@functools.lru_cache(maxsize=64)
def _digest(path: Path, mtime_ns: int) -> str:
    """zip_sha256, once per file version: every function looks through the same zips."""
    del mtime_ns  # part of the cache key only
    return zip_sha256(path)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class MappingMetrics:
    function_name: str
    max_concurrency: int
    in_flight: int = 0
    peak_in_flight: int = 0
    batches: int = 0
    records: int = 0
    deleted: int = 0
    item_failures: int = 0  # records the function reported in batchItemFailures
    invoke_errors: int = 0  # invocations that failed as a whole (error, timeout, crash)
    # Task latency: SentTimestamp of the message → the runner deleting it after the handler
    # finished (queue wait + processing), for the records that succeeded.
    record_latency_seconds: list[float] = field(default_factory=list)


class Container:
    """One long-lived handler process (a warm Lambda execution environment)."""

    def __init__(
        self,
        settings: MappingSettings,
        task_root: Path,
        env: dict[str, str],
        log: TextIO,
        expires_at: float | None = None,
    ):
        self.settings = settings
        self.expires_at = expires_at  # of the role session's keys in env (None: test key)
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(CONTAINER_SCRIPT), str(task_root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            text=True,
            bufsize=1,
        )
        ready = self._read(CONTAINER_START_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self.close()
            reason = ready.get("error") if ready else "no answer"
            raise RunnerError(f"{settings.function_name}: container failed to start: {reason}")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """The reply ({"result"} or {"error"}), or None on timeout or crash (then unusable).

        One deadline, as in Lambda: the handler's context counts down to it
        (get_remaining_time_in_millis) and the runner stops waiting at that same instant; the
        caller then kills the container, so a handler past its deadline never reports."""
        assert self.proc.stdin is not None
        deadline = time.time() + self.settings.timeout_s
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "deadline_ms": int(deadline * 1000),
        }
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            return self._read(max(deadline - time.time(), 0.0))
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def sqs_event_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A received SQS message as Lambda's event source mapping hands it to the function."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            key: attributes[key]
            for key in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
                "AWSTraceHeader",
            )
            if key in attributes
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value.get("DataType"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


class MappingRunner:
    """Polls one queue and invokes its function, at most `max_concurrency` batches at once."""

    def __init__(
        self,
        settings: MappingSettings,
        endpoint: str,
        task_root: Path,
        log: TextIO,
        stop: threading.Event,
        failed_visibility_s: int | None,
        role: RoleSession | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = MappingMetrics(settings.function_name, settings.max_concurrency)
        self._endpoint = endpoint
        self._role = role
        # The mapping polls with the function's role, as Lambda's poller does.
        self._sqs = role.client("sqs") if role else make_client(endpoint, "sqs")
        self._task_root = task_root
        self._log = log
        self._stop = stop
        self._failed_visibility_s = failed_visibility_s
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._groups = GroupGate() if is_fifo(settings.queue_arn) else None
        # Set when this mapping's own deletes unlock a group: the poller, idle because every
        # group with messages was in flight, receives again at once instead of at its pause.
        self._group_freed = threading.Event()
        self._lock = threading.Lock()
        self._idle: list[Container] = []
        self._all: list[Container] = []
        self._pool = ThreadPoolExecutor(
            settings.max_concurrency, thread_name_prefix=f"invoke-{settings.function_name}"
        )
        self._poller = threading.Thread(
            target=self._poll, name=f"poll-{settings.function_name}", daemon=True
        )
        self.error: BaseException | None = None

    def start(self, *, prewarm: bool = False) -> None:
        if prewarm:
            self.prewarm()
        self._poller.start()

    def prewarm(self) -> None:
        """Start every container the mapping may use now, in parallel, instead of at its first
        invocation: a burst then measures the queue and the semaphore, not interpreter start-up
        (in AWS, provisioned concurrency does the same)."""
        with ThreadPoolExecutor(self.settings.max_concurrency) as starting:
            containers = list(
                starting.map(lambda _: self._container(), range(self.settings.max_concurrency))
            )
        with self._lock:
            self._idle.extend(containers)

    def join(self, timeout: float | None = None) -> None:
        self._poller.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            containers, self._all, self._idle = self._all, [], []
        for container in containers:
            container.close()

    # -- environment -----------------------------------------------------------------------

    def container_env(self, keys: SessionKeys | None = None) -> dict[str, str]:
        s = self.settings
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "_HANDLER": s.handler,
            "LAMBDA_TASK_ROOT": str(self._task_root),
            "AWS_LAMBDA_FUNCTION_NAME": s.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(s.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{s.function_name}",
            "STEPQUEUE_FUNCTION_ARN": s.function_arn,
            **s.environment,
            # After the function's variables: a deployed variable must not point it elsewhere.
            **aws_env(self._endpoint),
            # The role's session instead of the test key, when the emulator enforces IAM.
            **(keys.env() if keys else {}),
        }
        return env

    # -- polling ---------------------------------------------------------------------------

    def _poll(self) -> None:
        held: list[dict[str, Any]] = []  # received, waiting for a free slot
        try:
            while not self._stop.is_set():
                if not held:
                    held = self._gather()
                    if held and self._groups is not None:
                        self._groups.enter(held)
                    continue
                if not self._slots.acquire(timeout=0.2):
                    continue
                batch, held = held, []
                self._pool.submit(self._invoke_and_release, batch)
        except BaseException as exc:  # surfaced by Runner.check()
            if not self._stop.is_set():
                self.error = exc
        finally:
            self._give_back(held)
            if self._groups is not None:
                self._groups.leave(held)

    def _give_back(self, messages: list[dict[str, Any]]) -> None:
        """Received but never invoked (the runner is stopping): visible again at once, rather
        than after the visibility timeout. The receive still counts towards maxReceiveCount, as
        it does for any SQS consumer that lets a message go."""
        for message in messages:
            with contextlib.suppress(Exception):  # best effort: the timeout returns it anyway
                self._sqs.change_message_visibility(
                    QueueUrl=self.settings.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        reply = self._sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=min(10, count),
            WaitTimeSeconds=wait_s,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = reply.get("Messages", [])
        return messages

    def _gather(self) -> list[dict[str, Any]]:
        """Up to batch_size messages: the first long poll waits for any; then, with a
        batching window, keep receiving until the batch is full or the window ends."""
        s = self.settings
        messages: list[dict[str, Any]] = []
        window_end: float | None = None
        while not self._stop.is_set() and len(messages) < s.batch_size:
            if window_end is None:
                fifo = self._groups is not None
                received = self._receive(s.batch_size - len(messages), 0 if fifo else POLL_WAIT_S)
                if not received:
                    if fifo:
                        self._group_freed.wait(FIFO_IDLE_S)
                        self._group_freed.clear()
                    return messages  # empty: give the slot back, poll again
                messages += received
                if s.batching_window_s == 0:
                    break
                window_end = time.monotonic() + s.batching_window_s
                continue
            remaining = window_end - time.monotonic()
            if remaining <= 0:
                break
            received = self._receive(s.batch_size - len(messages), int(min(remaining, 1)))
            messages += received
            if not received and remaining < 1:
                time.sleep(min(remaining, 0.05))
        return messages

    # -- invoking --------------------------------------------------------------------------

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_event_record(message, self.settings.queue_arn)

    def _container(self) -> Container:
        while True:
            with self._lock:
                if not self._idle:
                    break
                container = self._idle.pop()
                if container.expires_at is None or RoleSession.fresh(container.expires_at):
                    return container
                self._all.remove(container)  # its keys expire soon: retire it
            container.close()
        keys = self._role.keys() if self._role else None
        container = Container(
            self.settings,
            self._task_root,
            self.container_env(keys),
            self._log,
            keys.expires_at if keys else None,
        )
        with self._lock:
            self._all.append(container)
        return container

    def _release_container(self, container: Container, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._stop.is_set():
                self._idle.append(container)
                return
            if container in self._all:
                self._all.remove(container)
        container.close()

    def _invoke_and_release(self, messages: list[dict[str, Any]]) -> None:
        ended = False

        def end_invocation() -> None:
            # Once per batch: the slot and the in-flight count, when the handler returns (or
            # the invocation fails before it could run).
            nonlocal ended
            if not ended:
                ended = True
                with self._lock:
                    self.metrics.in_flight -= 1
                self._slots.release()

        with self._lock:
            self.metrics.in_flight += 1
            self.metrics.peak_in_flight = max(self.metrics.peak_in_flight, self.metrics.in_flight)
        try:
            self._invoke(messages, end_invocation)
        except BaseException as exc:
            if not self._stop.is_set():
                self.error = exc
        finally:
            end_invocation()
            if self._groups is not None:  # idempotent; normally done before the deletes
                self._groups.leave(messages)

    def _invoke(self, messages: list[dict[str, Any]], end_invocation: Callable[[], None]) -> None:
        records = [self._record(message) for message in messages]
        with self._lock:
            m = self.metrics
            m.batches += 1
            m.records += len(records)
        container = self._container()
        reply = container.invoke({"Records": records})
        self._release_container(container, healthy=reply is not None)
        end_invocation()
        failed = self._failed_ids(reply, records)
        if self._groups is not None:
            failed = failed_in_order(messages, failed)
            # Before the deletes: until then SQS still holds these groups, so no receive can
            # bring one back while the gate still counts it in flight.
            self._groups.leave(messages)
        done = [message for message in messages if message["MessageId"] not in failed]
        self._delete(done)
        self._hasten(message for message in messages if message["MessageId"] in failed)
        if self._groups is not None:
            self._group_freed.set()
        now = time.time()
        with self._lock:
            m.deleted += len(done)
            if reply is None or "error" in reply:
                m.invoke_errors += 1
            else:
                m.item_failures += len(failed)
            for message in done:
                sent = int(message.get("Attributes", {}).get("SentTimestamp", now * 1000))
                m.record_latency_seconds.append(max(0.0, now - sent / 1000))

    def _failed_ids(self, reply: dict[str, Any] | None, records: list[dict[str, Any]]) -> set[str]:
        """The records to leave for redelivery, with Lambda's rules for the response."""
        every = {record["messageId"] for record in records}
        if reply is None or "error" in reply:  # function error, timeout, crash: whole batch
            return every
        if not self.settings.report_batch_item_failures:
            return set()
        result = reply.get("result")
        if not isinstance(result, dict) or not result.get("batchItemFailures"):
            return set()  # null, {}, or an empty list: all succeeded
        failures = result["batchItemFailures"]
        ids = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)}
        if len(ids) != len(failures) or not ids <= every:
            return every  # malformed or unknown identifier: Lambda fails the whole batch
        return {str(identifier) for identifier in ids}

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            reply = self._sqs.delete_message_batch(
                QueueUrl=self.settings.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]}
                    for i, message in enumerate(chunk)
                ],
            )
            if reply.get("Failed"):
                raise RunnerError(f"delete failed: {reply['Failed']}")

    def _hasten(self, failed: Iterable[dict[str, Any]]) -> None:
        # Opt-in time compression for tests and demos (failed_visibility_s): make failed
        # records visible again after a few seconds instead of the queue's full visibility
        # timeout. Receive counts and the redrive to the DLQ stay moto's.
        if self._failed_visibility_s is None:
            return
        for message in failed:
            self._sqs.change_message_visibility(
                QueueUrl=self.settings.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self._failed_visibility_s,
            )


def local_runtime() -> str:
    """The Lambda runtime the local runner really is: its own interpreter's version."""
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def artifact_for(settings: MappingSettings, shared_zip: Path) -> Path:
    """The zip `settings`' function was deployed from: the shared zip or a worker artifact
    beside it (workers/*.zip), by CodeSha256; a worker artifact only where the function's
    platform is this runner's (its wheels are compiled for it)."""
    if not settings.code_sha256:
        return shared_zip
    candidates = [shared_zip, *sorted((shared_zip.parent / "workers").glob("*.zip"))]
    found = next(
        (z for z in candidates if _digest(z, z.stat().st_mtime_ns) == settings.code_sha256), None
    )
    if found is None:
        raise RunnerError(
            f"{settings.function_name} was deployed from another zip than {shared_zip} or the "
            "worker artifacts beside it (CodeSha256 differs): apply again, or pass the zip it "
            "was built from"
        )
    if found != shared_zip:
        _check_platform(settings, found)
    return found


def _check_platform(settings: MappingSettings, artifact: Path) -> None:
    """A worker artifact carries compiled wheels for one Python and architecture: refuse to
    run it on another, rather than fail inside the handler."""
    here = local_runtime()
    if settings.architecture != "x86_64" or os.uname().machine != "x86_64":
        raise RunnerError(
            f"{settings.function_name} is built for {settings.architecture}, and this machine "
            f"is {os.uname().machine}: its artifact's wheels cannot load here (deploy it as "
            "x86_64 locally, or run it in AWS)"
        )
    built = artifact.parent.parent / "build.json"
    version = json.loads(built.read_text()).get("python_version") if built.is_file() else None
    for what, runtime in (("declares", settings.runtime), ("was built for", f"python{version}")):
        if runtime != here:
            raise RunnerError(
                f"{settings.function_name} {what} {runtime}, but the local runner is {here}: "
                f"its dependencies' wheels are for one Python. Deploy locally with "
                f"lambda_runtime = {here} and build with --python-version "
                f"{here.removeprefix('python')} (stepqueue's local deployment does both)"
            )


class Runner:
    """All deployed SQS mappings of the emulator, run locally until `stop()`.

    `with Runner(endpoint, zip_path) as runner:` ... `runner.metrics()`."""

    def __init__(
        self,
        endpoint: str,
        zip_path: Path,
        *,
        function_prefix: str = "",
        failed_visibility_s: int | None = None,
        log_path: Path | None = None,
        prewarm: bool = False,
        role_credentials: bool | None = None,
    ) -> None:
        """role_credentials: call AWS with each function's role (None: when the emulator
        enforces IAM, which is the only place a role's permissions mean anything)."""
        self.endpoint = endpoint
        self.prewarm = prewarm
        self.zip_path = Path(zip_path)
        if not self.zip_path.is_file():
            raise RunnerError(f"{self.zip_path} is missing: run `make lambda` first")
        self.settings = discover(endpoint, function_prefix)
        # Each function runs from the artifact it was deployed from, as in Lambda: the shared
        # zip, or a worker's own (workers/ beside it), found by CodeSha256.
        self.artifacts = {s.function_name: artifact_for(s, self.zip_path) for s in self.settings}
        self.role_credentials = (
            iam_enforced(endpoint) if role_credentials is None else role_credentials
        )
        self._failed_visibility_s = failed_visibility_s
        self._log_path = log_path
        self._stop = threading.Event()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: TextIO | None = None
        self.mappings: list[MappingRunner] = []

    def start(self) -> Runner:
        # Every role first: a role Lambda could not assume fails before anything runs.
        roles = [self._role_session(settings) for settings in self.settings]
        self._tmp = tempfile.TemporaryDirectory(prefix="stepqueue-runner-")
        roots: dict[Path, Path] = {}
        for artifact in sorted(set(self.artifacts.values())):
            roots[artifact] = Path(self._tmp.name) / f"task-{len(roots)}"
            with zipfile.ZipFile(artifact) as archive:
                archive.extractall(roots[artifact])
        log_path = self._log_path or Path(self._tmp.name) / "containers.log"
        self._log = open(log_path, "a", buffering=1)  # noqa: SIM115 - closed in stop()
        for settings, role in zip(self.settings, roles, strict=True):
            mapping = MappingRunner(
                settings,
                self.endpoint,
                roots[self.artifacts[settings.function_name]],
                self._log,
                self._stop,
                self._failed_visibility_s,
                role,
            )
            self.mappings.append(mapping)
            mapping.start(prewarm=self.prewarm)
        return self

    def _role_session(self, settings: MappingSettings) -> RoleSession | None:
        if not self.role_credentials:
            return None
        if not settings.role_arn:
            raise RunnerError(f"{settings.function_name} has no execution role")
        session = RoleSession(self.endpoint, settings.role_arn, settings.function_name)
        session.keys()
        return session

    def check(self) -> None:
        """Raise the first error a poller or an invocation hit (call it while waiting)."""
        for mapping in self.mappings:
            if mapping.error is not None:
                raise RunnerError(f"{mapping.settings.function_name}: {mapping.error!r}")

    def stop(self) -> None:
        """Stop polling, let running invocations finish (bounded by the function timeouts),
        then end every container. Idempotent."""
        self._stop.set()
        for mapping in self.mappings:
            mapping.join()
        for mapping in self.mappings:
            mapping.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def metrics(self) -> dict[str, MappingMetrics]:
        return {m.settings.function_name: m.metrics for m in self.mappings}

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
