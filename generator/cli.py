"""The generator's commands: validate, generate, diagram.

`stepqueue` (stepqueue.cli) registers them with `add_commands` beside the deploy and local
commands; `python -m generator` runs them alone. Exit codes: 0 success, 1 invalid specs (every
problem printed), 2 usage errors. Only argparse is imported up front; the pipeline loads inside
the command so `--help` is fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from generator.errors import Diagnostic

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
COMMANDS = ("validate", "generate", "diagram")


def add_commands(commands: Any, project_defaults: bool = False) -> None:
    """Register the generator's subcommands on an argparse subparsers object.

    project_defaults: the caller (`stepqueue`) fills SPEC, --lambda-src and --out from the
    project when they are left out, so they become optional."""

    def add(name: str, help_text: str, many: bool = True) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(
            name, help=help_text, description=help_text
        )
        optional = " (default: the project's workflows)" if project_defaults else ""
        sub.add_argument(
            "specs",
            nargs=("*" if project_defaults else "+")
            if many
            else ("?" if project_defaults else None),
            metavar="SPEC",
            help=f"workflow spec (YAML){optional}",
        )
        sub.add_argument(
            "--lambda-src",
            type=Path,
            metavar="DIR",
            help="where handler modules live (default: $STEPQUEUE_LAMBDA_SRC, else the nearest "
            "lambda_src/ above each spec)",
        )
        sub.add_argument(
            "--name-prefix",
            default="",
            metavar="PREFIX",
            help="the Terraform root's name_prefix, plus STAGE- when deploying a stage: AWS "
            "names derived from the specs are checked with it (default: none)",
        )
        return sub

    add("validate", "check specs; print every error and warning")
    gen = add("generate", "write ASL and workflows.tfvars.json (all or nothing)")
    gen.add_argument(
        "--out",
        required=not project_defaults,
        type=Path,
        metavar="DIR",
        help="output directory: new, empty, or a previous output (replaced as a whole)",
    )
    add("diagram", "print a Mermaid flowchart of the expanded workflow", many=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Workflow specs (YAML) in; Step Functions ASL and Terraform inputs out.",
    )
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def _print(diagnostics: Sequence[Diagnostic]) -> None:
    for d in diagnostics:
        print(d.format(), file=sys.stderr)


def _summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{errors} error(s), {warnings} warning(s)"


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run a parsed generator command; `parser` reports usage errors (exit 2)."""
    specs: list[Path] = [
        Path(s) for s in (args.specs if isinstance(args.specs, list) else [args.specs])
    ]
    for spec in specs:
        if not spec.is_file():
            parser.error(f"{spec}: no such file")  # exits with EXIT_USAGE
    from generator.api import load_and_validate

    workflows, diagnostics = load_and_validate(specs, args.lambda_src, name_prefix=args.name_prefix)
    _print(diagnostics)
    if workflows is None:
        print(f"stepqueue: {_summary(diagnostics)}; nothing written", file=sys.stderr)
        return EXIT_INVALID
    if args.command == "validate":
        print(f"stepqueue: {len(specs)} spec(s) valid, {_summary(diagnostics)}", file=sys.stderr)
        return EXIT_OK
    if args.command == "generate":
        from generator.api import render
        from generator.output import OutputRefused, write_tree

        files = render(workflows)
        try:
            write_tree(files, args.out)
        except OutputRefused as refused:  # --out names a directory the generator does not own
            _print(refused.diagnostics)
            print("stepqueue: nothing written", file=sys.stderr)
            return EXIT_USAGE
        except OSError as exc:  # --out cannot be made: under a file, no permission, disk full
            _print([_write_failed(args.out, exc)])
            print("stepqueue: nothing written", file=sys.stderr)
            return EXIT_USAGE
        print(f"stepqueue: wrote {len(files)} file(s) to {args.out}", file=sys.stderr)
        return EXIT_OK
    from generator.diagram import diagram

    sys.stdout.write(diagram(workflows[0]))
    return EXIT_OK


def _write_failed(out: Path, exc: OSError) -> Diagnostic:
    """`DIR: error: ...` for a file-system error writing --out (write_tree left nothing)."""
    from generator.errors import Diagnostic

    reason = exc.strerror or type(exc).__name__
    if exc.filename is not None:
        reason = f"{reason}: {exc.filename}"
    return Diagnostic(
        str(out),
        0,
        0,
        "--out",
        f"cannot write the output directory ({reason})",
        "choose a --out path that can be created as a directory (not under a file), "
        "with write permission on its parent",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    return run(parser.parse_args(argv), parser)
