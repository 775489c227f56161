"""Generated semaphore definitions for the tests and benchmarks that drive the waiting room.

They must drive exactly what the generator emits, not a retyped copy that could drift from it:
``generate_definition_template`` renders a temporary spec through the generator's pipeline (the
one ``python -m generator generate SPEC --out DIR`` runs) and returns the ASL template, whose
Terraform placeholders ``generator.render_definition`` substitutes as Terraform would.

(The polling acquire's requests, which this module also extracted and resolved for the polling
stress, went with that design: docs/design.md §4.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def generate_spec_file(spec_path: Path) -> str:
    """The ASL template the generator renders for one spec file (in memory, the same pipeline
    `python -m generator generate` runs)."""
    from generator.api import render_paths
    from generator.errors import GeneratorError

    try:
        files, _ = render_paths([spec_path])
    except GeneratorError as error:
        raise RuntimeError(f"generator failed for {spec_path}:\n{error}") from error
    asl_files = sorted(name for name in files if name.startswith("asl/"))
    if len(asl_files) != 1:
        raise RuntimeError(f"expected one ASL file, found {asl_files}")
    return files[asl_files[0]]


def generate_definition_template(spec: str) -> str:
    """Run the generator on ``spec`` (YAML text); return the ASL template text."""
    with tempfile.TemporaryDirectory(prefix="semreq-spec-") as tmp:
        spec_path = Path(tmp) / "spec.yaml"
        spec_path.write_text(spec, encoding="utf-8")
        return generate_spec_file(spec_path)
