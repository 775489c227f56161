"""`stepqueue`: one command for every user action.

    validate | generate | diagram      the generator (specs → ASL and Terraform inputs)
    plan | apply | destroy             deploying, to AWS or (--env local) to the emulator
    init | run                         a new project; one execution, waited for and shown
    semaphore set | status             a waiting-room semaphore's limit and state, at run time
    cost | drift | redrive             operating it: estimates, drift checks, DLQ redrive
    submit                             start executions through the start queue (bounded rate)
    demo | emulator                    running everything on this machine

Every command but `init` works on one project (stepqueue.project): `--project DIR`, given before
or after the command, else the nearest stepqueue.toml upwards. This module only parses and
dispatches: each package loads when its command runs, so `--help`
stays fast and the generator never imports the deploy or local packages.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import cli as generator_cli
from stepqueue import console

if TYPE_CHECKING:
    from stepqueue.deploy.commands import Target
    from stepqueue.project import Project

DEPLOY_COMMANDS = ("plan", "apply", "destroy")
# Their own parsers read the rest of the command line (`stepqueue demo --help` shows it).
PASS_THROUGH = {
    "demo": "emulator, generate, apply, a burst of executions through the workers, a report",
    "emulator": "the local AWS emulator and the event source runner for whatever is deployed "
    "(foreground, or --background / --stop)",
}


def _version() -> str:
    """The installed distribution's version (pyproject.toml), read without importing anything
    heavy: `--version` is as fast as `--help`."""
    from stepqueue.paths import version

    return version()


class _VersionAction(argparse.Action):
    """`--version`: the line, or `{"version": ...}` under --json."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        version = _version()
        console.current().result({"version": version}, f"stepqueue {version}")
        parser.exit(0)


def _parser() -> argparse.ArgumentParser:
    parser = console.Parser(
        prog="stepqueue",
        description="Step Functions workflows whose tasks are queued to SQS workers: "
        "validate and generate specs, deploy them, run them locally.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, nargs=0, help="show the version and exit"
    )
    parser.add_argument(
        "--project",
        metavar="DIR",
        help="the project (its stepqueue.toml); default: the nearest one upwards from here. "
        "Also accepted after the command",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generator_cli.add_commands(commands, project_defaults=True)
    from stepqueue.ops import run_command
    from stepqueue.scaffold import init_command

    init_command.add_command(commands)
    run_command.add_command(commands, _add_deployment_flags)
    for name, help_text in (
        ("plan", "build the inputs, save a Terraform plan and print its summary"),
        ("apply", "apply exactly the saved plan (refused when missing or stale)"),
        ("destroy", "destroy a deployment (asks for the stage's name unless --yes)"),
    ):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _add_deployment_flags(sub)
        if name == "plan":
            sub.add_argument(
                "--workflows",
                type=Path,
                default=None,
                metavar="DIR",
                help="specs to generate from (default: the project's workflows)",
            )
        if name == "destroy":
            sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_semaphore(commands)
    from stepqueue.ops import arguments as ops_arguments

    ops_arguments.add_commands(commands, _add_deployment_flags)
    from stepqueue.ops import submit_command

    submit_command.add_command(commands, _add_deployment_flags)
    for name, help_text in PASS_THROUGH.items():
        commands.add_parser(name, help=help_text, description=help_text, add_help=False)
    console.add_flags(parser, top=True)  # --json, -v, -q on every command (docs/cli.md)
    return parser


def _add_deployment_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--env", choices=("aws", "local"), default=None, help="default: the stage's, else aws"
    )
    sub.add_argument(
        "--stage",
        metavar="NAME",
        help="prefixes every resource and selects its own Terraform workspace, so dev and "
        "prod coexist in one account (default: none, the default workspace)",
    )
    sub.add_argument(
        "--backend-config",
        type=Path,
        metavar="FILE",
        help="remote state: a Terraform backend config file (e.g. prod.s3.tfbackend)",
    )
    sub.add_argument(
        "--backend", metavar="TYPE", help="backend type when FILE is not NAME.TYPE.tfbackend"
    )


