"""Worker artifact build: workflows/extras/thumbnails.yaml (Pillow, pinned), built twice into a
fresh cache. The first build resolves Pillow with pip; the second resolves nothing (the cache
directory keyed by pins, platform and Python is reused) and must give the same bytes.

Prints ONE JSON object as the last stdout line. Target: the second build under 5 s, with
`second_resolved` false and `identical` true.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stepqueue.deploy.artifacts import generate
from stepqueue.paths import REPO
from stepqueue.project import find_project

SPEC = REPO / "workflows" / "extras" / "thumbnails.yaml"
ARTIFACT = Path("workers") / "thumbnails-thumbnail.zip"


def build(out: Path, generated: Path, cache: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "stepqueue.deploy.lambda_zip", "--out", str(out)),
            *("--generated", str(generated), "--cache", str(cache)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, proc.stderr


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generated = generate([SPEC], root / "generated")
        cache = root / "cache"
        deps_cache = find_project(explicit=REPO).deps_cache
        for shared in deps_cache.glob("deps-*"):  # the shared zip's dependencies: not measured
            shutil.copytree(shared, cache / shared.name)
        first_s, first_log = build(root / "one", generated, cache)
        second_s, second_log = build(root / "two", generated, cache)
        one, two = root / "one" / ARTIFACT, root / "two" / ARTIFACT
        result = {
            "bench": "worker_zip",
            "first_build_s": round(first_s, 2),
            "second_build_s": round(second_s, 2),
            "first_resolved": "(resolved)" in first_log,
            "second_resolved": "(resolved)" in second_log,
            "identical": one.read_bytes() == two.read_bytes(),
            "artifact_bytes": one.stat().st_size,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
