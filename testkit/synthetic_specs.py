"""Synthetic workflow specs for benchmarks and tests: many valid states, or many renamed copies
of one spec."""

from __future__ import annotations

import re
from pathlib import Path

STATE_KINDS = 5  # worker task, Pass, Choice, Wait, Map: every shape the validator walks


def spec_text(index: int, states: int) -> str:
    """A valid spec with `states` top-level states; every fifth one is a Map over a worker."""
    lines = [
        f"name: bench-{index}",
        "concurrency: {limit: 5}",
        "workers:",
        "  work: {handler: examples.common.echo, timeout_seconds: 30, max_concurrency: 5}",
        "StartAt: S0",
        "States:",
    ]
    for i in range(states):
        nxt = f"S{i + 1}" if i + 1 < states else None
        flow = f"Next: {nxt}" if nxt else "End: true"
        kind = i % STATE_KINDS
        if kind == 0:
            lines.append(f"  S{i}: {{Type: Task, Worker: work, ResultPath: $.r{i}, {flow}}}")
        elif kind == 1:
            lines.append(
                f"  S{i}: {{Type: Pass, Parameters: {{x.$: $.r{i - 1}}}, ResultPath: $.p, {flow}}}"
            )
        elif kind == 2 and nxt:
            rule = f"{{Variable: $.p.x, IsPresent: true, Next: {nxt}}}"
            lines.append(
                f"  S{i}:\n    Type: Choice\n    Choices:\n      - {rule}\n    Default: {nxt}"
            )
        elif kind == 3:
            lines.append(f"  S{i}: {{Type: Wait, Seconds: 1, {flow}}}")
        else:
            lines.append(
                f"  S{i}:\n    Type: Map\n    MaxConcurrency: 2\n    ItemsPath: $.items\n"
                f"    ItemProcessor:\n      StartAt: M{i}\n      States:\n"
                f"        M{i}: {{Type: Task, Worker: work, End: true}}\n"
                f"    ResultPath: $.m\n    {flow}"
            )
    return "\n".join(lines) + "\n"


def renamed_copies(spec: Path, count: int, out_dir: Path) -> list[Path]:
    """`count` copies of `spec`, each with its own workflow name (benchNN)."""
    text = spec.read_text()
    if not re.search(r"^name:\s*\S+", text, re.M):
        raise ValueError(f"{spec}: no top-level `name:` line to rename")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(1, count + 1):
        path = out_dir / f"bench{i:02d}.yaml"
        path.write_text(re.sub(r"^name:\s*\S+", f"name: bench{i:02d}", text, count=1, flags=re.M))
        paths.append(path)
    return paths
