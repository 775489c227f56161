"""modules/monitoring through the root: one plan of the root on the emulator, with the
generator's output for workflows/*.yaml and an alarm topic, must hold the dashboard and every
alarm, each routed to the topic, with the thresholds derived from the specs (a queue's age
alarm from the TimeoutSeconds of the Worker tasks in the generated definitions, parsed here as
JSON rather than matched as the root does), and a dashboard naming every workflow, worker and
semaphore, and the watchdog (modules/watchdog) whose OldestRunningSeconds the running-too-long
alarms read, allowed to list the executions of the deployment's state machines only; the start
queue (modules/start_queue) on the dashboard, its starter's Lambda errors alarmed and its DLQ
alarmed once, by modules/queue; a second plan with the `errors` kind switched off. Plus the
module's own conventions. checkov on the root's plan (monitoring included)
is test_emulator.py's; on the module's files, and its README's tables, test_static.py's."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepqueue.deploy.terraform import Terraform
from stepqueue.local.emulator import ACCOUNT_ID, Emulator
from tests.system.terraform.support import MODULES, copy_configuration

PREFIX = "mon-"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT_ID}:stepqueue-alarms"
MODULE = "module.monitoring[0]"
WATCHDOG = "module.watchdog[0]"
START = "module.start_queue[0]"
KINDS = (
    "executions_failed",
    "executions_timed_out",
    "executions_aborted",
    "queue_age",
    "running_too_long",
    "semaphore_wait",
    "errors",
    "leaked_slots",
)


@pytest.fixture(scope="module")
def tfvars(generated_dir: Path) -> dict[str, Any]:
    return dict(json.loads((generated_dir / "workflows.tfvars.json").read_text()))


def _plan_root(
    emulator: Emulator,
    generated_dir: Path,
    lambda_zip: Path,
    tmp: Path,
    **variables: Any,
) -> dict[str, Any]:
    """The root's plan with the test's variables (and `variables`), as `terraform show -json`
    prints it."""
    root = copy_configuration(tmp / "config") / "terraform"
    tf = Terraform(
        root=root,
        work_dir=tmp / "data",
        var_files=[root / "local.tfvars", generated_dir / "workflows.tfvars.json"],
        variables={
            "generated_dir": str(generated_dir),
            "lambda_zip_path": str(lambda_zip),
            "aws_endpoint_url": emulator.endpoint,
            "name_prefix": PREFIX,
            "alarm_sns_topic_arn": TOPIC,
            "execution_time_bounds": {"glue": 7200},
            **variables,
        },
        env=emulator.env(),
    )
    tf.init()
    plan_file = tmp / "data" / "plan.bin"
    tf.plan_to_file(plan_file)
    return dict(json.loads(tf.show_plan(plan_file)))


def _created(plan: dict[str, Any], *modules: str) -> dict[str, dict[str, Any]]:
    """{address: planned values} of the resources the plan creates in `modules`."""
    return {
        c["address"]: c["change"]["after"]
        for c in plan["resource_changes"]
        if c["address"].startswith(tuple(f"{m}." for m in modules))
        and c["change"]["actions"] == ["create"]
    }


@pytest.fixture(scope="module")
def plan(
    emulator: Emulator,
    generated_dir: Path,
    lambda_zip: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The root's plan, as `terraform show -json` prints it."""
    tmp = tmp_path_factory.mktemp("monitoring")
    return _plan_root(emulator, generated_dir, lambda_zip, tmp)