def _add_semaphore(commands: Any) -> None:
    help_text = "a waiting-room semaphore's limit (set) and state (status), at run time"
    semaphore = commands.add_parser("semaphore", help=help_text, description=help_text)
    actions = semaphore.add_subparsers(dest="semaphore_command", required=True, metavar="ACTION")
    set_help = (
        "change a semaphore's limit now: posted to its waiting room, applied in its order; "
        "lowering stops grants until fewer hold, raising admits waiters at once"
    )
    status_help = "limit, holders, waiters and the oldest wait of one semaphore or of all"
    for name, text in (("set", set_help), ("status", status_help)):
        sub = actions.add_parser(name, help=text, description=text)
        if name == "set":
            sub.add_argument("name", metavar="NAME", help="the semaphore")
            sub.add_argument("--limit", type=int, required=True, metavar="N", help="new limit")
        else:
            sub.add_argument("name", metavar="NAME", nargs="?", help="one semaphore (default: all)")
            sub.add_argument("--json", action="store_true", help="a JSON list instead of a table")
        _add_deployment_flags(sub)
        sub.add_argument(
            "--table",
            metavar="NAME",
            help="the semaphore table, instead of the deployment's Terraform outputs",
        )
        sub.add_argument(
            "--queue-url",
            metavar="URL",
            help="the gatekeeper's FIFO queue (with --table; `set` needs it)",
        )


def main(argv: Sequence[str] | None = None) -> int:
    from stepqueue.project import take_project_flag

    args_list, project_dir = take_project_flag(list(sys.argv[1:] if argv is None else argv))
    console.configure(None, args_list, prog="stepqueue")
    # console.run also ends a closed pipe (`stepqueue cost ... | head`) quietly, exit 141.
    return console.run(lambda: _main(args_list, project_dir))


def _main(args_list: list[str], project_dir: Path | None) -> int:
    from stepqueue.project import ProjectError

    try:
        command = _pass_through_command(args_list)
        if command is not None:
            rest = list(args_list)
            rest.remove(command)  # the convention's flags before it are the command's own too
            return _pass_through(command, rest, project_dir)
        parser = _parser()
        args = parser.parse_args(args_list)
        console.configure(args, prog=f"stepqueue {args.command}")
        if args.command == "init":
            from stepqueue.scaffold import init_command

            return init_command.run(args)
        from stepqueue.project import for_command

        args.project = for_command(args, project_dir)
        return _command(args, parser)
    except ProjectError as error:
        raise console.CommandError(
            error.message,
            kind="project",
            usage=True,
            file=str(error.file) if error.file else None,
            line=error.line or None,
            fix=error.fix,
        ) from None


def _command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command in generator_cli.COMMANDS:
        return generator_cli.run(args, parser)
    if args.command == "cost":
        from stepqueue.ops import cost_command

        return cost_command.run(args)
    if args.backend and not args.backend_config:
        parser.error("--backend needs --backend-config FILE")
    if args.backend_config and args.env == "local":
        parser.error("--backend-config is for --env aws; the emulator's state is in build/")
    if args.command == "semaphore":
        from stepqueue.deploy import semaphore_command

        return semaphore_command.run(args, lambda endpoint: _target(args, endpoint))
    if args.command in ("drift", "redrive"):
        from stepqueue.ops import deployed_command

        return deployed_command.run(args, lambda endpoint: _target(args, endpoint))
    if args.command == "submit":
        from stepqueue.ops import submit_command

        return submit_command.run(args, lambda endpoint: _target(args, endpoint))
    if args.command == "run":
        from stepqueue.ops import run_command

        return run_command.run(args, lambda endpoint: _target(args, endpoint))
    return _deploy(args)


def _pass_through_command(args_list: list[str]) -> str | None:
    """`demo` or `emulator` when the command line names it, after any of --json, -v, -q."""
    for word in args_list:
        if word in PASS_THROUGH:
            return word
        if word not in ("--json", "-v", "--verbose", "-q", "--quiet", "-vv"):
            return None
    return None


def _pass_through(command: str, rest: list[str], project_dir: Path | None) -> int:
    from stepqueue.project import find_project

    console.configure(None, rest, prog=f"stepqueue {command}")
    wants_help = bool(rest) and rest[0] in ("-h", "--help")
    project = None if wants_help else find_project(explicit=project_dir)
    if command == "emulator":
        from stepqueue.local import emulator_command

        return emulator_command.main(rest, project)
    from stepqueue.local import demo

    return demo.main(rest, project, prog="stepqueue demo")


