"""The watchdog: one EMF line per state machine with the age of its oldest RUNNING execution,
against stand-in Step Functions clients (pages, failures, a deadline). modules/monitoring's
running-too-long alarm reads exactly these names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from stepqueue_aws import inject_client
from stepqueue_watchdog import entry, watch
from stepqueue_watchdog.watch import PAGE_SIZE

from stepqueue.local.emulator import REGION
from tests.support.lambda_support import ACCOUNT, client_error

NOW = datetime(2027, 1, 15, 12, 0, 0, tzinfo=UTC)
FUNCTION = "dev-stepqueue-watchdog"


def _machine(name: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def _execution(machine: str, name: str, started: datetime) -> dict[str, Any]:
    return {
        "executionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}",
        "stateMachineArn": _machine(machine),
        "name": name,
        "status": "RUNNING",
        "startDate": started,
    }


class StubSfn:
    """ListExecutions answered from `pages` per state machine ARN (newest first, as AWS
    sorts them); `fail` maps an ARN to the error its first call raises."""

    def __init__(
        self,
        pages: dict[str, list[list[dict[str, Any]]]],
        fail: dict[str, Exception] | None = None,
    ) -> None:
        self.pages = pages
        self.fail = fail or {}
        self.calls: list[dict[str, Any]] = []

    def list_executions(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        arn = kwargs["stateMachineArn"]
        assert kwargs["statusFilter"] == "RUNNING"
        assert kwargs["maxResults"] == PAGE_SIZE
        if arn in self.fail:
            raise self.fail[arn]
        pages = self.pages.get(arn, [[]])
        index = int(kwargs.get("nextToken", "0"))
        reply: dict[str, Any] = {"executions": pages[index]}
        if index + 1 < len(pages):
            reply["nextToken"] = str(index + 1)
        return reply


class Context:
    """A Lambda context whose remaining time drops by `step_ms` at each look at it."""

    def __init__(self, remaining_ms: int, step_ms: int = 0) -> None:
        self.remaining = remaining_ms
        self.step = step_ms

    def get_remaining_time_in_millis(self) -> int:
        value = self.remaining
        self.remaining -= self.step
        return value


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """The handler with `sfn` injected and `arns` in its environment: (result, EMF lines by
    state machine name)."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    monkeypatch.setattr("stepqueue_watchdog.entry.time.time", lambda: NOW.timestamp())

    def _run(
        sfn: StubSfn, arns: list[str], context: Any = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        monkeypatch.setenv(entry.ENV_ARNS, json.dumps(arns))
        inject_client(entry._clients, "stepfunctions", sfn)
        try:
            capsys.readouterr()
            result = entry.handler(
                {"detail-type": "Scheduled Event", "source": "aws.events"}, context
            )
            out = capsys.readouterr().out
        finally:
            inject_client(entry._clients, "stepfunctions", None)
        lines = [json.loads(x) for x in out.splitlines() if x.startswith('{"_aws"')]
        return result, {line["StateMachine"]: line for line in lines}

    return _run


def test_one_line_per_state_machine_with_the_oldest_running_age(run: Any) -> None:
    orders, media = _machine("dev-orders"), _machine("dev-media")
    sfn = StubSfn(
        {
            orders: [
                [
                    _execution("dev-orders", "c", NOW - timedelta(seconds=30)),
                    _execution("dev-orders", "b", NOW - timedelta(seconds=400)),
                ],
                [_execution("dev-orders", "a", NOW - timedelta(hours=3))],
            ],
        }
    )
    result, lines = run(sfn, [orders, media])
    assert set(lines) == {"dev-orders", "dev-media"}
    line = lines["dev-orders"]
    assert line["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": "Stepqueue",
            "Dimensions": [["Function", "StateMachine"]],
            "Metrics": [
                {"Name": "OldestRunningSeconds", "Unit": "Seconds"},
                {"Name": "RunningExecutions", "Unit": "Count"},
                {"Name": "WatchdogErrors", "Unit": "Count"},
            ],
        }
    ]
    assert line["_aws"]["Timestamp"] == int(NOW.timestamp() * 1000)
    assert line["Function"] == FUNCTION
    assert line["OldestRunningSeconds"] == 3 * 3600
    assert line["RunningExecutions"] == 3
    assert line["WatchdogErrors"] == 0
    # Nothing running is a 0, not a gap: the alarm clears as soon as the execution ends.
    assert lines["dev-media"]["OldestRunningSeconds"] == 0
    assert lines["dev-media"]["RunningExecutions"] == 0
    assert [c.get("nextToken") for c in sfn.calls if c["stateMachineArn"] == orders] == [None, "1"]
    assert result == {
        "mode": "watch",
        "state_machines": 2,
        "running": 3,
        "errors": [],
        "partial": [],
    }


