"""The generator's commands: validate, generate, diagram.

`stepqueue` (stepqueue.cli) registers them with `add_commands` beside the deploy and local
commands; `python -m generator` runs them alone. Both follow docs/cli.md: exit 0 success; 1 when
`validate` finds errors (its answer, as `drift` finding a difference); 2 bad usage or bad input
(a spec with errors given to `generate` or `diagram`, a missing file, a refused --out);
`--json` makes stdout one JSON document, and an error one JSON object on stderr too. The
generator imports nothing of stepqueue, so the few lines of that convention it needs are
written here. Only argparse is imported up front; the pipeline loads inside the command so
`--help` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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


class _Parser(argparse.ArgumentParser):
    """`python -m generator`'s parser: a usage error is exit 2, as JSON under --json."""

    def error(self, message: str) -> NoReturn:
        if "--json" in sys.argv[1:]:
            _error_json("usage", message, fix=f"see `{self.prog} --help`")
            raise SystemExit(EXIT_USAGE)
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m generator",
        description="Workflow specs (YAML) in; Step Functions ASL and Terraform inputs out.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(commands)
    for sub in commands.choices.values():
        sub.add_argument("--json", action="store_true", help="stdout is one JSON document")
        sub.add_argument("-q", "--quiet", action="store_true", help="only results and errors")
        # Nothing runs underneath the generator: accepted so every command takes the flags.
        sub.add_argument("-v", "--verbose", action="count", default=0, help=argparse.SUPPRESS)
    return parser


def _as_json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _error_json(kind: str, message: str, **fields: Any) -> None:
    """The convention's error: one JSON object on stdout (the answer) and on stderr."""
    error = {"kind": kind, "message": message, "file": None, "line": None, "fix": None}
    line = json.dumps({"error": {**error, **fields}}, sort_keys=True)
    print(line, flush=True)
    print(line, file=sys.stderr, flush=True)


def _print(args: argparse.Namespace, diagnostics: Sequence[Diagnostic]) -> None:
    if not _as_json(args):
        for d in diagnostics:
            print(d.format(), file=sys.stderr)


def _say(args: argparse.Namespace, message: str) -> None:
    if not _as_json(args) and not getattr(args, "quiet", False):
        print(f"stepqueue: {message}", file=sys.stderr)


def _summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diagnostics)
    warnings = len(diagnostics) - errors
    return f"{errors} error(s), {warnings} warning(s)"


def _refused(args: argparse.Namespace, diagnostics: Sequence[Diagnostic], message: str) -> int:
    """Every diagnostic, then `message`; under --json one error carrying them. Exit 1 for
    `validate` (errors are what it looks for), 2 for a command given bad input."""
    _print(args, diagnostics)
    if _as_json(args):
        errors = [d for d in diagnostics if d.is_error]
        first = errors[0] if errors else None
        _error_json(
            "invalid-spec",
            message,
            file=first.file if first else None,
            line=first.line if first else None,
            fix=first.fix if first else None,
            diagnostics=[d.as_json() for d in diagnostics],
        )
    else:
        print(f"stepqueue: {message}", file=sys.stderr)
    return EXIT_INVALID if args.command == "validate" else EXIT_USAGE


def _answer(args: argparse.Namespace, document: dict[str, Any]) -> None:
    if _as_json(args):
        print(json.dumps(document, sort_keys=True))


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
    if workflows is None:
        written = "; nothing written" if args.command == "generate" else ""
        return _refused(args, diagnostics, f"{_summary(diagnostics)}{written}")
    _print(args, diagnostics)
    found = [d.as_json() for d in diagnostics]
    if args.command == "validate":
        _say(args, f"{len(specs)} spec(s) valid, {_summary(diagnostics)}")
        _answer(args, {"valid": True, "specs": [str(p) for p in specs], "diagnostics": found})
        return EXIT_OK
    if args.command == "generate":
        from generator.api import render
        from generator.output import OutputRefused, write_tree

        files = render(workflows)
        try:
            write_tree(files, args.out)
        except OutputRefused as refused:  # --out names a directory the generator does not own
            return _refused(args, refused.diagnostics, "nothing written")
        except OSError as exc:  # --out cannot be made: under a file, no permission, disk full
            return _refused(args, [_write_failed(args.out, exc)], "nothing written")
        _say(args, f"wrote {len(files)} file(s) to {args.out}")
        _answer(args, {"out": str(args.out), "files": sorted(files), "diagnostics": found})
        return EXIT_OK
    from generator.diagram import diagram

    text = diagram(workflows[0])
    if _as_json(args):
        _answer(args, {"workflow": workflows[0].name, "mermaid": text, "diagnostics": found})
    else:
        sys.stdout.write(text)
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
