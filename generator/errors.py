"""Diagnostics as data.

Every stage reports problems as `Diagnostic` values instead of raising, so the CLI can print all
of them at once and tests can assert on them without parsing text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    file: str
    line: int  # 1-based; 0 when the subject is not a text file (e.g. the output directory)
    col: int  # 1-based
    path: str  # spec path such as "States.Enrich.Worker"; "" for the document itself
    message: str
    fix: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        where = self.path or "<document>"
        where_in_file = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        head = f"{where_in_file}: {self.severity.value}"
        text = f"{head}: {self.message} (at {where})"
        return f"{text} — {self.fix}" if self.fix else text

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "severity": self.severity.value,
            "message": self.message,
            "fix": self.fix,
        }

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.col, self.path, self.message)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


class GeneratorError(Exception):
    """Raised by the public API when a request cannot go on; carries the diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.is_error]
        super().__init__("\n".join(d.format() for d in errors) or "generation failed")
