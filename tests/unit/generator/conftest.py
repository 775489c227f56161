from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.api import load_and_validate, render
from tests.unit.generator.helpers import LAMBDA_SRC, write_spec


@pytest.fixture
def expand_spec(tmp_path: Path) -> Callable[[str], dict[str, Any]]:
    """Validate and render one inline spec; return its ASL template as data."""

    def run(text: str) -> dict[str, Any]:
        spec = write_spec(tmp_path, text)
        workflows, diagnostics = load_and_validate([spec], lambda_src=LAMBDA_SRC)
        assert workflows is not None, [d.format() for d in diagnostics]
        files = render(workflows)
        result: dict[str, Any] = json.loads(files[f"asl/{workflows[0].name}.asl.json"])
        return result

    return run
