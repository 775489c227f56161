"""`stepqueue demo -n 200` (make demo N=200): everything local, then a report; stops all it
started, also on Ctrl-C.

generate workflows/*.yaml and build the Lambda zip → emulator (fresh) → terraform init and
apply (state in build/demo/) → local event-source runner → N executions of the `burst` workflow
started at once, a few that fail on purpose (Catch path) and a few poison messages sent straight
to the worker queue (DLQ path) → live progress → report → one execution of each JSONata example
(a semaphore; a Map with a queued task), which must succeed.
Exit status (docs/cli.md): 0 when nothing was lost and no limit was exceeded, 1 otherwise or
when a step fails, 2 on bad input (a spec with errors, bad flags), 130 when interrupted.
`--json`: stdout is the report as one JSON document; `--report FILE` writes it to a file too
(default build/demo/report.json).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import types
import uuid
from pathlib import Path

from stepqueue import console
from stepqueue.deploy import terraform as tf
from stepqueue.deploy.artifacts import SpecsInvalid, build_all, local_python_version
from stepqueue.local import report
from stepqueue.local.burst import (
    TERMINAL,
    Deployment,
    HolderMonitor,
    deployed,
    run_burst,
)
from stepqueue.local.emulator import EmulatorError
from stepqueue.local.runner import MappingMetrics, Runner, RunnerError
from stepqueue.project import Project

DEMO_WORKFLOW = "burst"
FAILED_VISIBILITY_S = 1
# The JSONata examples of workflows/ and an input each (their headers describe them); run once
# after the burst when generated.
JSONATA_EXAMPLES = {
    "jsonata-orders": {"order_id": "o-1", "items": [{"price": 20, "qty": 2}]},
    "jsonata-media": {"files": ["a.mov", "b.mov"], "renditions": ["720p"], "seconds": 0},
}
JSONATA_TIMEOUT_S = 180.0


def run_jsonata_examples(deployment: Deployment) -> dict[str, str]:
    """workflow -> the final status of one execution of each JSONata example deployed."""
    sfn = deployment.emulator.client("stepfunctions")
    arns = deployment.outputs["state_machine_arns"]
    started = {
        name: sfn.start_execution(
            stateMachineArn=arns[name],
            name=f"demo-{uuid.uuid4().hex[:12]}",
            input=json.dumps(payload),
        )["executionArn"]
        for name, payload in JSONATA_EXAMPLES.items()
        if name in arns
    }
    status = {name: "RUNNING" for name in started}
    deadline = time.monotonic() + JSONATA_TIMEOUT_S
    while any(s not in TERMINAL for s in status.values()) and time.monotonic() < deadline:
        for name, arn in started.items():
            if status[name] not in TERMINAL:
                status[name] = sfn.describe_execution(executionArn=arn)["status"]
        time.sleep(0.5)
    return status


def _log(message: str) -> None:
    console.current().info(f"[demo] {message}")


def _interrupt_on_sigterm() -> None:
    # SIGTERM (a CI timeout, `kill`) takes the same path as Ctrl-C: the finally blocks stop
    # the runner's containers and the emulator.
    def raise_interrupt(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, raise_interrupt)


def main(
    argv: list[str] | None = None,
    project: Project | None = None,
    prog: str = "python -m stepqueue.local.demo",
) -> int:
    parser = console.Parser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--executions", "-n", type=int, default=200)
    parser.add_argument("--work-seconds", type=float, default=0.5, help="task duration")
    parser.add_argument("--failing", type=int, default=5, help="executions meant to fail")
    parser.add_argument("--poison", type=int, default=3, help="malformed messages to send")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait at most")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the report as JSON here (default: BUILD/demo/report.json)",
    )
    console.add_flags(parser, top=True)
    return console.run(lambda: _main(parser, argv, project))


def _main(parser: argparse.ArgumentParser, argv: list[str] | None, project: Project | None) -> int:
    args = parser.parse_args(argv)
    console.configure(args, prog=parser.prog)
    if args.executions < 1:
        parser.error("--executions must be at least 1")
    if project is None:
        from stepqueue.project import find_project

        project = find_project()
    _interrupt_on_sigterm()
    try:
        return _run(args, project)
    except KeyboardInterrupt:
        _log("interrupted: everything started was stopped")
        return console.EXIT_INTERRUPTED
    except SpecsInvalid as error:
        lines = error.diagnostics_text.splitlines()
        raise console.CommandError(
            str(error), kind="invalid-spec", usage=True, details={"diagnostics": lines}, lines=lines
        ) from None
    except (tf.TerraformError, RunnerError, EmulatorError) as error:
        raise console.from_exception(error) from None


def _run(args: argparse.Namespace, project: Project) -> int:
    from stepqueue.deploy.shipped import prepare

    work_dir = project.build / "demo"
    _log(f"generating {project.workflows}/*.yaml and building the Lambda zip")
    generated, zip_path = build_all(project, python_version=local_python_version())
    tfvars = json.loads((generated / "workflows.tfvars.json").read_text())
    if DEMO_WORKFLOW not in tfvars.get("workflows", {}):
        raise console.CommandError(
            f"the demo runs a burst of the `{DEMO_WORKFLOW}` workflow (this repository's "
            "workflows/burst.yaml), which this project does not have",
            kind="usage",
            usage=True,
            fix="run your own workflows with `stepqueue emulator --background`, "
            "`stepqueue apply --env local` and `stepqueue run WORKFLOW --env local`",
        )
    root = prepare(project.terraform_root, project.shipped_terraform)
    _log(f"starting the emulator; terraform state and logs in {work_dir}")
    with deployed(
        work_dir, generated_dir=generated, lambda_zip=zip_path, root=root, log=_log
    ) as deployment:
        _log("starting the local event-source runner (the packaged handler, from the zip)")
        with Runner(
            deployment.emulator.endpoint,
            deployment.zip_path,
            failed_visibility_s=FAILED_VISIBILITY_S,
            log_path=work_dir / "containers.log",
        ) as runner:
            total = args.executions + args.failing
            _log(
                f"starting {total} executions at once ({args.failing} fail on purpose)"
                f" and {args.poison} poison messages"
            )
            with console.current().step("executions done", total=total) as bar:

                def progress(done: int, _: int, holders: HolderMonitor, m: MappingMetrics) -> None:
                    bar.update(
                        done,
                        f"holders {holders.last}/{holders.limit}, "
                        f"workers {m.in_flight}/{m.max_concurrency}",
                    )

                started = time.monotonic()
                result = run_burst(
                    deployment,
                    runner,
                    executions=args.executions,
                    work_seconds=args.work_seconds,
                    failing=args.failing,
                    poison=args.poison,
                    timeout_s=args.timeout,
                    progress=progress,
                )
            _log(f"burst finished in {time.monotonic() - started:.1f} s")
            _log("running each JSONata example once")
            jsonata = run_jsonata_examples(deployment)
            _log("stopping")
    out = console.current()
    document = {**result.as_dict(), "jsonata_examples": jsonata}
    jsonata_ok = all(s == "SUCCEEDED" for s in jsonata.values())
    text = report.render(result, failed_visibility_s=FAILED_VISIBILITY_S)
    if jsonata:
        shown = ", ".join(f"{name} {state}" for name, state in sorted(jsonata.items()))
        text += f"\n  JSONata examples             {shown}"
    report_path = args.report or work_dir / "report.json"
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(document, indent=2) + "\n")
    out.result(document, text)
    return 0 if result.ok and jsonata_ok else 1


if __name__ == "__main__":
    sys.exit(main())
