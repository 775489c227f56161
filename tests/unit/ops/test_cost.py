"""`stepqueue cost`: the estimate for workflows/orders.yaml checked against a calculation done
by hand below, and the model's rules (retries, loops, free waits, bad input)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepqueue import cli
from stepqueue.ops.prices import US_EAST_1
from stepqueue.paths import REPO

ORDERS = str(REPO / "workflows" / "orders.yaml")
# us-east-1, per unit
TRANSITION = 0.025 / 1000
SQS_STD = 0.40 / 1e6
SQS_FIFO = 0.50 / 1e6
LAMBDA_REQUEST = 0.20 / 1e6
GB_S = 0.0000166667
WRITE_UNIT = 0.625 / 1e6


def _cost(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert cli.main(["cost", *args, "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def _path(result: dict[str, Any], workflow: str, calls: str, path: str) -> dict[str, Any]:
    (found,) = [w for w in result["workflows"] if w["workflow"] == workflow]
    chosen: dict[str, Any] = found[calls][path]
    return chosen


def test_prices_are_the_published_ones() -> None:
    assert US_EAST_1.usd_per_1000_transitions / 1000 == TRANSITION
    assert US_EAST_1.usd_per_million_sqs_standard / 1e6 == SQS_STD
    assert US_EAST_1.usd_per_million_sqs_fifo / 1e6 == SQS_FIFO
    assert US_EAST_1.usd_per_million_lambda_requests / 1e6 == LAMBDA_REQUEST
    assert US_EAST_1.usd_per_lambda_gb_second == GB_S
    assert US_EAST_1.usd_per_million_write_units / 1e6 == WRITE_UNIT


def test_orders_matches_the_hand_calculation(capsys: pytest.CaptureFixture[str]) -> None:
    result = _cost(capsys, ORDERS, "--executions", "2000", "--task-seconds", "2")
    assert result["prices"]["region"] == "us-east-1" and result["prices"]["checked"]

    # Happy, queued. workflows/orders.yaml: semaphore "orders" (waiting room), workers enrich
    # (256 MB, batch 2), charge and ship (256 MB, batch 1); every handler runs 2 s.
    happy = _path(result, "orders", "queued", "happy")
    # States entered: Acquire, Enrich, CheckOrder (Default: its rule leads to EmptyOrder, a
    # Fail), Charge, Ship, Release:Done, Done = 7 transitions.
    assert happy["states"] == [
        "StepQueue:Acquire", "Enrich", "CheckOrder", "Charge", "Ship",
        "StepQueue:Release:Done", "Done",
    ]  # fmt: skip
    # SQS standard: per task one send, and per full batch one receive and one delete:
    # enrich 1 + 2 x 1/2 = 2, charge 1 + 2 = 3, ship 3 -> 8.
    # SQS FIFO: acquire and release, each a send + receive + delete = 6.
    # Lambda: enrich 1/2 + charge 1 + ship 1 + gatekeeper 2 (one per waiting-room message) = 4.5
    # GB-s: 3 tasks x 0.25 GB x 2 s = 1.5, gatekeeper 2 x 0.25 GB x 0.1 s = 0.05 -> 1.55.
    # Write units (transactional, 2 per KB): per message 2 counter writes x 2 x 1 KB = 4,
    # twice = 8; waiter put + delete 2 x 2 x ceil(1.3) = 8; holder put + delete 2 x 2 x 1 = 4
    # -> 20.
    expected = {
        "transitions": 7,
        "sqs_standard_requests": 8,
        "sqs_fifo_requests": 6,
        "lambda_invocations": 4.5,
        "lambda_gb_seconds": 1.55,
        "dynamodb_write_units": 20,
    }
    assert happy["usage"] == pytest.approx(expected)
    per_execution = (
        7 * TRANSITION  # 0.000175
        + 8 * SQS_STD  # 0.0000032
        + 6 * SQS_FIFO  # 0.000003
        + 4.5 * LAMBDA_REQUEST  # 0.0000009
        + 1.55 * GB_S  # 0.00002583339
        + 20 * WRITE_UNIT  # 0.0000125
    )  # = 0.00022043339
    assert happy["usd_per_1000"] == pytest.approx(0.22043339, abs=1e-6)
    assert happy["usd_per_1000"] == pytest.approx(1000 * per_execution, abs=1e-6)
    assert happy["usd_for_executions"] == pytest.approx(0.44086678, abs=1e-6)  # 2,000 of them

    # Happy, direct: the user's 5 states, 3 invocations of 0.25 GB x 2 s, nothing else.
    direct = _path(result, "orders", "direct", "happy")
    assert direct["states"] == ["Enrich", "CheckOrder", "Charge", "Ship", "Done"]
    # 5 x 0.000025 + 3 x 0.0000002 + 1.5 x 0.0000166667 = 0.00015060005
    assert direct["usd_per_1000"] == pytest.approx(0.15060005, abs=1e-6)

    # Failing, queued: Enrich's handler fails; no Retry matches; its generated Catch
    # States.ALL releases the slot and re-raises. States: Acquire, Enrich, ReleaseOnError,
    # Reraise = 4. SQS standard: enrich's 2. FIFO: acquire 3 + release 3 + the reclaim
    # EventBridge posts for a FAILED execution 3 = 9. Lambda: 1/2 + 3 = 3.5. GB-s:
    # 0.25 x 2 = 0.5 + 3 x 0.025 = 0.575. Write units: the acquire's 16 (counter 4, waiter 8,
    # holder 4) + the release-on-error's counter 4 + the reclaim's counter 4 = 24.
    failing = _path(result, "orders", "queued", "failing")
    assert failing["failed_task"] == "Enrich" and not failing["succeeded"]
    assert failing["states"] == [
        "StepQueue:Acquire", "Enrich", "StepQueue:ReleaseOnError", "StepQueue:Reraise",
    ]  # fmt: skip
    assert failing["usage"] == pytest.approx(
        {
            "transitions": 4,
            "sqs_standard_requests": 2,
            "sqs_fifo_requests": 9,
            "lambda_invocations": 3.5,
            "lambda_gb_seconds": 0.575,
            "dynamodb_write_units": 24,
        }
    )
    # 0.0001 + 0.0000008 + 0.0000045 + 0.0000007 + 0.00000958335 + 0.000015 = 0.00013058335
    assert failing["usd_per_1000"] == pytest.approx(0.13058335, abs=1e-6)

    # Failing, direct: the user's Enrich has no Catch: 1 state, 1 invocation of 0.5 GB-s.
    # 0.000025 + 0.0000002 + 0.00000833335 = 0.00003353335
    assert _path(result, "orders", "direct", "failing")["usd_per_1000"] == pytest.approx(
        0.03353335, abs=1e-6
    )


def _spec(tmp_path: Path, text: str) -> str:
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    return str(path)


def test_retries_loops_and_free_waits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(
        tmp_path,
        """\
