"""Generator benchmark: 100 workflows of 50 states each, validated and rendered in memory.

Prints ONE JSON object as the last stdout line. Targets: under 2 s in all, and
`python -m generator --help` under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from testkit.synthetic_specs import spec_text


def run(paths: list[Path], root: Path) -> dict[str, str]:
    from generator.api import load_and_validate, render

    workflows, diagnostics = load_and_validate(paths, lambda_src=root / "lambda_src")
    if workflows is None:
        raise SystemExit("\n".join(d.format() for d in diagnostics[:20]))
    return render(workflows)


def help_ms(repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "generator", "--help"], check=True, capture_output=True
        )
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workflows", type=int, default=100)
    parser.add_argument("--states", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = root / "lambda_src" / "examples"
        src.mkdir(parents=True)
        (src / "common.py").write_text("def echo(payload, ctx):\n    return payload\n")
        paths = []
        for i in range(args.workflows):
            path = root / f"bench-{i}.yaml"
            path.write_text(spec_text(i, args.states), encoding="utf-8")
            paths.append(path)

        # Timed without tracemalloc (it slows allocation-heavy code several times over); the
        # peak is measured on a second, traced run of the same work.
        start = time.perf_counter()
        files = run(paths, root)
        seconds = time.perf_counter() - start
        tracemalloc.start()
        run(paths, root)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    result = {
        "workflows": args.workflows,
        "states_per_workflow": args.states,
        "files": len(files),
        "output_bytes": sum(len(t.encode()) for t in files.values()),
        "seconds": round(seconds, 3),
        "peak_mb": round(peak / 2**20, 1),
        "help_ms": help_ms(),
        "target_seconds": 2,
        "target_help_ms": 300,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
