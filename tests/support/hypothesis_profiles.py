"""Hypothesis profiles for the property tests, registered once when a test module imports this.

- ``ci`` (the default): a fixed seed (``derandomize``), so every run, CI's included, tries
  the same examples and a failure is reproduced by running again; sized so that the gatekeeper's
  emulator-tier properties finish well inside two minutes on a shared two-core machine.
- ``deep``: five times the examples and longer sequences, a fresh random seed each run,
  failures kept in build/hypothesis for the next run to replay first. ``make test-deep``
  selects it (``HYPOTHESIS_PROFILE=deep``) and gives pytest-timeout room for shrinking.

Each test scales its own example count from the profile's (``examples(n)``): a cheap parser
property runs many more examples than a sequence of gatekeeper invocations on the emulator.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from stepqueue.paths import REPO

PROFILE_ENV = "HYPOTHESIS_PROFILE"
_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    max_examples=100,
    stateful_step_count=30,
    suppress_health_check=_SLOW,
    # Explicit examples, then generation and shrinking; no replay of a database (there is
    # none), so a run is a function of the code alone.
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
settings.register_profile(
    "deep",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(str(REPO / "build" / "hypothesis")),
    deadline=None,
    print_blob=True,
    max_examples=500,
    stateful_step_count=50,
    suppress_health_check=_SLOW,
)
settings.load_profile(os.environ.get(PROFILE_ENV, "ci"))


def examples(share: float) -> int:
    """`share` of the loaded profile's max_examples, at least 1."""
    return max(1, round(settings.default.max_examples * share))
