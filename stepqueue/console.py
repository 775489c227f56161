"""The command-line convention every `stepqueue` command follows (docs/cli.md).

- `--json`: stdout is exactly one JSON document: the command's result, or `{"error": {...}}`
  when it ends in an error; that error object is also the one line on stderr.
- Exit status: 0 success; 1 a failure or a difference found; 2 bad usage or bad input
  (argparse's own errors included).
- `-v/--verbose` shows what the command runs (Terraform's own output), `-q/--quiet` only
  results and errors.
- Long steps show progress on a terminal, and one plain line per step when stderr is a log.

A command adopts it with one line: its parser is made by `Parser` (every subparser of a
`Parser` is one) and `add_flags` runs over the whole tree (`stepqueue.cli` does both), so a
new subcommand gets `--json`, `-v` and `-q` without a line of its own. Commands then speak
through `current()`: `result()` for the answer, `info()` for what happens, `fail()` /
`usage()` to end with an error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TextIO

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
# A log gets one line per this many seconds of a long step with no count to show.
LOG_HEARTBEAT_S = 30.0
TICK_S = 0.5  # how often a live line is redrawn (and a log line considered)


class CommandError(Exception):
    """Ends a command: exit 1 (a failure) or 2 (`usage=True`: bad usage or bad input)."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "failure",
        usage: bool = False,
        file: str | None = None,
        line: int | None = None,
        fix: str | None = None,
        details: dict[str, Any] | None = None,
        lines: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.lines = list(lines)  # printed before the message, without --json (diagnostics)
        self.message = message
        self.kind = kind
        self.usage = usage
        self.file = file
        self.line = line
        self.fix = fix
        self.details = details or {}

    @property
    def exit_code(self) -> int:
        return EXIT_USAGE if self.usage else EXIT_FAILURE

    def as_json(self) -> dict[str, Any]:
        error = {
            "kind": self.kind,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "fix": self.fix,
            **self.details,
        }
        return {"error": error}


def usage_error(message: str, **kwargs: Any) -> CommandError:
    return CommandError(message, kind="usage", usage=True, **kwargs)


def invalid_specs(message: str, errors: Sequence[Any]) -> CommandError:
    """Spec errors (generator Diagnostics) as the error a command ends with: the first one's
    place and fix, and every one as `validate` prints it in `diagnostics`."""
    first = errors[0] if errors else None
    return CommandError(
        message,
        kind="invalid-spec",
        usage=True,
        file=first.file if first else None,
        line=first.line if first else None,
        fix=first.fix if first else None,
        details={"diagnostics": [d.as_json() for d in errors]},
        lines=[d.format() for d in errors],
    )


class BadInput:
    """Marks an exception class as the user's input being wrong (exit 2), not a failure."""