def _deploy(args: argparse.Namespace) -> int:
    from stepqueue.deploy import commands
    from stepqueue.deploy.terraform import TerraformError

    try:
        from stepqueue.deploy.inputs import check_stage

        check_stage(args.stage)
        ask = None
        if args.command == "destroy":
            # Before anything touches AWS: no terminal and no --yes is a refusal.
            ask = commands.confirmation(yes=args.yes, local=args.env == "local")
        from stepqueue.environment import endpoint_for

        # Checked first: building the inputs is wasted without an emulator or credentials.
        endpoint = endpoint_for(args.env, args.project.port_file)
        if args.command == "plan":
            prefix = f"{args.stage}-" if args.stage else ""
            _build_inputs(args.project, args.workflows, prefix, local=args.env == "local")
        elif args.command == "apply" and endpoint is None:
            # Before the inputs are read: with no saved plan, what is missing is `plan`.
            commands.require_saved_plan(_plan_file(args), _plan_command(args))
        target = _target(args, endpoint)
        done = True
        if args.command == "plan":
            commands.plan(target)
        elif args.command == "apply":
            commands.apply(target)
        else:
            done = commands.destroy(target, ask=ask)  # False: the user did not confirm
    except TerraformError as error:
        raise console.from_exception(error, kind="terraform") from None
    console.current().result(target.report)
    return console.EXIT_OK if done else console.EXIT_FAILURE


def _build_inputs(
    project: Project, workflows: Path | None, name_prefix: str, local: bool = False
) -> None:
    from stepqueue.deploy.artifacts import SpecsInvalid, build_all, local_python_version

    try:
        # Locally, worker artifacts are built for the runner's Python (the local runtime).
        python_version = local_python_version() if local else None
        build_all(project, name_prefix, workflows, python_version)
    except SpecsInvalid as error:
        raise console.CommandError(
            str(error),
            kind="invalid-spec",
            usage=True,
            fix="run `stepqueue validate` on the specs and fix what it reports",
            details={"diagnostics": error.diagnostics_text.splitlines()},
            lines=error.diagnostics_text.splitlines(),
        ) from None


def _plan_file(args: argparse.Namespace) -> Path:
    project: Project = args.project
    return project.plans / f"{args.env}-{args.stage or 'default'}.tfplan"


def _plan_command(args: argparse.Namespace) -> str:
    flags = f" --stage {args.stage}" if args.stage else ""
    if args.backend_config:
        flags += f" --backend-config {args.backend_config}"
    if args.backend:
        flags += f" --backend {args.backend}"
    return f"stepqueue plan --env {args.env}{flags}"


def _target(args: argparse.Namespace, endpoint: str | None) -> Target:
    from stepqueue.deploy.backend import backend_type
    from stepqueue.deploy.commands import Target
    from stepqueue.deploy.inputs import DeployInputs
    from stepqueue.deploy.shipped import prepare

    project: Project = args.project
    root = prepare(project.terraform_root, project.shipped_terraform)
    inputs = DeployInputs(project.generated, project.lambda_zip)
    stage = args.stage or "default"
    plan_command = _plan_command(args)
    backend = backend_type(args.backend_config, args.backend) if args.backend_config else None
    if endpoint is not None:
        from stepqueue.local.deployment import local_deployment

        terraform = local_deployment(
            endpoint,
            project.local_state / stage,
            root=root,
            generated_dir=inputs.generated_dir,
            lambda_zip=inputs.lambda_zip,
            stage=args.stage,
        )
        where = f"the emulator at {endpoint}"
        account = None
    else:
        from stepqueue.deploy.inputs import aws_account_id, aws_deployment

        terraform = aws_deployment(
            inputs=inputs, stage=args.stage, backend_config=args.backend_config, root=root
        )
        where = "AWS"
        account = aws_account_id
    return Target(
        terraform=terraform,
        inputs=inputs,
        plan_file=_plan_file(args),
        label=f"stage '{stage}' on {where}",
        plan_command=plan_command,
        stage=stage,
        backend=backend,
        local=endpoint is not None,
        account=account,
    )
