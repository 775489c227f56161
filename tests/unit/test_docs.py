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

# Linked before the page exists: it arrives with another branch of the same change (the CLI
# convention's page). The coordinator empties this on merge; test_pending_is_still_pending
# fails once a listed page exists, so an entry cannot outlive its reason.
PENDING_PAGES: frozenset[str] = frozenset()
# The contract's new commands, implemented on the distribution's branch: allowed in the README
# before that branch is merged into this one. Emptied on merge (same guard as above).
PENDING_COMMANDS: frozenset[str] = frozenset()


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
            if not (doc.parent / target).exists() and not _pending(doc, target):
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []


def _pending(doc: Path, target: str) -> bool:
    return (doc.parent / target).resolve().relative_to(REPO).as_posix() in PENDING_PAGES


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


# --- The user's documents: README.md and docs/*.md ------------------------------------------


HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL = {"sh", "bash", "shell", "console"}
SPAN = re.compile(r"`([^`\n]+)`")
ANCHORED = re.compile(r"\]\(([^)\s]*)#([^)\s]+)\)")
# A command as typed: at the start of a line or a span, or after `&&`, `;`, `|`, `(` (so
# neither prose in a comment nor a program's output printed in a block counts).
TYPED = r"(?:^|(?:&&|;|\||\()\s*)(?:\S*/)?"
MAKE = re.compile(TYPED + r"make ([a-z][a-z-]*)", re.MULTILINE)
STEPQUEUE = re.compile(TYPED + r"stepqueue +([a-z][a-z-]*(?:[/|][a-z][a-z-]*)*)", re.MULTILINE)


def _user_docs() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _code(text: str) -> list[str]:
    """What a reader would type: shell blocks and inline code spans; never prose, nor a block
    of another language or of a program's output (untagged)."""
    blocks = [body for lang, body in FENCE.findall(text) if lang.strip() in SHELL]
    prose = FENCE.sub("", text)
    return blocks + SPAN.findall(prose)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to
    hyphens (underscores and hyphens kept)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", doc.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_slug_is_githubs() -> None:
    assert _slug("11. The start queue (admission control)") == (
        "11-the-start-queue-admission-control"
    )
    assert _slug("3a. Fair worker queues (`group_by`)") == "3a-fair-worker-queues-group_by"
    assert _slug("Deploying to AWS") == "deploying-to-aws"


def test_user_docs_links_and_anchors_resolve() -> None:
    """Every relative link of README.md and docs/*.md names a file that exists, and every
    `#anchor` a heading of its target (or of the page itself)."""
    broken = []
    for doc in _user_docs():
        text = doc.read_text(encoding="utf-8")
        for target in LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (doc.parent / target).exists() and not _pending(doc, target):
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
        for target, anchor in ANCHORED.findall(text):
            if "://" in target:
                continue
            page = (doc.parent / target).resolve() if target else doc
            if page.suffix == ".md" and page.exists() and anchor not in _anchors(page):
                broken.append(f"{doc.relative_to(REPO)} -> {target}#{anchor}")
    assert broken == []


def _make_targets() -> set[str]:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))


def _commands() -> set[str]:
    """The `stepqueue` subcommands, asked of the parser the command line uses."""
    import argparse

    from stepqueue import cli

    commands: set[str] = set(cli.PASS_THROUGH)
    for action in cli._parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands |= set(action.choices)
    return commands


def test_named_make_targets_exist() -> None:
    targets = _make_targets()
    assert {"demo", "test", "install"} <= targets  # the parse found the Makefile's targets
    unknown = []
    for doc in _user_docs():
        for code in _code(doc.read_text(encoding="utf-8")):
            unknown += [f"{doc.name}: make {t}" for t in MAKE.findall(code) if t not in targets]
    assert unknown == []


def test_named_commands_exist() -> None:
    commands = _commands() | PENDING_COMMANDS
    assert {"validate", "plan", "apply", "emulator"} <= commands
    unknown = []
    for doc in _user_docs():
        for code in _code(doc.read_text(encoding="utf-8")):
            for named in STEPQUEUE.findall(code):
                first = re.split(r"[/|]", named)
                unknown += [f"{doc.name}: stepqueue {c}" for c in first if c not in commands]
    assert unknown == []


def test_pending_is_still_pending() -> None:
    """An entry of the pending lists goes once what it waits for has arrived."""
    arrived = sorted(name for name in PENDING_PAGES if (REPO / name).exists())
    arrived += sorted(PENDING_COMMANDS & _commands())
    assert arrived == [], f"arrived, remove from the PENDING lists of {__file__}: {arrived}"


def test_readme_quick_start_is_one_bash_block() -> None:
    """The section the distribution's test runs as written: exactly one ```bash block."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```(\w*)\n.*?^```", section, re.MULTILINE | re.DOTALL)
    assert blocks == ["bash"]
    assert "stepqueue init hello" in section


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
