"""`stepqueue semaphore set | status` against the waiting room on the emulator (no Terraform:
the table and the queue are given with --table / --queue-url), with the real gatekeeper pumped
with FIFO semantics."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from stepqueue import cli
from stepqueue.local.emulator import Emulator
from testkit import waiting_room as room
from testkit.semaphore_requests import generate_definition_template
from tests.support.semaphore import acquire_posted
from tests.support.waiting import until, wait_until_ended

HOLD = "StartAt: Hold\nStates:\n  Hold: {{Type: Wait, Seconds: {seconds}, End: true}}\n"


def _deploy(emulator: Emulator, name: str, limit: int, seconds: int) -> tuple[str, str]:
    ddb, sqs, sfn = (emulator.client(s) for s in ("dynamodb", "sqs", "stepfunctions"))
    spec = f"name: {name}\nconcurrency: {{limit: {limit}, mode: waiting_room}}\n" + HOLD.format(
        seconds=seconds
    )
    room.create_table(ddb, name, {name: limit})
    url = room.create_queue(sqs, name)
    return room.create_machine(sfn, name, generate_definition_template(spec), name, url), url


def _start(sfn: Any, machine: str, n: int) -> list[str]:
    arns = []
    for i in range(n):  # one at a time: the arrival order is the start order
        arn = sfn.start_execution(stateMachineArn=machine, name=f"e{i:03d}")["executionArn"]
        until(f"e{i:03d}'s acquire posted", partial(acquire_posted, sfn, arn), every=0.02)
        arns.append(arn)
    return arns


def _queued(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


@pytest.fixture
def run_cli(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> Callable[..., tuple[int, str, str]]:
    """`stepqueue semaphore ... --env local` against this session's emulator."""
    # A project of the test's own: its port file names this session's emulator.
    (tmp_path / "stepqueue.toml").write_text("")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "emulator.port").write_text(emulator.endpoint.rsplit(":", 1)[1])

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["semaphore", *args, "--env", "local", "--project", str(tmp_path)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# -- the contract with the gatekeeper, without an emulator ----------------------------------


# -- on the emulator ----------------------------------------------------------------------------


def test_status_shows_what_the_items_hold(
    emulator: Emulator, unique_name: str, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    machine, url = _deploy(emulator, unique_name, limit=2, seconds=30)
    sfn, ddb, sqs = (emulator.client(s) for s in ("stepfunctions", "dynamodb", "sqs"))
    # A second semaphore in the same table, never used: status of all lists both.
    other = unique_name + "-b"
    ddb.put_item(TableName=unique_name, Item={"id": {"S": other}, "limit": {"N": "4"}})
    pump = room.Pump(emulator, unique_name, url)
    arns = _start(sfn, machine, 5)
    until("the 5 acquires are in the queue", lambda: _queued(sqs, url) == 5)
    pump.drain()
    time.sleep(1.2)  # a fixed time: the clock must run, the oldest wait is asserted >= 1 s
    code, out, err = run_cli("status", unique_name, "--table", unique_name, "--json")
    assert (code, err) == (0, "")
    (one,) = json.loads(out)
    assert {k: one[k] for k in ("semaphore", "limit", "held", "waiting", "pending")} == {
        "semaphore": unique_name,
        "limit": 2,
        "held": 2,
        "waiting": 3,
        # The two grants were sent; their delivery is recorded by the semaphore's next commit.
        "pending": 2,
    }
    assert 1.0 <= one["oldest_wait_seconds"] < 30
    # The counter's copy of the tails catches up only when the semaphore's own group next runs
    # (while every slot is held, maybe not soon): status reads the arrivals group's item, so a
    # copy that lags hides no waiter.
    ddb.update_item(
        TableName=unique_name,
        Key={"id": {"S": unique_name}},
        UpdateExpression="SET tail = head",
    )
    code, out, _ = run_cli("status", unique_name, "--table", unique_name, "--json")
    assert json.loads(out)[0]["waiting"] == 3
    code, out, _ = run_cli("status", "--table", unique_name)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("SEMAPHORE")
    assert [line.split()[:4] for line in lines[1:]] == [
        [unique_name, "2", "2", "3"],
        [other, "4", "0", "0"],
    ]
    for arn in arns:
        sfn.stop_execution(executionArn=arn)


def test_errors_are_one_clear_line(
    emulator: Emulator, unique_name: str, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    _, url = _deploy(emulator, unique_name, limit=2, seconds=1)
    where = ("--table", unique_name, "--queue-url", url)
    code, _, err = run_cli("set", unique_name, "--limit", "0", *where)
    assert code == 2 and "out of range: a waiting-room limit is 1..100000" in err  # bad input
    code, _, err = run_cli("set", "nosuch", "--limit", "3", *where)
    assert code == 1 and f"no semaphore 'nosuch' in table {unique_name}" in err
    assert unique_name in err  # names the ones that exist
    code, _, err = run_cli("set", unique_name, "--limit", "3", "--table", unique_name)
    assert code == 2 and "--queue-url is needed" in err
    code, _, err = run_cli("status", "--table", "no-such-table")
    assert code == 1 and "ResourceNotFoundException" in err
    code, _, err = run_cli("status", "Bad_Name", "--table", unique_name)
    assert code == 2 and "not valid" in err
    assert "Traceback" not in err
    # Nothing was posted by the refused requests.
    reply = emulator.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert reply.get("Messages", []) == []


def test_set_lowers_then_raises_the_limit(
    emulator: Emulator, unique_name: str, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    """Lowering revokes nothing and grants nothing until fewer hold than the new limit;
    raising admits the waiters at once. Holders never exceed the limit in force."""
    # Bodies long enough that the three still hold once the waiters' arrivals are recorded:
    # under load the arrivals group records them seconds after they are sent (8 s was seen).
    machine, url = _deploy(emulator, unique_name, limit=3, seconds=15)
    sfn, ddb = emulator.client("stepfunctions"), emulator.client("dynamodb")
    where = ("--table", unique_name, "--queue-url", url)
    samples: list[dict[str, int]] = []

    def sample() -> dict[str, int]:
        now = room.counter(ddb, unique_name, unique_name, recorded_arrivals=True)
        samples.append(now)
        return now

    with room.Pump(emulator, unique_name, url) as pump:
        arns = _start(sfn, machine, 6)
        until(
            "3 hold, 3 wait, none of them served yet",
            lambda: (lambda now: (now["held"], now["head"], now["tail"]) == (3, 3, 6))(sample()),
        )
        code, out, err = run_cli("set", unique_name, "--limit", "1", *where)
        assert code == 0, err
        assert "3 -> 1" in out and "none is revoked" in out
        until("limit 1 applied", lambda: sample()["limit"] == 1)
        assert sample()["held"] == 3  # nothing revoked
        # The three finish; one waiter at a time is served from then on.
        until("the first waiter served", lambda: sample()["head"] == 4, timeout=40)
        time.sleep(1)  # a fixed window: no second waiter may be served in it (limit 1)
        assert sample()["held"] == 1 and sample()["tail"] - sample()["head"] == 2
        code, out, err = run_cli("set", unique_name, "--limit", "4", *where, "--json")
        assert code == 0, err
        posted = json.loads(out)  # one document: what was posted, and the state before it
        assert (posted["limit_before"], posted["limit"], posted["held"]) == (1, 4, 1)
        assert "1 -> 4" in posted["message"] and posted["message_id"]
        until("the rest admitted at once", lambda: sample()["head"] == 6, timeout=5)
        described = [wait_until_ended(sfn, a, timeout=60) for a in arns]
        # A release is posted before its execution ends and served after: under load the
        # last one can still be in the queue when every execution reads SUCCEEDED.
        until("the last release served", lambda: sample()["held"] == 0, timeout=20)
    assert pump.error is None
    assert [d["status"] for d in described] == ["SUCCEEDED"] * 6
    inv = pump.inv
    assert (inv.over_limit, inv.count_mismatch, inv.fifo_inversions(), inv.stuck) == (0, 0, 0, 0)
    assert inv.grants == inv.arrivals and sorted(inv.grants) == arns  # arrival order, once
    # Sampled from outside: a holder was only ever added while fewer held than the limit.
    for before, after in itertools.pairwise(samples):
        if after["held"] > before["held"]:
            assert after["held"] <= after["limit"], (before, after)
    code, out, _ = run_cli("status", unique_name, "--table", unique_name, "--json")
    assert json.loads(out)[0]["limit"] == 4 and json.loads(out)[0]["held"] == 0
