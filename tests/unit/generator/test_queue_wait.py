"""Worker-task timeouts against the worst-case queue wait a semaphore allows.

`HeartbeatSeconds` and `TimeoutSeconds` count from the moment the message is queued; behind a
backlog longer than either, tasks fail that no worker has seen. With `concurrency:` the
generator knows the worst case and warns, with the numbers and the fix.
"""

from __future__ import annotations

from pathlib import Path

from generator.api import load_and_validate
from generator.errors import Diagnostic
from tests.unit.generator.helpers import LAMBDA_SRC, write_spec

WORKER = """
workers:
  w:
    handler: examples.common.echo
    timeout_seconds: 30
    batch_size: 1
    batching_window_seconds: 10
    max_concurrency: 5
"""


def _diagnose(tmp: Path, body: str, limit: int | None = 50) -> list[Diagnostic]:
    head = "name: q\n" + (f"concurrency: {{limit: {limit}}}\n" if limit else "")
    spec = write_spec(tmp, head + WORKER.lstrip() + body.lstrip())
    workflows, diagnostics = load_and_validate([spec], lambda_src=LAMBDA_SRC)
    assert workflows is not None, [d.format() for d in diagnostics]
    return diagnostics


def _about(diagnostics: list[Diagnostic], word: str) -> list[Diagnostic]:
    return [d for d in diagnostics if "queue wait" in d.message and d.message.startswith(word)]


TASK = """
StartAt: A
States:
  A: {Type: Task, Worker: w, TimeoutSeconds: 300, HeartbeatSeconds: 60, End: true}
"""


def test_heartbeat_and_timeout_shorter_than_the_backlog_warn(tmp_path: Path) -> None:
    # 50 messages, 5 at a time: 9 rounds of up to 40 s ahead of the last one, plus its window.
    diagnostics = _diagnose(tmp_path, TASK)
    [hb] = _about(diagnostics, "HeartbeatSeconds")
    assert not hb.is_error and hb.path == "States.A.HeartbeatSeconds" and hb.line == 12
    assert "HeartbeatSeconds 60 is not above 1.5 x the worst-case queue wait (370 s" in hb.message
    assert "up to 50 messages can be queued for worker 'w' (semaphore limit 50 x 1" in hb.message
    assert "takes 5 at a time (batch_size 1 x max_concurrency 5)" in hb.message
    assert "waits up to 370 s" in hb.message
    assert hb.fix.startswith("raise HeartbeatSeconds above 555, or raise the worker's")
    [to] = _about(diagnostics, "TimeoutSeconds")
    assert to.path == "States.A.TimeoutSeconds"
    assert "(370 + 30 = 400 s)" in to.message and to.fix.startswith(
        "set TimeoutSeconds to at least 400"
    )


def test_no_warning_when_the_backlog_fits(tmp_path: Path) -> None:
    assert _about(_diagnose(tmp_path, TASK, limit=5), "") == []  # one round: 10 s < 60


def test_no_warning_without_a_semaphore(tmp_path: Path) -> None:
    assert _about(_diagnose(tmp_path, TASK, limit=None), "") == []  # the backlog is unbounded


def test_parallel_branches_and_map_iterations_multiply_the_backlog(tmp_path: Path) -> None:
    body = """
StartAt: M
States:
  M:
    Type: Map
    MaxConcurrency: 3
    ItemProcessor:
      StartAt: P
      States:
        P:
          Type: Parallel
          Branches:
            - {StartAt: A, States: {A: {Type: Task, Worker: w, HeartbeatSeconds: 60, End: true}}}
            - {StartAt: B, States: {B: {Type: Task, Worker: w, HeartbeatSeconds: 60, End: true}}}
          End: true
    End: true
"""
    diagnostics = _diagnose(tmp_path, body, limit=2)  # 2 x 3 x 2 = 12 messages
    found = _about(diagnostics, "HeartbeatSeconds")
    assert [d.path.rsplit(".", 2)[-2] for d in found] == ["A", "B"]
    assert "up to 12 messages" in found[0].message and "2 x 6 per execution" in found[0].message


