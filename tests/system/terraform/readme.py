"""Inputs/outputs tables of the module READMEs, generated from variables.tf / outputs.tf (the
job terraform-docs does; it is not installed here). Rewrite them with

    .venv/bin/python -m tests.system.terraform.readme

and test_readme_tables_are_current fails when a README is stale. The tables sit between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->`; everything else is hand-written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
_BLOCK = re.compile(r'^(variable|output) "([A-Za-z0-9_]+)" \{\n(.*?)^\}', re.M | re.S)
_ATTR = re.compile(r"^  ([a-z_]+)\s*=\s*", re.M)


def _attributes(body: str) -> dict[str, str]:
    """Top-level attributes of a block body (2-space indent), raw text, nested blocks skipped."""
    attrs: dict[str, str] = {}
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        match = _ATTR.match(lines[i])
        if not match:
            i += 1
            continue
        name = match.group(1)
        value = [lines[i][match.end() :]]
        i += 1
        # A value continues on lines indented deeper than 2 spaces, and its closing bracket.
        while i < len(lines) and (lines[i].startswith("   ") or re.match(r"^  [\]\})]", lines[i])):
            value.append(lines[i].strip())
            i += 1
        text = re.sub(r"\s+", " ", " ".join(v.strip() for v in value))
        attrs[name] = text.replace("( ", "(").replace(" )", ")")
    return attrs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _description(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith('"') and raw.endswith('"'):
        raw = raw[1:-1].replace('\\"', '"')
    return raw


def tables(directory: Path) -> str:
    variables = _BLOCK.findall((directory / "variables.tf").read_text())
    outputs = _BLOCK.findall((directory / "outputs.tf").read_text())
    lines = [
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|---|---|---|---|:---:|",
    ]
    for _, name, body in variables:
        attrs = _attributes(body)
        default = attrs.get("default")
        lines.append(
            f"| `{name}` | {_cell(_description(attrs.get('description', '')))} "
            f"| `{_cell(attrs.get('type', 'any'))}` "
            f"| {'`' + _cell(default) + '`' if default is not None else 'n/a'} "
            f"| {'no' if default is not None else 'yes'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for _, name, body in outputs:
        attrs = _attributes(body)
        lines.append(f"| `{name}` | {_cell(_description(attrs.get('description', '')))} |")
    return "\n".join(lines)


def documented_dirs() -> list[Path]:
    return [REPO / "terraform", *sorted(p for p in (REPO / "modules").iterdir() if p.is_dir())]


def rendered(readme: Path) -> str:
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + tables(readme.parent) + "\n" + text[end:]


def main() -> int:
    for directory in documented_dirs():
        readme = directory / "README.md"
        new = rendered(readme)
        if new != readme.read_text():
            readme.write_text(new)
            print(f"rewrote {readme.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