def from_exception(error: BaseException, kind: str = "failure") -> CommandError:
    """A known exception as the error a command ends with; bad input (BadInput) exits 2."""
    if isinstance(error, CommandError):
        return error
    if isinstance(error, BadInput):
        return CommandError(str(error), kind="bad-input", usage=True)
    return CommandError(str(error), kind=kind)


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors end the command like any other (JSON under --json), with
    exit status 2; its subparsers are Parsers too (argparse makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(
            message, kind="usage", usage=True, fix=f"see `{self.prog} --help`", details={}
        ) from None


@dataclass
class Console:
    """How this run of a command speaks: set once from the command line (`configure`)."""

    json: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1 or more verbose
    prog: str = "stepqueue"
    _answered: bool = False

    # Looked up at each use: a test's capture (or a redirect) replaces sys.stdout at any time.
    @property
    def out(self) -> TextIO:
        return sys.stdout

    @property
    def err(self) -> TextIO:
        return sys.stderr

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0

    @property
    def interactive(self) -> bool:
        """stderr is a terminal: progress may redraw a line; otherwise one line per step."""
        return _isatty(self.err)

    def info(self, message: str) -> None:
        """What is happening (stderr): hidden by -q."""
        if not self.quiet:
            print(message, file=self.err, flush=True)

    def say(self, message: str) -> None:
        """What a person reads as the answer (a plan's summary): stdout, or under --json
        stderr (stdout then holds the JSON document only), hidden by -q there."""
        if not self.json:
            print(message, file=self.out, flush=True)
        else:
            self.info(message)

    def detail(self, message: str) -> None:
        """What only -v shows (stderr)."""
        if self.verbose:
            print(message, file=self.err, flush=True)

    def result(self, document: Any, text: str | None = None) -> None:
        """The command's answer: `document` as JSON under --json, else `text` (when given)."""
        if self.json:
            if self._answered:
                raise RuntimeError("a command answers with one JSON document")
            self._answered = True
            print(json.dumps(document, sort_keys=True, default=str), file=self.out, flush=True)
        elif text is not None:
            print(text, file=self.out, flush=True)

    def report(self, error: CommandError) -> int:
        """Print `error` the convention's way; its exit status."""
        if self.json:
            line = json.dumps(error.as_json(), sort_keys=True, default=str)
            if not self._answered:
                self._answered = True
                print(line, file=self.out, flush=True)
            print(line, file=self.err, flush=True)
        else:
            for line in error.lines:
                print(line, file=self.err)
            text = f"{self.prog}: {'error: ' if error.usage else ''}{error.message}"
            if error.fix:  # one line, as the generator's diagnostics: "what — fix"
                text += f" — {error.fix}"
            print(text, file=self.err, flush=True)
        return error.exit_code

    @contextlib.contextmanager
    def step(self, label: str, total: int | None = None) -> Iterator[Progress]:
        """A long step: a live line on a terminal, else a line when it starts, every
        LOG_HEARTBEAT_S or every tenth of `total`, and when it ends (with its duration)."""
        progress = Progress(self, label, total)
        progress.start()
        try:
            yield progress
        except BaseException:
            progress.stop(failed=True)
            raise
        progress.stop(failed=False)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """One long step's progress (made by `Console.step`); `advance()`/`update()` from any
    thread, `note` for a short postfix (e.g. "holders 4/5")."""

    def __init__(self, console: Console, label: str, total: int | None) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.done = 0
        self.note = ""
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._logged_tenth = -1
        self._last_log = self._started

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def start(self) -> None:
        if self.console.quiet:
            return
        if not self.console.interactive:
            self.console.info(f"{self.label} ...")
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def update(self, done: int, note: str | None = None) -> None:
        with self._lock:
            self.done = done
            if note is not None:
                self.note = note

    def _line(self) -> str:
        counted = ""
        if self.total:
            counted = f" {self.done}/{self.total}"
        elif self.done:
            counted = f" {self.done}"
        note = f" ({self.note})" if self.note else ""
        return f"{self.label}:{counted}{note} {self.elapsed:.0f}s"

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            with self._lock:
                if self.console.interactive:
                    self.console.err.write("\r\x1b[K" + self._line())
                    self.console.err.flush()
                else:
                    self._log_if_due()

    def _log_if_due(self) -> None:
        now = time.monotonic()
        tenth = self.done * 10 // self.total if self.total else -1
        if tenth > self._logged_tenth or now - self._last_log >= LOG_HEARTBEAT_S:
            self._logged_tenth = max(tenth, self._logged_tenth)
            self._last_log = now
            print(self._line(), file=self.console.err, flush=True)

    def stop(self, *, failed: bool) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self.console.quiet:
            return
        end = "failed" if failed else "done"
        line = f"{self._line()} {end}"
        if self.console.interactive:
            self.console.err.write("\r\x1b[K")
        print(line, file=self.console.err, flush=True)


_current = Console()


def current() -> Console:
    """The console of the running command (a plain one before `configure`)."""
    return _current


def configure(args: argparse.Namespace | None, argv: Sequence[str] = (), prog: str = "") -> Console:
    """Set the running command's console from its parsed flags (or, when parsing failed,
    from the raw arguments, so a usage error still answers in JSON)."""
    global _current
    if args is not None:
        as_json = bool(getattr(args, "json", False))
        verbosity = int(getattr(args, "verbose", 0) or 0) - bool(getattr(args, "quiet", False))
    else:
        words = list(argv[: argv.index("--")] if "--" in argv else argv)
        as_json = "--json" in words
        verbosity = sum(w in ("-v", "--verbose") for w in words) - (
            "-q" in words or "--quiet" in words
        )
    _current = Console(json=as_json, verbosity=verbosity, prog=prog or _current.prog)
    return _current


def add_flags(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--json, -v and -q on `parser` and on every subcommand under it, unless one already
    defines the flag. Below the top they default to SUPPRESS, so a flag given before the
    command (`stepqueue --json validate`) is not reset by the subcommand's default."""
    default: Any = False if top else argparse.SUPPRESS
    known = parser._option_string_actions
    if "--json" in known and not top:
        # A command that declared its own --json: it must not reset `stepqueue --json CMD`.
        known["--json"].default = argparse.SUPPRESS
    if "--json" not in known:
        parser.add_argument(
            "--json",
            action="store_true",
            default=default,
            help="stdout is one JSON document (errors: one JSON object on stderr too)",
        )
    if "--verbose" not in known and "-v" not in known:
        parser.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=0 if top else argparse.SUPPRESS,
            help="also show what runs underneath (Terraform's own output)",
        )
    if "--quiet" not in known and "-q" not in known:
        parser.add_argument(
            "-q", "--quiet", action="store_true", default=default, help="only results and errors"
        )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_flags(sub)


def run(body: Callable[[], int]) -> int:
    """Run a command body under the convention: a CommandError is reported as it says, an
    interrupt is 130, a closed stdout (`| head`) is 141; never a traceback for either."""
    # The console as the body left it: parsing the command line configures it (its --json,
    # its prog), after this function started.
    try:
        return body()
    except CommandError as error:
        return current().report(error)
    except KeyboardInterrupt:
        current().info("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