def test_a_failing_state_machine_is_counted_and_the_others_still_watched(run: Any) -> None:
    broken, fine = _machine("dev-broken"), _machine("dev-fine")
    sfn = StubSfn(
        {fine: [[_execution("dev-fine", "x", NOW - timedelta(seconds=90))]]},
        fail={broken: client_error("AccessDeniedException", "ListExecutions")},
    )
    result, lines = run(sfn, [broken, fine])
    assert lines["dev-broken"]["WatchdogErrors"] == 1
    # No made-up age for what could not be seen: a 0 would clear the alarm.
    assert "OldestRunningSeconds" not in lines["dev-broken"]
    assert "RunningExecutions" not in lines["dev-broken"]
    assert lines["dev-fine"]["OldestRunningSeconds"] == 90
    assert lines["dev-fine"]["WatchdogErrors"] == 0
    assert result["errors"] == [{"state_machine": broken, "error": "AccessDeniedException"}]


def test_a_look_cut_short_by_the_page_bound_keeps_a_lower_bound_and_counts_an_error() -> None:
    arn = _machine("dev-busy")
    pages = [
        [_execution("dev-busy", f"e{i}", NOW - timedelta(seconds=10 * (i + 1)))] for i in range(5)
    ]
    watched = watch(StubSfn({arn: pages}), arn, lambda: True, max_pages=3)
    assert watched["running"] == 3
    assert watched["oldest_start_s"] == (NOW - timedelta(seconds=30)).timestamp()
    assert watched["complete"] is False
    assert watched["error"] is None
    line = entry.watch_line(watched, FUNCTION, int(NOW.timestamp() * 1000))
    assert line["OldestRunningSeconds"] == 30
    assert line["WatchdogErrors"] == 1


def test_the_deadline_skips_the_remaining_state_machines(run: Any) -> None:
    first, second = _machine("dev-first"), _machine("dev-second")
    sfn = StubSfn({first: [[_execution("dev-first", "x", NOW - timedelta(seconds=5))]]})
    # Enough time for the first look (two checks), then under the margin.
    context = Context(remaining_ms=entry.DEADLINE_MARGIN_MS + 2000, step_ms=1000)
    result, lines = run(sfn, [first, second], context)
    assert lines["dev-first"]["OldestRunningSeconds"] == 5
    assert lines["dev-first"]["WatchdogErrors"] == 0
    assert lines["dev-second"]["WatchdogErrors"] == 1
    assert "OldestRunningSeconds" not in lines["dev-second"]
    assert [c["stateMachineArn"] for c in sfn.calls] == [first]
    assert result["errors"] == [{"state_machine": second, "error": "DeadlineReached"}]


def test_epoch_start_dates_and_no_context_are_accepted() -> None:
    arn = _machine("dev-epoch")
    started = NOW.timestamp() - 12
    page = [{**_execution("dev-epoch", "x", NOW), "startDate": started}]
    watched = watch(StubSfn({arn: [page]}), arn, entry.time_left(None))
    assert watched == {
        "state_machine_arn": arn,
        "running": 1,
        "oldest_start_s": started,
        "complete": True,
        "error": None,
    }


@pytest.mark.parametrize(
    "raw",
    ['{"a": 1}', '["arn", 3]', '[""]', json.dumps([f"arn-{i}" for i in range(201)]), "not json"],
)
def test_a_wrong_environment_fails_the_invocation(raw: str) -> None:
    with pytest.raises(ValueError):
        entry.state_machine_arns(raw)


def test_the_environment_list_is_deduplicated_and_sorted() -> None:
    b, a = _machine("b"), _machine("a")
    assert entry.state_machine_arns(json.dumps([b, a, b])) == [a, b]
    assert entry.state_machine_arns(None) == []
    assert entry.state_machine_name(a) == "a"
