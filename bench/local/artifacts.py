"""The two inputs every deployment needs, built the one way the Makefile builds them: the
generator's output and the Lambda zip. Benches and tests call these rather than rebuilding the
command lines themselves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAMBDA_SRC = REPO / "lambda_src"


def generate(specs: Sequence[Path], out_dir: Path) -> Path:
    """`python -m generator generate SPECS --out OUT_DIR`, in process; returns `out_dir`."""
    from generator.api import generate as _generate

    _generate(specs, out_dir, lambda_src=LAMBDA_SRC)
    return out_dir


def build_lambda_zip(out_dir: Path) -> Path:
    """`lambda_src/build_zip.py --out OUT_DIR` (a separate interpreter, as `make lambda` runs
    it); returns the zip's path."""
    subprocess.run(
        [sys.executable, str(LAMBDA_SRC / "build_zip.py"), "--out", str(out_dir)],
        check=True,
        capture_output=True,
    )
    return out_dir / "stepqueue.zip"