def test_the_redelivery_chain_warning_stays(tmp_path: Path) -> None:
    diagnostics = _diagnose(tmp_path, TASK, limit=None)
    [chain] = [d for d in diagnostics if "SQS still redelivers" in d.message]
    assert "max_receive_count x visibility timeout = 5 x 220 = 1100 s" in chain.message
    assert chain.path == "States.A.TimeoutSeconds" and not chain.is_error


def test_heartbeat_must_leave_a_third_after_the_queue_wait(tmp_path: Path) -> None:
    """The runtime's first heartbeat comes when a worker reads the message; the next, a third
    of HeartbeatSeconds later, must still be in time. 10 messages, 5 at a time: the last waits
    up to 10 + 40 = 50 s, under 60 but over two thirds of it."""
    [hb] = _about(_diagnose(tmp_path, TASK, limit=10), "HeartbeatSeconds")
    assert "not above 1.5 x the worst-case queue wait (50 s" in hb.message
    assert hb.fix.startswith("raise HeartbeatSeconds above 75,")
    enough = TASK.replace("HeartbeatSeconds: 60", "HeartbeatSeconds: 76")
    assert _about(_diagnose(tmp_path, enough, limit=10), "HeartbeatSeconds") == []


MAP = """
StartAt: M
States:
  M:
    Type: Map
    {max_concurrency}
    ItemProcessor:
      StartAt: A
      States:
        A: {{Type: Task, Worker: w, TimeoutSeconds: 300, HeartbeatSeconds: 250, Next: B}}
        B: {{Type: Task, Worker: w, TimeoutSeconds: 300, End: true}}
    End: true
"""


def _unbounded(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if "queue wait is unbounded" in d.message]


def test_map_without_max_concurrency_warns_that_the_wait_is_unbounded(tmp_path: Path) -> None:
    # One warning per Map and worker, however many of its tasks use the worker.
    [warning] = _unbounded(_diagnose(tmp_path, MAP.format(max_concurrency=""), limit=2))
    assert not warning.is_error and warning.path == "States.M.MaxConcurrency"
    assert warning.line == 13  # the Map, which lacks the field
    assert "Map 'M' has no MaxConcurrency" in warning.message
    assert "worker 'w'" in warning.message and "up to 2 executions" in warning.message
    assert warning.fix.startswith("set MaxConcurrency on 'M'")
    # MaxConcurrency 0 means no limit in ASL.
    [zero] = _unbounded(_diagnose(tmp_path, MAP.format(max_concurrency="MaxConcurrency: 0"), 2))
    assert zero.path == "States.M.MaxConcurrency" and zero.line == 14


def test_map_with_max_concurrency_or_without_semaphore_does_not_warn_unbounded(
    tmp_path: Path,
) -> None:
    bounded = _diagnose(tmp_path, MAP.format(max_concurrency="MaxConcurrency: 2"), limit=2)
    assert _unbounded(bounded) == []
    assert _about(bounded, "") == []  # 2 x 2 = 4 messages: taken in one round
    assert _unbounded(_diagnose(tmp_path, MAP.format(max_concurrency=""), limit=None)) == []


def test_unbounded_map_nested_in_a_parallel_branch_is_named_by_its_path(tmp_path: Path) -> None:
    body = """
StartAt: P
States:
  P:
    Type: Parallel
    Branches:
      - {StartAt: X, States: {X: {Type: Pass, End: true}}}
      - StartAt: M
        States:
          M:
            Type: Map
            Iterator:
              StartAt: A
              States:
                A: {Type: Task, Worker: w, TimeoutSeconds: 300, End: true}
            End: true
    End: true
"""
    [warning] = _unbounded(_diagnose(tmp_path, body, limit=3))
    assert warning.path == "States.P.Branches[1].States.M.MaxConcurrency"
