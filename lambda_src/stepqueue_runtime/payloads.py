"""Large payloads through S3 (a claim check; docs/contracts.md, "Large payloads").

A handler's output over the threshold is stored in the deployment's payload bucket and the task
succeeds with a small *reference* instead; a later worker of the same workflow finds references
in its input and replaces each with the payload it names before its handler runs, so handlers
only ever see payloads. Off (exactly the behaviour without it) unless ``STEPQUEUE_PAYLOAD_BUCKET``
is set, which the worker module does when the Terraform root enables the bucket.

A reference is one JSON object with one key::

    {"stepqueue:payload": {"v": 1, "bucket": "...", "key": "...", "bytes": 1048576,
                           "sha256": "<hex of the stored UTF-8 JSON>"}}

Keys are ``<write prefix><sha256 of the task token>/<sha256 of the content>.json``, the write
prefix being ``<state machine name>/<worker>/``: two tasks never share a key, a task written
twice (a redelivery) writes the same bytes to the same key, and a reader accepts only keys of
this shape under its own workflow's prefix in its own bucket, then checks size and digest.

boto3's S3 client is made only when a reference or an oversize output first appears.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepqueue_aws import Retries, cached_client, error_code, inject_client

from stepqueue_runtime.errors import Failure, failure
from stepqueue_runtime.limits import OUTPUT_MAX_BYTES

MARKER = "stepqueue:payload"
# A record's raw body holds this exactly when its input may hold a reference: Step Functions
# writes JSON keys unescaped, and only then is the (parsed) input walked.
MARKER_JSON = '"' + MARKER + '"'
VERSION = 1
_FIELDS = frozenset({"v", "bucket", "key", "bytes", "sha256"})

ENV_BUCKET = "STEPQUEUE_PAYLOAD_BUCKET"
ENV_READ_PREFIX = "STEPQUEUE_PAYLOAD_READ_PREFIX"
ENV_WRITE_PREFIX = "STEPQUEUE_PAYLOAD_WRITE_PREFIX"
ENV_THRESHOLD = "STEPQUEUE_PAYLOAD_THRESHOLD_BYTES"
ENV_MAX = "STEPQUEUE_PAYLOAD_MAX_BYTES"

DEFAULT_THRESHOLD_BYTES = 204_800  # 200 KiB: room under 256 KiB for the rest of a state's data
DEFAULT_MAX_BYTES = 33_554_432  # 32 MiB: what one worker may store or read per payload
# References resolved in one input, at most: a state's input holds one per offloaded result it
# kept (ResultPath), so a handful; more is not what the runtime writes.
MAX_REFERENCES = 16

PAYLOAD_NOT_STORED = "Stepqueue.PayloadNotStored"
PAYLOAD_UNAVAILABLE = "Stepqueue.PayloadUnavailable"
OUTPUT_TOO_LARGE = "Stepqueue.OutputTooLarge"

# Patterns as text: ``re`` compiles (and caches) them on first use, not at import.
# A reader accepts, under its workflow's prefix: <worker>/<task hash>/<content hash>.json.
_KEY_TAIL = r"[a-z][a-z0-9_]{0,29}/[0-9a-f]{64}/[0-9a-f]{64}\.json"
_HEX64 = r"[0-9a-f]{64}"
# The prefixes Terraform sets: "<state machine name>/" and "<state machine name>/<worker>/".
_READ_PREFIX = r"[A-Za-z0-9_-]{1,80}/"
_WORKER_SEGMENT = r"[a-z][a-z0-9_]{0,29}/"

# As the runtime's other clients: few retries (SQS redelivery or the execution's Retry is the
# outer one), short timeouts; the deadline guard bounds the whole.
RETRIES = Retries(max_attempts=3, connect_timeout=5, read_timeout=15)
SERVICE = "s3"
_clients: dict[str, Any] = {}

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def get_client() -> Any:
    return cached_client(_clients, SERVICE, RETRIES)


def set_client(client: Any) -> None:
    """Tests inject a client (moto's); None makes the next use create a real one."""
    inject_client(_clients, SERVICE, client)


class PayloadError(Exception):
    """A reference in the input could not be resolved. ``transient``: an AWS error that may
    pass (the record is redelivered, its handler has not run); else the task is failed."""

    code = PAYLOAD_UNAVAILABLE  # the task's error when it is failed

    def __init__(self, cause: str, *, transient: bool = False, aws_code: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.transient = transient
        self.aws_code = aws_code  # the S3 error met, if any (a log field)


@dataclass(frozen=True, slots=True)
class PayloadStore:
    bucket: str
    read_prefix: str  # "<state machine>/": the references this worker accepts
    write_prefix: str  # "<state machine>/<worker>/": where its outputs go
    threshold_bytes: int = DEFAULT_THRESHOLD_BYTES
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not self.bucket or "/" in self.bucket:
            raise ValueError(f"{ENV_BUCKET} is not a bucket name: {self.bucket!r}")
        if not re.fullmatch(_READ_PREFIX, self.read_prefix):
            raise ValueError(f"{ENV_READ_PREFIX} is not '<state machine>/': {self.read_prefix!r}")
        tail = self.write_prefix[len(self.read_prefix) :]
        if not self.write_prefix.startswith(self.read_prefix) or not re.fullmatch(
            _WORKER_SEGMENT, tail
        ):
            raise ValueError(
                f"{ENV_WRITE_PREFIX} is not '<read prefix><worker>/': {self.write_prefix!r}"
            )
        if not 1_024 <= self.threshold_bytes <= OUTPUT_MAX_BYTES:
            raise ValueError(f"{ENV_THRESHOLD} must be 1024..{OUTPUT_MAX_BYTES}")
        if self.max_bytes < self.threshold_bytes:
            raise ValueError(f"{ENV_MAX} must be at least {ENV_THRESHOLD}")

    # -- output ---------------------------------------------------------------------------

    def offload(self, output: str, size: int, task_token: str) -> str | Failure:
        """The reference to send instead of ``output`` (``size`` UTF-8 bytes, over the
        threshold), or the task failure saying why it could not be stored. Never raises: the
        handler has run, so whatever happens here is reported, never redelivered."""
        if size > self.max_bytes:
            cause = (
                f"handler output is {size} bytes of JSON; the payload bucket takes at most "
                f"{self.max_bytes} per task (payload_max_bytes). Store it yourself and return "
                "a reference of your own."
            )
            return failure(OUTPUT_TOO_LARGE, cause)
        try:
            import hashlib  # here: it loads OpenSSL (ms of cold start)

            data = output.encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
            task = hashlib.sha256(task_token.encode("utf-8")).hexdigest()
            key = f"{self.write_prefix}{task}/{digest}.json"
            get_client().put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType="application/json"
            )
        except Exception as exc:  # after the handler: a report, whatever went wrong
            cause = (
                f"handler output ({size} bytes) could not be stored in s3://{self.bucket}/"
                f"{self.write_prefix}: {error_code(exc)}: {_text(exc)}. The handler ran; "
                f"retry the state on {PAYLOAD_NOT_STORED} to run it again."
            )
            return failure(PAYLOAD_NOT_STORED, cause)
        ref = {"v": VERSION, "bucket": self.bucket, "key": key, "bytes": size, "sha256": digest}
        return str(_ENCODE({MARKER: ref}))

    # -- input ----------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """``value`` with every reference in it replaced by the payload it names (in place;
        the top level returned). At most ``MAX_REFERENCES`` references and ``max_bytes`` in
        all; resolved payloads are not searched again. Raises PayloadError."""
        budget = [self.max_bytes, MAX_REFERENCES]
        if type(value) is dict and MARKER in value:
            return self._fetch(value, budget)
        stack = [value]
        while stack:
            node = stack.pop()
            if type(node) is dict:
                entries: Any = list(node.items())
            elif type(node) is list:
                entries = list(enumerate(node))
            else:
                continue
            for slot, item in entries:
                if type(item) is dict:
                    if MARKER in item:
                        node[slot] = self._fetch(item, budget)
                    else:
                        stack.append(item)
                elif type(item) is list:
                    stack.append(item)
        return value

    def _fetch(self, ref: dict[str, Any], budget: list[int]) -> Any:
        bucket, key, size, digest = self._check(ref, budget)
        where = f"s3://{bucket}/{key}"
        try:
            reply = get_client().get_object(Bucket=bucket, Key=key)
            stream = reply["Body"]
            try:
                data = stream.read(size + 1)  # one byte more shows an object that grew
            finally:
                stream.close()
        except Exception as exc:
            code = error_code(exc)
            transient = _transient(exc)
            hint = (
                " (expired by the bucket's lifecycle rule, or never stored)"
                if code in ("NoSuchKey", "AccessDenied")
                else ""
            )
            raise PayloadError(
                f"the input's payload {where} could not be read: {code}{hint}",
                transient=transient,
                aws_code=code,
            ) from None
        import hashlib

        if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
            raise PayloadError(f"the input's payload {where} is not what its reference names")
        try:
            return json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise PayloadError(f"the input's payload {where} is not JSON: {exc}") from None

    def _check(self, ref: dict[str, Any], budget: list[int]) -> tuple[str, str, int, str]:
        """The reference's fields, once proven to be a reference this worker may read."""
        body = ref.get(MARKER)
        if len(ref) != 1 or type(body) is not dict or body.keys() != _FIELDS:
            raise PayloadError(
                f"the input holds an object with key {MARKER!r} that is not a reference "
                f"(one key; fields {sorted(_FIELDS)})"
            )
        version = body["v"]
        if version != VERSION or type(version) is not int:
            raise PayloadError(
                f"the input holds a reference of version {version!r}; this runtime reads "
                f"version {VERSION} (deploy the newer runtime to every worker)"
            )
        bucket, key, size, digest = body["bucket"], body["key"], body["bytes"], body["sha256"]
        if bucket != self.bucket:
            raise PayloadError(f"the input's reference names bucket {bucket!r}, not this one")
        if (
            type(key) is not str
            or not key.startswith(self.read_prefix)
            or not re.fullmatch(_KEY_TAIL, key[len(self.read_prefix) :])
        ):
            raise PayloadError(
                f"the input's reference names key {str(key)[:300]!r}, outside this workflow's "
                f"payloads ({self.read_prefix}<worker>/<task>/<sha256>.json)"
            )
        if type(digest) is not str or not re.fullmatch(_HEX64, digest):
            raise PayloadError("the input's reference has no SHA-256 of its payload")
        if type(size) is not int or size < 0:
            raise PayloadError("the input's reference has no size in bytes")
        budget[1] -= 1
        if budget[1] < 0:
            raise PayloadError(f"the input holds more than {MAX_REFERENCES} references")
        budget[0] -= size
        if budget[0] < 0:
            raise PayloadError(
                f"the input's payloads add up to more than {self.max_bytes} bytes "
                "(payload_max_bytes)"
            )
        return bucket, key, size, digest


def from_env(environ: Mapping[str, str] = os.environ) -> PayloadStore | None:
    """The store the worker module configured, or None (no bucket: the feature is off).
    A bucket with invalid settings raises: a deployment error, not something to guess at."""
    bucket = environ.get(ENV_BUCKET, "")
    if not bucket:
        return None
    return PayloadStore(
        bucket,
        environ.get(ENV_READ_PREFIX, ""),
        environ.get(ENV_WRITE_PREFIX, ""),
        int(environ.get(ENV_THRESHOLD) or DEFAULT_THRESHOLD_BYTES),
        int(environ.get(ENV_MAX) or DEFAULT_MAX_BYTES),
    )


def _transient(exc: Exception) -> bool:
    """Whether a failed read may succeed on redelivery: throttling, 5xx, the network. Anything
    that is not an AWS failure at all counts too (the handler has not run: redelivery is safe,
    and the last receive fails the task rather than the DLQ)."""
    from stepqueue_runtime.aws import ErrorKind, classify

    kind = classify(exc)
    return kind is None or kind is ErrorKind.TRANSIENT


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:1_000]
    except Exception:
        return type(exc).__name__
