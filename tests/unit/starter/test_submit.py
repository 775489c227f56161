"""`stepqueue submit`: idempotent names, bounded and located input errors (exit 2, nothing
sent), SendMessageBatch in groups of 10 within 256 KiB, and a body the starter accepts."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stepqueue_starter import messages

from stepqueue import cli
from stepqueue.ops import submit, submit_command

OUTPUTS = {
    "state_machine_arns": {"orders": "arn:aws:states:us-east-1:123456789012:stateMachine:orders"},
    "start_queue_url": "http://sqs/start",
}


class FakeSqs:
    def __init__(self, fail_once: set[int] | None = None) -> None:
        self.batches: list[list[dict[str, str]]] = []
        self.fail_once = set(fail_once or ())
        self.sent = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        assert QueueUrl == OUTPUTS["start_queue_url"]
        assert 1 <= len(Entries) <= 10
        assert sum(len(e["MessageBody"].encode()) for e in Entries) <= 262_144
        self.batches.append(Entries)
        ok, failed = [], []
        for entry in Entries:
            number = self.sent
            self.sent += 1
            if number in self.fail_once:
                self.fail_once.discard(number)
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                ok.append({"Id": entry["Id"], "MessageId": f"m{number}"})
        return {"Successful": ok, "Failed": failed}


@pytest.fixture
def sqs() -> FakeSqs:
    return FakeSqs()


@pytest.fixture
def run(
    sqs: FakeSqs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    monkeypatch.setattr(
        submit_command, "_deployment", lambda args, target_for: (OUTPUTS, lambda _: sqs)
    )

    def invoke(*args: str) -> tuple[int, str, str]:
        code = cli.main(["submit", *args, "--env", "local"])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def test_names_are_derived_from_workflow_canonical_input_and_key() -> None:
    a = submit.parse_value('{"b": 1, "a": [1, 2]}', "x")
    b = submit.parse_value('{ "a": [1,2], "b": 1 }', "x")
    assert a == b
    name = submit.execution_name("orders", a)
    assert name == submit.execution_name("orders", b)
    assert len(name) == 64 and messages.EXECUTION_NAME.match(name)
    assert name != submit.execution_name("orders", a, key="2027-01-01")
    assert name != submit.execution_name("media", a)
    assert name != submit.execution_name("orders", submit.parse_value('{"b": 2}', "x"))


def test_the_body_is_what_the_starter_accepts() -> None:
    assert submit.BODY_MAX_BYTES == messages.BODY_MAX_BYTES
    text = submit.parse_value('{"z": "é", "a": [1.5, null, "x"]}', "x")
    made = submit.submission("orders", text, "x", None, "")
    parsed = messages.parse(made.body())
    assert (parsed.workflow, parsed.name, parsed.input) == ("orders", made.name, text)


def test_each_sends_every_line_ten_at_a_time_and_the_same_input_gets_the_same_name(
    run: Callable[..., tuple[int, str, str]], sqs: FakeSqs, tmp_path: Path
) -> None:
    lines = [json.dumps({"n": i % 20}) for i in range(23)] + ["", "  "]  # 3 repeats, blanks
    each = tmp_path / "burst.jsonl"
    each.write_text("\n".join(lines) + "\n")
    code, out, err = run("orders", "--each", str(each))
    assert code == 0, err
    assert [len(b) for b in sqs.batches] == [10, 10, 3]
    printed = [json.loads(line) for line in out.splitlines()]
    assert len(printed) == 23
    assert printed[0]["source"] == f"{each}:1"
    assert len({p["name"] for p in printed}) == 20
    assert printed[20]["name"] == printed[0]["name"]  # {"n": 0} again
    assert "submitted 23 of 23 message(s), 20 distinct" in err


def test_a_failed_entry_is_sent_again(
    run: Callable[..., tuple[int, str, str]], sqs: FakeSqs, tmp_path: Path
) -> None:
    sqs.fail_once = {3}
    each = tmp_path / "e.jsonl"
    each.write_text("\n".join(json.dumps({"n": i}) for i in range(5)))
    code, out, err = run("orders", "--each", str(each))
    assert code == 0, err
    assert [len(b) for b in sqs.batches] == [5, 1]
    assert len(out.splitlines()) == 5


def test_batches_stay_within_256_kib() -> None:
    big = submit.parse_value(json.dumps({"blob": "x" * 100_000}), "x")
    items = [submit.submission("orders", big, f"x:{i}", None, str(i)) for i in range(5)]
    assert [len(b) for b in submit.batches(items)] == [2, 2, 1]


def test_an_input_file_and_a_given_name(
    run: Callable[..., tuple[int, str, str]], sqs: FakeSqs, tmp_path: Path
) -> None:
    data = tmp_path / "order.json"
    data.write_text('{"id": 7}')
    code, out, err = run("orders", "--input", str(data), "--name", "order-7")
    assert code == 0, err
    [entry] = sqs.batches[0]
    assert json.loads(entry["MessageBody"]) == {
        "workflow": "orders",
        "name": "order-7",
        "input": {"id": 7},
    }
    assert json.loads(out)["name"] == "order-7"


def _bad(tmp_path: Path) -> list[tuple[list[str], str]]:
    not_json = tmp_path / "bad.jsonl"
    not_json.write_text('{"ok": 1}\n\n{"broken": \n')
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * (250 * 1024)}))
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"name": "caf\xe9"}')
    return [
        (["orders", "--input", str(tmp_path / "missing.json")], "missing.json: no such file"),
        (["orders", "--each", str(not_json)], "bad.jsonl:3: not JSON"),
        (["orders", "--input", str(big)], "big.json: over 245,760 bytes"),
        (["orders", "--input", str(latin)], "latin.json: not UTF-8"),
        (["orders", "--each", str(not_json), "--name", "x"], "--name names one execution"),
        (["orders", "--name", "has space"], "is not an execution name"),
        (["Orders!"], "is not a workflow name"),
        (["payroll"], "no workflow 'payroll' in the deployment (deployed: orders)"),
    ]


def test_bad_input_is_one_line_exit_2_and_nothing_sent(
    run: Callable[..., tuple[int, str, str]], sqs: FakeSqs, tmp_path: Path
) -> None:
    for args, expected in _bad(tmp_path):
        code, out, err = run(*args)
        assert code == 2, (args, err)
        assert expected in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
        assert out == ""
    assert sqs.batches == []


def test_stdin_input(monkeypatch: pytest.MonkeyPatch) -> None:
    text, where = submit.read_input("-", io.BytesIO(b'\xef\xbb\xbf{"a": 1}'))
    assert (text, where) == ('{"a":1}', "stdin")
    read = list(submit.read_each("-", io.BytesIO(b'1\n"two"\n')))
    assert read == [("1", "stdin:1"), ('"two"', "stdin:2")]


def test_no_start_queue_in_the_deployment_is_a_failure(
    run: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = {**OUTPUTS, "start_queue_url": None}
    monkeypatch.setattr(submit_command, "_deployment", lambda a, t: (outputs, lambda _: None))
    code, _, err = run("orders")
    assert code == 1
    assert "no start queue" in err
