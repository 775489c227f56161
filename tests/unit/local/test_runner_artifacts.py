"""Which zip the local runner runs a function from: the one it was deployed from (by
CodeSha256), and never a worker artifact built for another Python or machine."""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from pathlib import Path

import pytest

from stepqueue.local.runner import (
    MappingSettings,
    RunnerError,
    artifact_for,
    local_runtime,
    zip_sha256,
)


def _zip(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("m.py", text)
    return path


def _settings(code_sha256: str, **changes: str) -> MappingSettings:
    base = MappingSettings(
        *("u", "wf-w", "arn:fn", "arn:q", "url", 1, 0, 2, True, "h", {}, 30, 256),
        code_sha256=code_sha256,
        visibility_timeout_s=210,
        max_receive_count=5,
        dlq_arn=None,
        runtime=local_runtime(),
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    shared = _zip(tmp_path / "lambda" / "stepqueue.zip", "shared")
    worker = _zip(tmp_path / "lambda" / "workers" / "wf-w.zip", "worker")
    version = local_runtime().removeprefix("python")
    (tmp_path / "lambda" / "build.json").write_text(json.dumps({"python_version": version}))
    return shared, worker


def test_each_function_runs_from_the_zip_it_was_deployed_from(built: tuple[Path, Path]) -> None:
    shared, worker = built
    assert artifact_for(_settings(zip_sha256(shared)), shared) == shared
    if os.uname().machine == "x86_64":
        assert artifact_for(_settings(zip_sha256(worker)), shared) == worker
    with pytest.raises(RunnerError, match="deployed from another zip"):
        artifact_for(_settings("c29tZXRoaW5nIGVsc2U="), shared)


def test_a_worker_artifact_for_another_python_or_machine_is_refused(
    built: tuple[Path, Path],
) -> None:
    shared, worker = built
    digest = zip_sha256(worker)
    with pytest.raises(RunnerError, match=r"declares python3\.99, but the local runner is"):
        artifact_for(_settings(digest, runtime="python3.99"), shared)
    with pytest.raises(RunnerError, match="is built for arm64"):
        artifact_for(_settings(digest, architecture="arm64"), shared)
    (shared.parent / "build.json").write_text(json.dumps({"python_version": "3.99"}))
    with pytest.raises(RunnerError, match=r"was built for python3\.99"):
        artifact_for(_settings(digest), shared)
    # The shared zip is pure Python: it runs whatever the function declares.
    assert artifact_for(_settings(zip_sha256(shared), runtime="python3.99"), shared) == shared
