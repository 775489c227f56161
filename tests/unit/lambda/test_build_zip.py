"""The Lambda zip: reproducible, complete, importable with only the zip and boto3."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
BUILD = [sys.executable, "-m", "stepqueue.deploy.lambda_zip"]
# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "dateutil", "urllib3", "six.py")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    outs = []
    for name in ("a", "b"):
        out = tmp_path_factory.mktemp(name)
        proc = subprocess.run(
            [*BUILD, "--out", str(out)], capture_output=True, text=True, check=True, cwd=REPO
        )
        assert proc.stdout.strip().splitlines()[-1] == str(out / "stepqueue.zip")
        outs.append(out)
    return outs[0], outs[1]


def test_same_source_same_sha256(built: tuple[Path, Path]) -> None:
    a, b = built
    assert (a / "stepqueue.zip").read_bytes() == (b / "stepqueue.zip").read_bytes()
    digest = hashlib.sha256((a / "stepqueue.zip").read_bytes()).digest()
    # As Terraform's filebase64sha256.
    assert (a / "stepqueue.zip.sha256").read_text() == base64.b64encode(digest).decode()


def test_zip_contents(built: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(built[0] / "stepqueue.zip") as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "stepqueue_aws/__init__.py" in names
    assert "stepqueue_aws/core.py" in names
    assert "stepqueue_runtime/entry.py" in names
    assert "stepqueue_gatekeeper/entry.py" in names
    assert not [n for n in names if n.startswith("stepqueue_reclaimer/")]  # polling was retired
    assert "stepqueue_watchdog/entry.py" in names
    assert "examples/common.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "tests/"))]
    assert not [n for n in names if n.startswith(("stepqueue/", "generator/"))]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_zip_imports_and_runs_with_only_boto3_beside_it(
    built: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "task"
    with zipfile.ZipFile(built[0] / "stepqueue.zip") as zf:
        zf.extractall(root)
    provided = tmp_path / "runtime"
    provided.mkdir()
    import boto3

    site = Path(boto3.__file__).parents[1]
    for name in RUNTIME_PROVIDED:
        (provided / name).symlink_to(site / name)
    script = f"""
import sys
sys.path[:0] = [{str(root)!r}, {str(provided)!r}]
import aws_lambda_powertools, stepqueue_runtime.entry as e, stepqueue_gatekeeper.entry
import stepqueue_watchdog.entry
import examples.orders, examples.media, examples.reports, examples.glue, examples.common
assert aws_lambda_powertools.__file__.startswith({str(root)!r}), aws_lambda_powertools.__file__
bad = {{"messageId": "m1", "body": "not json"}}
response = e.handler({{"Records": [bad]}}, None)
assert response == {{"batchItemFailures": [{{"itemIdentifier": "m1"}}]}}, response
print("ok")
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "STEPQUEUE_HANDLER": "examples.common.echo",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    # -I: no user site, no PYTHON* env; -S: no site-packages of the venv at all.
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "ok"
