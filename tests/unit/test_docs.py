"""Docs that exist: every relative link in the Markdown resolves, every file a comment or doc
names by path exists, and nothing points to a design file the repository does not have or
names an issue number."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from stepqueue.paths import REPO

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A repository path in backticks: a known top-level folder, then path characters.
TOP = "workflows|lambda_src|generator|stepqueue|modules|terraform|bench|tests|docs"
PATH = re.compile(rf"`((?:{TOP})/[\w./-]*\w)`")
ISSUE = re.compile(r"\bissues? #?\d+\b", re.IGNORECASE)


def _tracked(*suffixes: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    ).stdout.split()
    return [REPO / name for name in listed if name.endswith(suffixes) and (REPO / name).exists()]


def test_markdown_links_resolve() -> None:
    broken = []
    for doc in _tracked(".md"):
        for target in LINK.findall(doc.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []


def test_named_paths_exist() -> None:
    missing = []
    for source in _tracked(".md", ".py", ".tf", "Makefile"):
        for name in PATH.findall(source.read_text(encoding="utf-8")):
            if "*" in name or "<" in name or name.startswith("tests/unit/generator/golden"):
                continue
            if not (REPO / name).exists():
                missing.append(f"{source.relative_to(REPO)}: {name}")
    assert missing == []


def test_no_missing_design_file_and_no_issue_numbers() -> None:
    design = "DESIGN" + ".md"  # spelled apart so this file does not match itself
    offenders = []
    for source in _tracked(".md", ".py", ".tf", ".j2", "Makefile"):
        text = source.read_text(encoding="utf-8")
        if design in text or ISSUE.search(text):
            offenders.append(str(source.relative_to(REPO)))
    assert offenders == []


# --- The version, in one place ---------------------------------------------------------------

RELEASE = re.compile(r"^## \[(?P<version>[^\]]+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)


def test_changelog_latest_release_is_the_version() -> None:
    import tomllib
    from importlib.metadata import version

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    headings = RELEASE.findall((REPO / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert headings[0] == ("Unreleased", "")
    released = headings[1:]
    assert released and all(d for _, d in released), "every release heading has its date"
    assert released[0][0] == declared
    # What `stepqueue --version` prints (the installed distribution's metadata, read from the
    # same pyproject.toml): a stale install is caught here, not by a user.
    assert version("stepqueue") == declared
