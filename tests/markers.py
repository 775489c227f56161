"""Marks shared across test folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import TypeVar

import pytest

Test = TypeVar("Test", bound=Callable[..., object])


def terraform_on_emulator(test: Test) -> Test:
    """A test that runs Terraform against the emulator: slow, and kept on one xdist worker
    with the other Terraform tests so two applies never compete for the same CPU."""
    for mark in (
        pytest.mark.terraform,
        pytest.mark.emulator,
        pytest.mark.slow,
        pytest.mark.xdist_group("terraform"),
        pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed"),
    ):
        test = mark(test)
    return test