name: loop
concurrency: {limit: 4, max_wait_seconds: 600}
workers:
  step: {handler: examples.common.echo, timeout_seconds: 10}
StartAt: Step
States:
  Step:
    Type: Task
    Worker: step
    Retry: [{ErrorEquals: [States.TaskFailed], MaxAttempts: 2}]
    Next: Again
  Again:
    Type: Choice
    Choices: [{Variable: $.again, BooleanEquals: true, Next: Step}]
    Default: Done
  Done: {Type: Succeed}
""",
    )
    still = _cost(capsys, spec, "--executions", "10")
    waiting = _cost(capsys, spec, "--executions", "10", "--wait-seconds", "60")
    happy = _path(still, "loop", "queued", "happy")
    # The loop back to Step is taken once at most: Acquire, Step, Again, Release, Done.
    assert happy["usage"]["transitions"] == 5
    # A waiter parked in the waiting room bills nothing while it waits.
    assert _path(waiting, "loop", "queued", "happy")["usage"] == happy["usage"]
    # Calling Lambda directly, the failing task runs three times (two retries, each a
    # transition), then the execution fails: nothing catches it in the user's states.
    failing = _path(still, "loop", "direct", "failing")
    assert failing["usage"]["transitions"] == 3 and failing["usage"]["lambda_invocations"] == 3


def test_text_output_names_the_price_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", ORDERS, "--executions", "1000"]) == 0
    out = capsys.readouterr().out
    assert "us-east-1" in out and "read 20" in out
    assert "orders happy" in out and "direct" in out


def test_bad_input_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cost", str(tmp_path / "none.yaml"), "--executions", "5"]) == 2
    assert "none.yaml: no such file" in capsys.readouterr().err
    assert cli.main(["cost", ORDERS, "--executions", "0"]) == 2
    assert "--executions 0" in capsys.readouterr().err
    bad = _spec(tmp_path, "name: bad\nStartAt: Nowhere\nStates: {}\n")
    assert cli.main(["cost", bad, "--executions", "5"]) == 1
    err = capsys.readouterr().err
    assert "loop.yaml:" in err and "nothing estimated" in err and "Traceback" not in err


# A Choice between a cheap task and a Map whose items each run a Parallel of two tasks; no
# semaphore, so nothing but the user's states and their workers is billed.
FANOUT = """\
name: fanout
workers:
  light: {handler: examples.common.echo, timeout_seconds: 10, memory_mb: 128, batch_size: 1}
  heavy: {handler: examples.common.echo, timeout_seconds: 10, memory_mb: 1024, batch_size: 1}
