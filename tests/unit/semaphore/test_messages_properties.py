"""The waiting room's bodies, whatever arrives (hypothesis): reading never raises, so no body
can fail a batch; an acquire's top-level token is always recovered, so its execution can be
failed at once however unreadable the rest is; every cursor the store writes is accepted and
anything else refused before the sweep runs. Which failures are retried (faults.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from hypothesis import given, settings
from hypothesis import strategies as st
from stepqueue_gatekeeper.faults import transient
from stepqueue_gatekeeper.messages import (
    BODY_MAX_BYTES,
    OPS,
    TOKEN_MAX,
    UNREADABLE,
    MessageError,
    parse,
    read,
    salvage,
)
from stepqueue_gatekeeper.store import ConcurrentWriter

from tests.support.hypothesis_profiles import examples

SEM = "orders"
ARN = "arn:aws:states:us-east-1:123456789012:execution:orders:"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
# Text the parser must survive: anything, JSON-looking fragments, and bodies nested deep.
fragments = st.sampled_from(['{"', "[", "]", "{", "}", '"', "\\", ",", ":", '"op"', "acquire"])
hostile_text = st.one_of(
    st.text(max_size=200),
    st.lists(fragments, max_size=60).map("".join),
    values.map(json.dumps),
    st.integers(min_value=150, max_value=5_000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=150, max_value=5_000).map(lambda n: '{"a":' * n + "1" + "}" * n),
)


@settings(max_examples=examples(3))
@given(body=hostile_text, group=st.none() | st.just(SEM))
def test_reading_any_body_never_raises(body: str, group: str | None) -> None:
    message = read("m", group, body)
    assert message.op in OPS or message.op == UNREADABLE
    with contextlib.suppress(MessageError):  # the only way a body is refused
        parse("m", group, body)


@settings(max_examples=examples(3))
@given(
    op=st.sampled_from([*sorted(OPS), "grab"]),
    fields=st.dictionaries(
        st.sampled_from(["execution", "acquire", "key", "priority", "limit", "cursor", "at_ms"]),
        values,
        max_size=5,
    ),
)
def test_a_body_of_our_shape_with_fields_of_any_type_is_read(
    op: str, fields: dict[str, Any]
) -> None:
    message = read("m", SEM, json.dumps({"op": op, "semaphore": SEM, **fields}))
    assert message.op in (op, UNREADABLE)
    if message.op == UNREADABLE:
        assert message.problem


@settings(max_examples=examples(3))
@given(
    token=st.text(min_size=1, max_size=TOKEN_MAX),
    before=st.dictionaries(st.text(max_size=6).filter(lambda k: k != "token"), values, max_size=3),
    nested=st.integers(min_value=0, max_value=3_000),
    priority=values,
)
def test_an_acquires_token_is_recovered_however_unreadable_the_rest(
    token: str, before: dict[str, Any], nested: int, priority: Any
) -> None:
    """Members before it of any kind, a key nested past any bound, a priority of any type:
    the execution can still be answered."""
    head = {**before, "op": "acquire", "semaphore": SEM, "execution": ARN + "e"}
    body = json.dumps({**head, "acquire": "ab" * 16, "token": token, "priority": priority})
    body = body[:-1] + ', "key": ' + "[" * nested + '"k"' + "]" * nested + "}"
    message = read("m", SEM, body)
    assert message.token == token and message.execution == ARN + "e"


@settings(max_examples=examples(3))
@given(data=st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_salvage_reads_the_top_level_strings_as_json_does(data: dict[str, Any]) -> None:
    text = json.dumps(data)
    assert salvage(text) == {k: v for k, v in data.items() if isinstance(v, str)}


def test_salvage_gives_up_on_what_is_too_big() -> None:
    assert salvage('{"token": "t", "x": "' + "y" * (4 * BODY_MAX_BYTES) + '"}') == {}


execution_names = st.text(
    alphabet=st.characters(blacklist_characters=":", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=examples(2))
@given(name=execution_names)
def test_every_cursor_the_store_writes_is_accepted(name: str) -> None:
    """store.holders_page writes the index's LastEvaluatedKey as sorted JSON."""
    key = {"holder_of": {"S": SEM}, "id": {"S": f"{SEM}#h#{ARN}{name}"}}
    cursor = json.dumps(key, sort_keys=True)
    body = json.dumps({"op": "sweep", "semaphore": SEM, "cursor": cursor})
    assert parse("m", SEM, body).cursor == cursor


@settings(max_examples=examples(2))
@given(cursor=st.text(min_size=1, max_size=200) | values.map(json.dumps))
def test_any_other_cursor_is_refused_before_the_sweep(cursor: str) -> None:
    body = json.dumps({"op": "sweep", "semaphore": SEM, "cursor": cursor})
    with pytest.raises(MessageError):
        parse("m", SEM, body)


# -- which failures are retried ---------------------------------------------------------------


class Answered(Exception):
    """An error a service answered, shaped as botocore's ClientError where it is read."""

    def __init__(self, code: str, status: int = 400, reasons: list[str] | None = None) -> None:
        super().__init__(code)
        self.response: dict[str, Any] = {
            "Error": {"Code": code},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        if reasons is not None:
            self.response["CancellationReasons"] = [{"Code": r} for r in reasons]


@pytest.mark.parametrize(
    "exc",
    [
        Answered("ThrottlingException"),
        Answered("ProvisionedThroughputExceededException"),
        Answered("RequestLimitExceeded"),
        Answered("InternalServerError", 500),
        Answered("ServiceUnavailable", 503),
        Answered("SomethingNew", 502),
        Answered("TooManyRequests", 429),
        Answered("TransactionCanceledException", 400, ["None", "ConditionalCheckFailed"]),
        Answered("TransactionCanceledException", 400, ["TransactionConflict"]),
        ConcurrentWriter("orders"),
        ReadTimeoutError(endpoint_url="https://x"),
        ConnectTimeoutError(endpoint_url="https://x"),
        EndpointConnectionError(endpoint_url="https://x"),
        ConnectionResetError(),
        TimeoutError(),
    ],
    ids=repr,
)
def test_transient_causes_are_retried(exc: BaseException) -> None:
    assert transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        Answered("AccessDeniedException"),
        Answered("ValidationException"),
        Answered("InvalidToken"),
        Answered("ResourceNotFoundException"),
        Answered("KMSAccessDeniedException"),
        Answered("TransactionCanceledException", 400, ["None", "ValidationError"]),
        MessageError("body is not JSON"),
        ValueError("a bug"),
        KeyError("run"),
    ],
    ids=repr,
)
def test_anything_else_is_not(exc: BaseException) -> None:
    assert not transient(exc)
