"""A worker's own artifact: its pinned wheels for Lambda's platform (pip, from the index),
reproducible, resolved once per set of pins; and the build's refusals, each naming the worker
and the package (golden messages: tests/unit/deploy/golden/worker_build_errors.txt, rewritten by
`make regen`)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from generator.api import generate
from stepqueue.deploy import worker_zip
from stepqueue.deploy.artifacts import BuildFailed, build_lambda_zip
from stepqueue.deploy.lambda_zip import DEFAULT_PYTHON
from stepqueue.paths import LAMBDA_SRC, REPO
from stepqueue.project import find_project

GOLDEN = Path(__file__).parent / "golden" / "worker_build_errors.txt"
ELF_MACHINE = {0x3E: "x86_64", 0xB7: "aarch64"}
SHARED = worker_zip.Shared({}, {"examples/__init__.py": LAMBDA_SRC / "examples" / "__init__.py"})


def _artifact(
    pins: tuple[str, ...], architecture: str = "x86_64", layers: int = 0
) -> worker_zip.Artifact:
    return worker_zip.Artifact(
        "workers/wf-w.zip", "wf", "w", "workflows/wf.yaml", architecture, pins, layers
    )


def _generated(tmp: Path, worker: str) -> Path:
    spec = tmp / "wf.yaml"
    spec.write_text(
        "name: wf\nworkers:\n  w:\n    handler: examples.common.echo\n"
        + "".join(f"    {line}\n" for line in worker.splitlines())
        + "StartAt: A\nStates:\n  A: {Type: Task, Worker: w, TimeoutSeconds: 3600, End: true}\n"
    )
    generate([spec], tmp / "generated", lambda_src=LAMBDA_SRC)
    return tmp / "generated"


def _machines(zip_path: Path) -> tuple[set[str], set[str]]:
    """The ELF machines of the compiled modules in the zip, and its wheels' platform tags."""
    machines, tags = set(), set()
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if name.endswith(".so") or ".so." in name:
                header = zf.read(name)[:20]
                assert header[:4] == b"\x7fELF", name
                machines.add(ELF_MACHINE.get(struct.unpack("<H", header[18:20])[0], "other"))
            elif name.endswith(".dist-info/WHEEL"):
                tags.update(
                    line.split(":", 1)[1].strip()
                    for line in zf.read(name).decode().splitlines()
                    if line.startswith("Tag:")
                )
    return machines, tags


