"""The claim check (stepqueue_runtime/payloads.py): outputs over the threshold go to S3 and
leave as a reference; references in an input come back as payloads before the handler runs.
S3 is the session's moto server; Step Functions is a recording stub (the callbacks are what
is checked); handlers record each run."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from stepqueue_runtime import aws, entry, payloads
from stepqueue_runtime.payloads import MARKER, PayloadStore

from tests.support.lambda_support import RecordingClient, body, client_error, event, sqs_record

H = "tests.emulator.lambda.test_payloads."
TOKEN = "token-" + "t" * 40
PREFIX = "sm-orders/"
WRITE = PREFIX + "enrich/"

given: list[Any] = []  # what the handlers below were given, one entry per run


def big(payload: Any, ctx: Any) -> Any:
    given.append(payload)
    return {"data": "x" * int(payload["size"])}


def seen(payload: Any, ctx: Any) -> Any:
    given.append(payload)
    return {"ok": True}


class S3Faults:
    """An S3 client that fails chosen operations and passes the others to moto."""

    def __init__(self, inner: Any, fail: dict[str, Exception]) -> None:
        self.inner, self.fail = inner, fail

    def put_object(self, **kw: Any) -> Any:
        if "put_object" in self.fail:
            raise self.fail["put_object"]
        return self.inner.put_object(**kw)

    def get_object(self, **kw: Any) -> Any:
        if "get_object" in self.fail:
            raise self.fail["get_object"]
        return self.inner.get_object(**kw)


@pytest.fixture
def s3(moto_endpoint: str) -> Iterator[Any]:
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    payloads.set_client(client)
    yield client
    payloads.set_client(None)


@pytest.fixture
def bucket(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    name = f"payloads-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv(payloads.ENV_BUCKET, name)
    monkeypatch.setenv(payloads.ENV_READ_PREFIX, PREFIX)
    monkeypatch.setenv(payloads.ENV_WRITE_PREFIX, WRITE)
    monkeypatch.setenv(payloads.ENV_THRESHOLD, "204800")
    monkeypatch.setenv(payloads.ENV_MAX, str(4 * 1024 * 1024))
    return name


@pytest.fixture
def sfn() -> RecordingClient:
    client = RecordingClient()
    aws.set_client(client)
    given.clear()
    return client


def run(handler: str, payload: Any, monkeypatch: pytest.MonkeyPatch, receive: int = 1) -> list[str]:
    monkeypatch.setenv("STEPQUEUE_HANDLER", H + handler)
    record = sqs_record(body(payload, token=TOKEN), "m1")
    record["attributes"]["ApproximateReceiveCount"] = str(receive)
    response = entry.handler(event(record), None)
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def sent_failure(sfn: RecordingClient) -> tuple[str, str]:
    (call,) = sfn.ops("send_task_failure")
    return call.kwargs["error"], call.kwargs["cause"]


def store_output(bucket: str, value: Any) -> dict[str, Any]:
    """A reference as a produce step writes it, through the store itself."""
    store = payloads.from_env()
    assert store is not None
    output = json.dumps(value, separators=(",", ":"))
    ref = store.offload(output, len(output.encode()), "token-of-the-previous-task")
    assert isinstance(ref, str)
    return dict(json.loads(ref))


def test_a_large_output_is_stored_and_sent_as_a_reference(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("big", {"size": 1_000_000}, monkeypatch) == []
    (call,) = sfn.ops("send_task_success")
    output = call.kwargs["output"]
    assert len(output) < 1024 and sfn.ops("send_task_failure") == []
    ref = json.loads(output)
    assert list(ref) == [MARKER]
    fields = ref[MARKER]
    task = hashlib.sha256(TOKEN.encode()).hexdigest()
    stored = s3.get_object(Bucket=bucket, Key=fields["key"])["Body"].read()
    assert stored == json.dumps({"data": "x" * 1_000_000}, separators=(",", ":")).encode()
    assert fields == {
        "v": 1,
        "bucket": bucket,
        "key": f"{WRITE}{task}/{hashlib.sha256(stored).hexdigest()}.json",
        "bytes": len(stored),
        "sha256": hashlib.sha256(stored).hexdigest(),
    }


def test_an_output_under_the_threshold_is_sent_as_is(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("big", {"size": 1000}, monkeypatch) == []
    (call,) = sfn.ops("send_task_success")
    assert json.loads(call.kwargs["output"]) == {"data": "x" * 1000}
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_without_a_bucket_large_output_still_fails_and_references_pass_through(
    sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(payloads.ENV_BUCKET, raising=False)
    assert run("big", {"size": 300_000}, monkeypatch) == []
    assert sent_failure(sfn)[0] == "Stepqueue.OutputTooLarge"
    ref = {MARKER: {"v": 1, "bucket": "b", "key": "k", "bytes": 1, "sha256": "0" * 64}}
    assert run("seen", {"blob": ref}, monkeypatch) == []
    assert given[-1] == {"blob": ref}  # the feature is off: the input is not touched


def test_a_nested_reference_is_resolved_before_the_handler_runs(
    bucket: str, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    produced = {"rows": ["é" * 10] * 30_000}
    ref = store_output(bucket, produced)
    # ResultPath put the reference beside the rest of the input, and a list holds another.
    payload = {"id": 7, "blob": ref, "more": [1, {"again": ref}]}
    assert run("seen", payload, monkeypatch) == []
    assert given == [{"id": 7, "blob": produced, "more": [1, {"again": produced}]}]
    assert json.loads(sfn.ops("send_task_success")[0].kwargs["output"]) == {"ok": True}


def test_a_reference_at_the_top_is_the_whole_input(
    bucket: str, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store_output(bucket, [1, 2, 3])
    assert run("seen", ref, monkeypatch) == []
    assert given == [[1, 2, 3]]


def _forged(good: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {MARKER: {**good[MARKER], **changes}}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sha256": "0" * 64}, "is not what its reference names"),
        ({"bytes": 10}, "is not what its reference names"),
        ({"v": 2}, "version 2"),
        ({"bucket": "someone-elses"}, "not this one"),
        ({"key": "other-workflow/enrich/" + "a" * 64 + "/" + "b" * 64 + ".json"}, "outside"),
        ({"key": PREFIX + "../x"}, "outside"),
        ({"extra": 1}, "not a reference"),
    ],
)
def test_a_reference_that_is_not_ours_or_not_intact_fails_the_task_unrun(
    bucket: str,
    s3: Any,
    sfn: RecordingClient,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    why: str,
) -> None:
    good = store_output(bucket, {"data": "y" * 300_000})
    assert run("seen", {"blob": _forged(good, change)}, monkeypatch) == []
    error, cause = sent_failure(sfn)
    assert error == "Stepqueue.PayloadUnavailable" and why in cause
    assert given == [] and sfn.ops("send_task_success") == []


def test_an_expired_payload_fails_the_task_unrun(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store_output(bucket, {"data": "z" * 300_000})
    s3.delete_object(Bucket=bucket, Key=ref[MARKER]["key"])  # what the lifecycle rule does
    assert run("seen", {"blob": ref}, monkeypatch) == []
    error, cause = sent_failure(sfn)
    assert error == "Stepqueue.PayloadUnavailable" and "NoSuchKey" in cause
    assert given == []


def test_too_many_references_fail_the_task_unrun(
    bucket: str, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store_output(bucket, {"n": 1})
    assert run("seen", [ref] * (payloads.MAX_REFERENCES + 1), monkeypatch) == []
    assert "more than" in sent_failure(sfn)[1] and given == []


def test_references_over_the_size_budget_fail_the_task_unrun(
    bucket: str, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store_output(bucket, {"data": "q" * 1_500_000})
    assert run("seen", [ref, ref, ref], monkeypatch) == []  # 4.5 MB against 4 MiB
    assert "add up to more than" in sent_failure(sfn)[1] and given == []


def test_a_transient_read_error_redelivers_unrun_then_fails_on_the_last_receive(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store_output(bucket, {"data": "w" * 300_000})
    payloads.set_client(S3Faults(s3, {"get_object": client_error("SlowDown", "GetObject", 503)}))
    monkeypatch.setenv(entry.MAX_RECEIVE_COUNT_ENV, "3")
    assert run("seen", {"blob": ref}, monkeypatch, receive=1) == ["m1"]
    assert given == [] and sfn.ops("send_task_failure") == []
    assert sfn.ops("send_task_success") == []
    # The last receive: giving it back would move it to the DLQ with its task still open.
    assert run("seen", {"blob": ref}, monkeypatch, receive=3) == []
    error, cause = sent_failure(sfn)
    assert error == "Stepqueue.PayloadUnavailable" and "SlowDown" in cause
    assert given == []


def test_a_failed_store_fails_the_task_once_and_is_not_redelivered(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads.set_client(S3Faults(s3, {"put_object": client_error("InternalError", "Put", 500)}))
    assert run("big", {"size": 500_000}, monkeypatch) == []  # acknowledged: the handler ran
    error, cause = sent_failure(sfn)
    assert error == "Stepqueue.PayloadNotStored" and "InternalError" in cause
    assert len(given) == 1 and sfn.ops("send_task_success") == []


def test_an_output_over_the_maximum_is_too_large(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("big", {"size": 5 * 1024 * 1024}, monkeypatch) == []
    error, cause = sent_failure(sfn)
    assert error == "Stepqueue.OutputTooLarge" and "payload_max_bytes" in cause
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_a_task_written_twice_writes_one_object(
    bucket: str, s3: Any, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redelivered task whose handler gives the same output writes the same key."""
    for _ in range(2):
        assert run("big", {"size": 250_000}, monkeypatch) == []
    first, second = (json.loads(c.kwargs["output"]) for c in sfn.ops("send_task_success"))
    assert first == second
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({payloads.ENV_READ_PREFIX: "a/b/"}, "READ_PREFIX"),
        ({payloads.ENV_WRITE_PREFIX: "other/enrich/"}, "WRITE_PREFIX"),
        ({payloads.ENV_WRITE_PREFIX: PREFIX + "Bad-Worker/"}, "WRITE_PREFIX"),
        ({payloads.ENV_THRESHOLD: "300000"}, "THRESHOLD"),
        ({payloads.ENV_MAX: "2000"}, "MAX_BYTES"),
    ],
)
def test_settings_that_are_not_terraform_s_are_refused(env: dict[str, str], problem: str) -> None:
    base = {
        payloads.ENV_BUCKET: "b",
        payloads.ENV_READ_PREFIX: PREFIX,
        payloads.ENV_WRITE_PREFIX: WRITE,
    }
    with pytest.raises(ValueError, match=problem):
        payloads.from_env({**base, **env})
    assert payloads.from_env({}) is None
    assert payloads.from_env(base) == PayloadStore("b", PREFIX, WRITE)


def test_the_example_workflow_through_the_runtime(
    bucket: str, sfn: RecordingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples.payloads: produce's 1 MB leaves as a reference; digest, given the input Step
    Functions builds with ResultPath $.blob, gets the payload and finds it intact."""
    start = {"seed": "s", "size_bytes": 1_048_576}

    def task(spec: str, payload: Any) -> Any:
        monkeypatch.setenv("STEPQUEUE_HANDLER", spec)
        record = sqs_record(body(payload, token=TOKEN), "m")
        assert entry.handler(event(record), None) == {"batchItemFailures": []}
        assert sfn.ops("send_task_failure") == []
        return json.loads(sfn.ops("send_task_success")[-1].kwargs["output"])

    ref = task("examples.payloads.produce", start)
    assert list(ref) == [MARKER]
    result = task("examples.payloads.digest", {**start, "blob": ref})
    assert result["bytes"] == 1_048_576 and result["intact"] is True