@pytest.fixture(scope="module")
def planned(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plan as {address: planned values} of its monitoring, watchdog and start queue
    resources."""
    return _created(plan, MODULE, WATCHDOG, START)


@pytest.fixture(scope="module")
def start_queue(plan: dict[str, Any], planned: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The deployment's start queue as the plan makes it: the names of its queue, its DLQ and
    its starter (the root's `starter_function_name` output), and its pace."""
    function = plan["planned_values"]["outputs"]["starter_function_name"]["value"]
    assert function == planned[f"{START}.module.function.aws_lambda_function.this"]["function_name"]
    return {
        "queue": planned[f"{START}.module.queue.aws_sqs_queue.this"]["name"],
        "dlq": planned[f"{START}.module.queue.aws_sqs_queue.dlq"]["name"],
        "function": function,
        "starts_per_second": plan["variables"]["start_queue_starts_per_second"]["value"],
    }


def _alarms(planned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = re.compile(rf'^{re.escape(MODULE)}\.aws_cloudwatch_metric_alarm\.this\["(.+)"\]$')
    return {m.group(1): v for a, v in planned.items() if (m := found.match(a))}


def _worker_tasks(states: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """(worker, TimeoutSeconds) of every Worker task of a definition, nested states included."""
    for state in states.values():
        # JSONPath states pass the queue in Parameters, JSONata states in Arguments.
        fields = state.get("Parameters") or state.get("Arguments") or {}
        url = fields.get("QueueUrl", "") if isinstance(fields, dict) else ""
        found = re.fullmatch(r"\$\{queue_url\.([a-z0-9_]+)\}", url)
        if found:
            yield found.group(1), int(state["TimeoutSeconds"])
        for branch in state.get("Branches", []):
            yield from _worker_tasks(branch["States"])
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _worker_tasks(state[key]["States"])


def _task_timeouts(generated_dir: Path, tfvars: dict[str, Any]) -> dict[str, int]:
    """The shortest task TimeoutSeconds by `workflow/worker`."""
    timeouts: dict[str, int] = {}
    for wf, spec in tfvars["workflows"].items():
        definition = json.loads((generated_dir / spec["definition_file"]).read_text())
        for worker, seconds in _worker_tasks(definition["States"]):
            key = f"{wf}/{worker}"
            timeouts[key] = min(seconds, timeouts.get(key, seconds))
    return timeouts


def test_every_alarm_is_planned_and_routed_to_the_topic(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    alarms = _alarms(planned)
    workflows, semaphores = tfvars["workflows"], tfvars["semaphores"]
    assert {s["mode"] for s in semaphores.values()} == {"waiting_room"}
    expected = {
        *(f"{kind}/{wf}" for wf in workflows for kind in KINDS[:3]),
        *(f"running_too_long/{wf}" for wf in workflows),
        *(f"queue_age/{wf}/{wk}" for wf, spec in workflows.items() for wk in spec["workers"]),
        *(f"{kind}/{sem}" for sem in semaphores for kind in ("semaphore_wait", "leaked_slots")),
        *(f"errors/gatekeeper-{sem}" for sem in semaphores),
        *(f"errors/gatekeeper-dropped-{sem}" for sem in semaphores),
        "errors/gatekeeper",
        *(f"errors/watchdog-{wf}" for wf in workflows),
        "errors/watchdog",
        "errors/starter",
    }
    assert set(alarms) == expected
    for key, alarm in alarms.items():
        assert alarm["alarm_name"].startswith(f"{PREFIX}stepqueue-"), key
        assert alarm["alarm_actions"] == [TOPIC], key
        assert alarm["ok_actions"] == [TOPIC], key
        assert alarm["comparison_operator"] == "GreaterThanThreshold", key
        assert alarm["treat_missing_data"] == "notBreaching", key
        assert alarm["actions_enabled"] is True, key
    # Names are unique across the deployment (CloudWatch would overwrite one with another).
    assert len({a["alarm_name"] for a in alarms.values()}) == len(alarms)


def test_execution_alarms_watch_each_state_machine(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    alarms = _alarms(planned)
    for wf in tfvars["workflows"]:
        arn = f"arn:aws:states:us-east-1:{ACCOUNT_ID}:stateMachine:{PREFIX}{wf}"
        for kind, metric in zip(
            KINDS[:3], ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"), strict=True
        ):
            alarm = alarms[f"{kind}/{wf}"]
            assert alarm["namespace"] == "AWS/States"
            assert alarm["metric_name"] == metric
            assert alarm["dimensions"] == {"StateMachineArn": arn}
            assert alarm["statistic"] == "Sum"
            assert alarm["threshold"] == 0


def test_queue_age_alarms_fire_at_half_the_tasks_timeout(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any], generated_dir: Path
) -> None:
    alarms = _alarms(planned)
    timeouts = _task_timeouts(generated_dir, tfvars)
    assert set(timeouts) == {
        f"{wf}/{wk}" for wf, spec in tfvars["workflows"].items() for wk in spec["workers"]
    }
    # The specs give different timeouts (the default 1800 and their own), so a match that read
    # the wrong task's would show.
    assert len(set(timeouts.values())) > 1
    for key, seconds in timeouts.items():
        wf, wk = key.split("/")
        alarm = alarms[f"queue_age/{key}"]
        assert alarm["namespace"] == "AWS/SQS"
        assert alarm["metric_name"] == "ApproximateAgeOfOldestMessage"
        assert alarm["dimensions"] == {"QueueName": f"{PREFIX}{wf}-{wk}"}
        assert alarm["statistic"] == "Maximum"
        assert alarm["threshold"] == math.floor(0.5 * seconds), key


def test_running_too_long_reads_the_watchdogs_oldest_running_execution(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    """Every workflow, waiting room or not: the watchdog sees an execution while it still runs,
    where AWS/States' ExecutionTime would show it only once it ended."""
    alarms = _alarms(planned)
    watchdog = f"{PREFIX}stepqueue-watchdog"
    for wf in tfvars["workflows"]:
        alarm = alarms[f"running_too_long/{wf}"]
        dimensions = {"Function": watchdog, "StateMachine": f"{PREFIX}{wf}"}
        assert alarm["namespace"] == "Stepqueue"
        assert alarm["metric_name"] == "OldestRunningSeconds"
        assert alarm["dimensions"] == dimensions
        assert alarm["statistic"] == "Maximum"
        assert alarm["threshold"] == (7200 if wf == "glue" else 3600)
        assert alarm["period"] == 900
        failures = alarms[f"errors/watchdog-{wf}"]
        assert (failures["namespace"], failures["metric_name"]) == ("Stepqueue", "WatchdogErrors")
        assert failures["dimensions"] == dimensions
        assert failures["threshold"] == 0
    # Both kinds of workflow are in the specs, so neither falls back to another metric.
    assert {spec["semaphore"] is None for spec in tfvars["workflows"].values()} == {True, False}
    errors = alarms["errors/watchdog"]
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": watchdog}


def _data_source(plan: dict[str, Any], address: str) -> dict[str, Any]:
    """A data source's values as read during the plan (the plan's prior state)."""
    modules = [plan["prior_state"]["values"]["root_module"]]
    while modules:
        module = modules.pop()
        for resource in module.get("resources", []):
            if resource["address"] == address:
                return dict(resource["values"])
        modules.extend(module.get("child_modules", []))
    raise AssertionError(f"{address} not read during the plan")


def test_the_watchdog_runs_every_5_minutes_and_lists_only_our_state_machines(
    plan: dict[str, Any], planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    arns = sorted(
        f"arn:aws:states:us-east-1:{ACCOUNT_ID}:stateMachine:{PREFIX}{wf}"
        for wf in tfvars["workflows"]
    )
    function = planned[f"{WATCHDOG}.module.function.aws_lambda_function.this"]
    assert function["function_name"] == f"{PREFIX}stepqueue-watchdog"
    assert function["handler"] == "stepqueue_watchdog.entry.handler"
    [environment] = function["environment"]
    assert json.loads(environment["variables"]["STATE_MACHINE_ARNS"]) == arns
    rule = planned[f"{WATCHDOG}.aws_cloudwatch_event_rule.this"]
    assert rule["schedule_expression"] == "rate(5 minutes)"
    permission = planned[f"{WATCHDOG}.aws_lambda_permission.this"]
    assert permission["principal"] == "events.amazonaws.com"
    # What the function itself may do (the shared module adds only its logs and X-Ray): list
    # the executions of this deployment's state machines, nothing else.
    document = _data_source(plan, f"{WATCHDOG}.data.aws_iam_policy_document.this")
    [statement] = json.loads(document["json"])["Statement"]
    assert statement["Sid"] == "ListOwnRunningExecutions"
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "states:ListExecutions"
    resources = statement["Resource"]
    assert sorted([resources] if isinstance(resources, str) else resources) == arns


def test_semaphore_alarms_read_the_gatekeepers_metrics(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    alarms = _alarms(planned)
    gatekeeper = f"{PREFIX}stepqueue-gatekeeper"
    for sem in tfvars["semaphores"]:
        dimensions = {"Function": gatekeeper, "Semaphore": sem}
        for key, metric, threshold in (
            (f"semaphore_wait/{sem}", "OldestWaitSeconds", 900),
            (f"leaked_slots/{sem}", "LeakedSlotsReclaimed", 0),
            (f"errors/gatekeeper-{sem}", "GroupFailures", 0),
            (f"errors/gatekeeper-dropped-{sem}", "MessagesDropped", 0),
        ):
            alarm = alarms[key]
            assert alarm["namespace"] == "Stepqueue", key
            assert alarm["metric_name"] == metric, key
            assert alarm["dimensions"] == dimensions, key
            assert alarm["threshold"] == threshold, key
    errors = alarms["errors/gatekeeper"]
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": gatekeeper}


def test_the_dashboard_shows_every_workflow_worker_semaphore_and_alarm(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    dashboard = planned[f"{MODULE}.aws_cloudwatch_dashboard.this"]
    assert dashboard["dashboard_name"] == f"{PREFIX}stepqueue"
    widgets = json.loads(dashboard["dashboard_body"])["widgets"]
    metrics: set[tuple[str, str, str]] = set()
    for widget in widgets:
        for line in _metric_lines(widget):
            # [namespace, name, dimension, value, ..., {options}]: the last dimension's value.
            metrics.add((line[0], line[1], line[-2]))
    for wf in tfvars["workflows"]:
        arn = f"arn:aws:states:us-east-1:{ACCOUNT_ID}:stateMachine:{PREFIX}{wf}"
        for name in (
            "ExecutionsStarted",
            "ExecutionsSucceeded",
            "ExecutionsFailed",
            "ExecutionsTimedOut",
            "ExecutionsAborted",
            "ExecutionTime",
        ):
            assert ("AWS/States", name, arn) in metrics, (wf, name)
        for name in ("RunningExecutions", "OldestRunningSeconds"):
            assert ("Stepqueue", name, f"{PREFIX}{wf}") in metrics, (wf, name)
        for wk in tfvars["workflows"][wf]["workers"]:
            queue = f"{PREFIX}{wf}-{wk}"
            for name in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
                assert ("AWS/SQS", name, queue) in metrics, (queue, name)
            assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", f"{queue}-dlq") in metrics
            for name in ("ConcurrentExecutions", "Errors", "Throttles", "Duration"):
                assert ("AWS/Lambda", name, queue) in metrics, (queue, name)
    for sem in tfvars["semaphores"]:
        for name in ("Holders", "Limit", "Waiters", "OldestWaitSeconds", "LeakedSlotsReclaimed"):
            assert ("Stepqueue", name, sem) in metrics, (sem, name)
    [status] = [w for w in widgets if w["type"] == "alarm"]
    names = {a["alarm_name"] for a in _alarms(planned).values()}
    prefix = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT_ID}:alarm:"
    assert {arn.removeprefix(prefix) for arn in status["properties"]["alarms"]} == names


def test_the_dashboard_lists_extra_permissions_only_where_a_worker_has_some(
    planned: dict[str, dict[str, Any]], tfvars: dict[str, Any]
) -> None:
    """A text widget, one row per statement, managed policy and secret of each worker that
    has any (tfvars written before these fields existed have none); without any, no widget,
    and the dashboard of a deployment made before is unchanged."""
    widgets = json.loads(planned[f"{MODULE}.aws_cloudwatch_dashboard.this"]["dashboard_body"])[
        "widgets"
    ]
    texts = [w["properties"]["markdown"] for w in widgets if w["type"] == "text"]
    expected = {
        f"{wf}/{wk}": len(w.get("policy_statements", []))
        + len(w.get("managed_policy_arns", []))
        + len(set(w.get("secrets", {}).values()))
        for wf, spec in tfvars["workflows"].items()
        for wk, w in spec["workers"].items()
    }
    rows = [line for text in texts for line in text.splitlines() if line.startswith("| ")]
    rows = [row for row in rows if not row.startswith("| worker |")]
    shown = {key: sum(row.startswith(f"| {key} |") for row in rows) for key in expected}
    assert shown == expected
    assert len(texts) == (1 if any(expected.values()) else 0)


def _metric_lines(widget: dict[str, Any]) -> list[list[Any]]:
    """A widget's metric lines, without its metric math lines (`[{"expression": ...}]`)."""
    lines = widget["properties"].get("metrics", [])
    return [line for line in lines if isinstance(line[0], str)]


def _widget(widgets: list[dict[str, Any]], title: str) -> dict[str, Any]:
    [widget] = [w for w in widgets if w["properties"].get("title") == title]
    return widget


def test_the_starters_errors_are_alarmed_and_its_dlq_once(
    planned: dict[str, dict[str, Any]], start_queue: dict[str, Any]
) -> None:
    assert start_queue["queue"] == f"{PREFIX}stepqueue-start"
    assert start_queue["dlq"] == f"{start_queue['queue']}-dlq"  # as the root names it
    assert start_queue["function"] == f"{PREFIX}stepqueue-starter"
    alarms = _alarms(planned)
    errors = alarms["errors/starter"]
    assert errors["alarm_name"] == f"{PREFIX}stepqueue-starter-errors"
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": start_queue["function"]}
    assert errors["statistic"] == "Sum"
    assert errors["period"] == 300
    assert errors["threshold"] == 0
    # The start DLQ's alarm is modules/queue's, routed to the topic like the rest; monitoring
    # adds none on either start queue.
    dlq_alarm = planned[f"{START}.module.queue.aws_cloudwatch_metric_alarm.dlq[0]"]
    assert dlq_alarm["metric_name"] == "ApproximateNumberOfMessagesVisible"
    assert dlq_alarm["dimensions"] == {"QueueName": start_queue["dlq"]}
    assert dlq_alarm["threshold"] == 0
    assert dlq_alarm["alarm_actions"] == [TOPIC]
    queues = {start_queue["queue"], start_queue["dlq"]}
    assert [k for k, a in alarms.items() if a["dimensions"].get("QueueName") in queues] == []


def test_the_dashboard_shows_the_start_queue_and_the_starts_against_the_pace(
    planned: dict[str, dict[str, Any]], start_queue: dict[str, Any]
) -> None:
    widgets = json.loads(planned[f"{MODULE}.aws_cloudwatch_dashboard.this"]["dashboard_body"])[
        "widgets"
    ]
    queue, dlq, function = start_queue["queue"], start_queue["dlq"], start_queue["function"]

    depth = _widget(widgets, f"{queue}: queue and DLQ depth")
    assert [line[:4] for line in _metric_lines(depth)] == [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue],
        ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", queue],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", dlq],
    ]
    age = _widget(widgets, f"{queue}: oldest message (s)")
    assert [line[:4] for line in _metric_lines(age)] == [
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue]
    ]
    assert age["properties"]["stat"] == "Maximum"

    counts = _widget(widgets, f"{function}: starts, duplicates, retries, dead-lettered")
    assert counts["properties"]["stat"] == "Sum"
    assert [line[:4] for line in _metric_lines(counts)] == [
        ["Stepqueue", name, "Function", function]
        for name in ("Started", "DuplicateSubmissions", "StartRetries", "DeadLettered")
    ]

    # Per second against the pace: Started's Sum over the graph's period, whatever it is.
    rate = _widget(widgets, f"{function}: starts per second")
    [math_line] = [line for line in rate["properties"]["metrics"] if isinstance(line[0], dict)]
    [started] = _metric_lines(rate)
    assert started[:4] == ["Stepqueue", "Started", "Function", function]
    assert started[4]["visible"] is False
    assert math_line[0]["expression"] == f"{started[4]['id']} / PERIOD({started[4]['id']})"
    assert rate["properties"]["stat"] == "Sum"
    [bound] = rate["properties"]["annotations"]["horizontal"]
    assert bound["value"] == start_queue["starts_per_second"] == 100

    lam = _widget(widgets, f"{function}: errors, throttles, duration (ms)")
    assert {line[1] for line in _metric_lines(lam)} == {"Errors", "Throttles", "Duration"}
    assert {line[3] for line in _metric_lines(lam)} == {function}


def test_the_errors_kind_switches_off_with_the_starters_alarm(
    emulator: Emulator,
    generated_dir: Path,
    lambda_zip: Path,
    tmp_path_factory: pytest.TempPathFactory,
    planned: dict[str, dict[str, Any]],
) -> None:
    """`monitoring_alarms` without `errors`: no errors/... alarm, the starter's included, every
    other alarm as before; the dashboard still shows the start queue, and its alarm widget only
    the alarms that exist."""
    kinds = [kind for kind in KINDS if kind != "errors"]
    tmp = tmp_path_factory.mktemp("monitoring-no-errors")
    plan = _plan_root(emulator, generated_dir, lambda_zip, tmp, monitoring_alarms=kinds)
    without = _created(plan, MODULE)
    alarms, before = _alarms(without), _alarms(planned)
    assert "errors/starter" in before
    assert set(alarms) == {key for key in before if not key.startswith("errors/")}
    widgets = json.loads(without[f"{MODULE}.aws_cloudwatch_dashboard.this"]["dashboard_body"])[
        "widgets"
    ]
    titles = {w["properties"].get("title") for w in widgets}
    assert f"{PREFIX}stepqueue-starter: starts per second" in titles
    [status] = [w for w in widgets if w["type"] == "alarm"]
    assert f"{PREFIX}stepqueue-starter-errors" not in " ".join(status["properties"]["alarms"])
    assert len(status["properties"]["alarms"]) == len(alarms)


def test_the_module_has_its_four_files_and_describes_and_validates_every_variable() -> None:
    base = MODULES / "monitoring"
    assert sorted(p.name for p in base.iterdir()) == [
        "README.md",
        "examples",
        "main.tf",
        "outputs.tf",
        "variables.tf",
        "versions.tf",
    ]
    text = (base / "variables.tf").read_text()
    blocks = re.findall(r'^variable "([a-z0-9_]+)" \{(.*?)^\}', text, re.M | re.S)
    assert blocks
    for name, body in blocks:
        for attribute in ("description", "type"):
            assert re.search(rf"^  {attribute}\s*=", body, re.M), f"var.{name}: no {attribute}"
        assert "validation {" in body, f"var.{name} is not validated"