def test_same_inputs_same_bytes_and_an_unchanged_set_is_not_resolved_again(
    tmp_path: Path,
) -> None:
    generated = _generated(tmp_path, "dependencies: [Pillow==11.1.0]")
    cache = tmp_path / "cache"
    # The shared zip's dependencies from the project's cache, when there: not the subject.
    for shared in find_project(explicit=REPO).deps_cache.glob("deps-*"):
        shutil.copytree(shared, cache / shared.name)
    logs = []
    for out in ("one", "two"):
        proc = subprocess.run(
            [
                *(
                    sys.executable,
                    "-m",
                    "stepqueue.deploy.lambda_zip",
                    "--out",
                    str(tmp_path / out),
                ),
                *("--generated", str(generated), "--cache", str(cache)),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        logs.append(proc.stderr)
    one, two = (tmp_path / d / "workers" / "wf-w.zip" for d in ("one", "two"))
    assert one.read_bytes() == two.read_bytes()
    assert (tmp_path / "one" / "workers" / "wf-w.zip.sha256").read_text() == (
        tmp_path / "two" / "workers" / "wf-w.zip.sha256"
    ).read_text()
    assert "wf-w.zip (resolved)" in logs[0] and "wf-w.zip (from cache)" in logs[1]
    assert len(list(cache.glob("worker-deps-*"))) == 1
    with zipfile.ZipFile(one) as zf:
        names = zf.namelist()
    # The shared zip's files and the worker's own dependency, nothing compiled for bytecode.
    assert "stepqueue_runtime/entry.py" in names and "examples/thumbnails.py" in names
    assert "PIL/__init__.py" in names and "aws_lambda_powertools/__init__.py" in names
    assert not [n for n in names if n.endswith(".pyc")]
    assert _machines(one)[0] == {"x86_64"}


def test_the_same_worker_for_arm64_carries_aarch64_wheels(tmp_path: Path) -> None:
    site, resolved = worker_zip.resolve(
        _artifact(("pillow==11.1.0",), "arm64"), DEFAULT_PYTHON, tmp_path / "cache"
    )
    assert resolved
    built, _ = worker_zip.build_one(
        _artifact(("pillow==11.1.0",), "arm64"), SHARED, site, tmp_path / "out"
    )
    machines, tags = _machines(built)
    assert machines == {"aarch64"}
    assert tags and all(t.endswith("aarch64") and t.startswith("cp312-cp312-") for t in tags), tags


def _errors(cache: Path) -> dict[str, str]:
    """Each refusal resolution makes, by case. The versions pip picks for what is not pinned
    move with the index: the golden file shows them as <resolved>."""
    found: dict[str, str] = {}
    cases = {
        # docopt publishes no wheel at all: only a source distribution.
        "no wheel for the platform": _artifact(("docopt==0.6.2",)),
        "a dependency's dependencies not pinned": _artifact(("requests==2.32.3",)),
    }
    for case, artifact in cases.items():
        try:
            worker_zip.resolve(artifact, DEFAULT_PYTHON, cache)
        except worker_zip.BuildError as error:
            found[case] = re.sub(r"(need [^—]*)", _unversioned, str(error))
    return found


def _unversioned(match: re.Match[str]) -> str:
    return re.sub(r"==[^,\s]+", "==<resolved>", match.group(1))


def _oversized(tmp: Path, size: int, random: bool, layers: int = 0) -> str:
    """Build from a resolved set holding one file of `size` bytes (zeros, or random bytes
    that do not compress): the size checks after resolution, on a real zip."""
    artifact = _artifact(("big==1.0",), layers=layers)
    site = tmp / f"site-{size}-{random}"
    (site / "big").mkdir(parents=True)
    with open(site / "big" / "data.bin", "wb") as handle:
        if random:
            handle.write(os.urandom(size))
        else:
            handle.truncate(size)  # sparse: nothing written
    with pytest.raises(worker_zip.BuildError) as error:
        worker_zip.build_one(artifact, SHARED, site, tmp / "out")
    assert not (tmp / "out" / artifact.path).exists()  # nothing half-written
    return str(error.value)


def snapshot(tmp: Path) -> str:
    messages = {
        **_errors(tmp / "cache"),
        "over 250 MB unzipped": _oversized(tmp, 260 * 2**20, random=False),
        "over 250 MB unzipped, with layers": _oversized(tmp, 251 * 2**20, False, layers=2),
        "over 50 MB zipped": _oversized(tmp, 51 * 2**20, random=True),
    }
    return "".join(f"## {case}\n{text}\n\n" for case, text in messages.items())


def test_refusals_name_the_worker_and_the_package(tmp_path: Path) -> None:
    text = snapshot(tmp_path)
    assert text == GOLDEN.read_text(encoding="utf-8"), "run `make regen` and review the diff"
    assert "no wheel of docopt==0.6.2" in text
    assert (
        "need certifi==<resolved>, charset-normalizer==<resolved>" in text
        and "add them to its dependencies" in text
    )
    assert "largest: big 260.0 MB" in text and "whose size is not known here" in text
    assert text.count("worker 'w' of workflow 'wf' (workflows/wf.yaml)") == 5


def test_the_build_command_fails_with_the_message(tmp_path: Path) -> None:
    generated = _generated(tmp_path, "dependencies: [docopt==0.6.2]")
    with pytest.raises(BuildFailed, match=r"worker 'w' of workflow 'wf'.*no wheel of docopt"):
        build_lambda_zip(tmp_path / "out", generated_dir=generated)


def test_stale_worker_artifacts_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "workers").mkdir(parents=True)
    (out / "workers" / "gone-w.zip").write_bytes(b"old")
    (out / "workers" / "gone-w.zip.sha256").write_text("x")
    generated = _generated(tmp_path, "timeout_seconds: 30")  # nothing to build
    worker_zip.build_workers(out, generated, SHARED, DEFAULT_PYTHON, tmp_path / "cache")
    assert list((out / "workers").iterdir()) == []


def main() -> None:
    """`make regen`: rewrite the golden messages."""
    import tempfile

    os.chdir(REPO)
    with tempfile.TemporaryDirectory() as tmp:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(snapshot(Path(tmp)), encoding="utf-8")
    print(f"rewrote {GOLDEN.relative_to(REPO)}")


if __name__ == "__main__":
    main()
