"""Fixtures of the Terraform tests: the generator's output for workflows/*.yaml and the Lambda
zip, built once per session into temp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.local.artifacts import build_lambda_zip, generate
from tests.terraform.support import REPO


@pytest.fixture(scope="session")
def generated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    specs = sorted((REPO / "workflows").glob("*.yaml"))
    assert specs, "no workflows/*.yaml"
    return generate(specs, tmp_path_factory.mktemp("generated") / "out")


@pytest.fixture(scope="session")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lambda_zip(tmp_path_factory.mktemp("lambda"))