StartAt: Route
States:
  Route:
    Type: Choice
    Choices:
      - {Variable: $.fast, BooleanEquals: true, Next: Quick}
    Default: Fanout
  Quick: {Type: Task, Worker: light, End: true}
  Fanout:
    Type: Map
    ItemsPath: $.items
    ItemProcessor:
      StartAt: Both
      States:
        Both:
          Type: Parallel
          Branches:
            - StartAt: A
              States:
                A:
                  Type: Task
                  Worker: heavy
                  Retry: [{ErrorEquals: [States.ALL], MaxAttempts: 2}]
                  End: true
            - StartAt: B
              States: {B: {Type: Task, Worker: light, End: true}}
          End: true
    End: true
"""


def _usd(usage: dict[str, float]) -> float:
    """One execution's bill from its usage, by hand from the one price table."""
    p = US_EAST_1
    return (
        usage["transitions"] * p.usd_per_1000_transitions / 1000
        + usage["sqs_standard_requests"] * p.usd_per_million_sqs_standard / 1e6
        + usage["sqs_fifo_requests"] * p.usd_per_million_sqs_fifo / 1e6
        + usage["lambda_invocations"] * p.usd_per_million_lambda_requests / 1e6
        + usage["lambda_gb_seconds"] * p.usd_per_lambda_gb_second
        + usage["dynamodb_write_units"] * p.usd_per_million_write_units / 1e6
    )


def _check(path: dict[str, Any], usage: dict[str, float]) -> None:
    assert path["usage"] == pytest.approx(usage)
    assert path["usd_per_1000"] == pytest.approx(1000 * _usd(usage), abs=1e-6)


def test_map_parallel_and_the_most_expensive_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, FANOUT)
    result = _cost(capsys, spec, "--executions", "10", "--map-items", "4", "--task-seconds", "2")
    # Happy, queued. Route's branches: Quick (2 states, one 128 MB task) or Fanout (4 items,
    # each Both + A (1 GB) + B (128 MB)): Fanout costs more, so it is priced.
    # Transitions: Route, Fanout, 4 x (Both, A, B) = 14. Per task (batch 1): a send, a receive
    # and a delete = 3 SQS requests and 1 invocation; 8 tasks -> 24 and 8.
    # GB-s: 4 x (1 GB + 0.125 GB) x 2 s = 9.
    happy = _path(result, "fanout", "queued", "happy")
    _check(
        happy,
        {
            "transitions": 14,
            "sqs_standard_requests": 24,
            "sqs_fifo_requests": 0,
            "lambda_invocations": 8,
            "lambda_gb_seconds": 9,
            "dynamodb_write_units": 0,
        },
    )
    # 14 x 0.000025 + 24 x 0.0000004 + 8 x 0.0000002 + 9 x 0.0000166667 = 0.0005112003
    assert happy["usd_per_1000"] == pytest.approx(0.5112003, abs=1e-6)
    assert happy["choices"] == [
        {"state": "Route", "took": "Fanout", "how": "the most expensive of 2: Quick, Fanout"}
    ]
    assert happy["path"] == ["Route", "Fanout (4 item(s), --map-items: Both (A | B))"]
    # Direct: the same states; each task one invocation, no queue.
    _check(
        _path(result, "fanout", "direct", "happy"),
        {
            "transitions": 14,
            "sqs_standard_requests": 0,
            "sqs_fifo_requests": 0,
            "lambda_invocations": 8,
            "lambda_gb_seconds": 9,
            "dynamodb_write_units": 0,
        },
    )
    # Failing, queued: the first item's A fails and is retried twice (2 more transitions,
    # 3 attempts of 1 GB x 2 s); B and the other 3 items succeed; nothing catches it.
    # Transitions 14 + 2 = 16; tasks run 8 + 2 = 10 -> SQS 30, invocations 10;
    # GB-s 9 + 2 x 2 = 13.
    failing = _path(result, "fanout", "queued", "failing")
    assert failing["failed_task"] == "A" and not failing["succeeded"]
    _check(
        failing,
        {
            "transitions": 16,
            "sqs_standard_requests": 30,
            "sqs_fifo_requests": 0,
            "lambda_invocations": 10,
            "lambda_gb_seconds": 13,
            "dynamodb_write_units": 0,
        },
    )
    assert failing["path"] == [
        "Route", "Fanout (4 item(s), --map-items: Both (A (fails after 3 attempts) | B))",
    ]  # fmt: skip


def test_the_branch_a_user_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, FANOUT)
    result = _cost(capsys, spec, "--executions", "10", "--branch", "Route=Quick")
    # Route, Quick: 2 transitions; one 128 MB task of 1 s: 3 SQS requests, 1 invocation,
    # 0.125 GB-s.
    happy = _path(result, "fanout", "queued", "happy")
    _check(
        happy,
        {
            "transitions": 2,
            "sqs_standard_requests": 3,
            "sqs_fifo_requests": 0,
            "lambda_invocations": 1,
            "lambda_gb_seconds": 0.125,
            "dynamodb_write_units": 0,
        },
    )
    assert happy["choices"] == [{"state": "Route", "took": "Quick", "how": "named with --branch"}]
    assert result["assumptions"]["branches"] == {"Route": "Quick"}


def test_a_literal_items_list_sets_the_map_items(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(
        tmp_path,
        """\
name: literal
QueryLanguage: JSONata
workers:
  w: {handler: examples.common.echo, timeout_seconds: 10, memory_mb: 512, batch_size: 1}
StartAt: Each
States:
  Each:
    Type: Map
    Items: [1, 2, 3]
    ItemProcessor:
      StartAt: T
      States: {T: {Type: Task, Worker: w, End: true}}
    End: true
""",
    )
    # Three items whatever --map-items says: Each + 3 x T = 4 transitions, 3 tasks of
    # 0.5 GB x 1 s.
    direct = _path(
        _cost(capsys, spec, "--executions", "1", "--map-items", "50"), "literal", "direct", "happy"
    )
    _check(
        direct,
        {
            "transitions": 4,
            "sqs_standard_requests": 0,
            "sqs_fifo_requests": 0,
            "lambda_invocations": 3,
            "lambda_gb_seconds": 1.5,
            "dynamodb_write_units": 0,
        },
    )
    assert direct["path"] == ["Each (3 item(s), its Items: T)"]


def test_the_text_shows_the_paths_priced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(tmp_path, FANOUT)
    assert cli.main(["cost", spec, "--executions", "5", "--map-items", "2"]) == 0
    out = capsys.readouterr().out
    assert "fanout happy queued: Route → Fanout (2 item(s), --map-items: Both (A | B))" in out
    assert "at Route: Fanout (the most expensive of 2: Quick, Fanout)" in out


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("Route", "--branch Route: give STATE=TARGET"),
        ("Rout=Quick", "no Choice state Rout in the specs (Choices: Route)"),
        ("Route=Nowhere", "Nowhere is not a branch of Route (its branches: Quick, Fanout)"),
    ],
)
def test_a_wrong_branch_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], branch: str, message: str
) -> None:
    spec = _spec(tmp_path, FANOUT)
    assert cli.main(["cost", spec, "--executions", "5", "--branch", branch]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_too_many_branch_combinations_ask_for_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 20 Choices in a row, two ways through each: 2^20 combinations to compare.
    states = []
    for i in range(20):
        after = f"C{i + 1}" if i < 19 else "Done"
        states.append(
            f"  C{i}:\n    Type: Choice\n"
            f"    Choices: [{{Variable: $.x, BooleanEquals: true, Next: A{i}}}]\n"
            f"    Default: B{i}\n"
            f"  A{i}: {{Type: Pass, Next: {after}}}\n  B{i}: {{Type: Pass, Next: {after}}}\n"
        )
    spec = _spec(
        tmp_path,
        "name: wide\nStartAt: C0\nStates:\n" + "".join(states) + "  Done: {Type: Succeed}\n",
    )
    assert cli.main(["cost", spec, "--executions", "5"]) == 1
    err = capsys.readouterr().err
    assert "name the branch each takes with --branch STATE=TARGET" in err
    assert "Traceback" not in err
    # Named, the walk is one path.
    named = [a for i in range(20) for a in ("--branch", f"C{i}=A{i}")]
    assert cli.main(["cost", spec, "--executions", "5", *named]) == 0


def test_a_named_branch_round_a_loop_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _spec(
        tmp_path,
        """\
name: loop
workers:
  step: {handler: examples.common.echo, timeout_seconds: 10}
StartAt: Step
States:
  Step: {Type: Task, Worker: step, Next: Again}
  Again:
    Type: Choice
    Choices: [{Variable: $.again, BooleanEquals: true, Next: Step}]
    Default: Done
  Done: {Type: Succeed}
""",
    )
    assert cli.main(["cost", spec, "--executions", "5", "--branch", "Again=Step"]) == 1
    err = capsys.readouterr().err
    assert "--branch Again=Step: Step was walked already" in err and "Traceback" not in err
