"""Each worker's own artifact: the shared zip's files plus the dependencies its spec pins.

The generator lists what to build in `artifacts.json` (artifact path -> workflow, worker, pins,
architecture); this module resolves each set of pins for Lambda's platform and writes
`workers/<workflow>-<worker>.zip` (+ `.sha256`) beside the shared zip. Workers that declare
nothing are not listed and keep the shared zip.

- For Lambda, not for this machine: pip with `--platform` (manylinux wheels of the function's
  architecture; `manylinux_2_28` too from Python 3.12, whose runtime's glibc is 2.34, while
  3.11's Amazon Linux 2 has 2.26), `--implementation cp`, `--python-version` of the function's
  runtime and `--only-binary=:all:`: a dependency without such a wheel is an error naming the
  worker and the package, never a build from source for the wrong system.
- Reproducible: pins only (a resolved distribution that is not pinned is an error saying which
  pin to add), installed once into a cache directory keyed by the hash of (pins, platform,
  Python version); the zip is written like the shared one (sorted, fixed times and modes).
  An unchanged set is not resolved again: the cache directory is reused as it is.
- Within Lambda's limits: 50 MB zipped, 250 MB unzipped (layers count too; their size is not
  known here, so a worker with layers is told so).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stepqueue.deploy.install_cache import fill_once
from stepqueue.deploy.lambda_zip import write_zip

ARTIFACTS_FILE = "artifacts.json"
WORKERS_DIR = "workers"
ZIPPED_MAX_BYTES = 50 * 1024 * 1024
UNZIPPED_MAX_BYTES = 250 * 1024 * 1024
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
_NOT_FOUND = re.compile(r"(?:No matching distribution found for|satisfies the requirement) (\S+)")


_OFFLINE = re.compile(
    r"NewConnectionError|Temporary failure in name resolution|Network is unreachable"
)


class BuildError(Exception):
    """A worker's artifact cannot be built; the message names the worker and the package."""


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the Lambda build directory
    workflow: str
    worker: str
    source: str
    architecture: str
    dependencies: tuple[str, ...]
    layers: int

    @property
    def label(self) -> str:
        return f"worker {self.worker!r} of workflow {self.workflow!r} ({self.source})"


@dataclass(frozen=True)
class Shared:
    """What every artifact holds: the shared zip's dependencies and the project's code."""

    dependencies: dict[str, Path]
    own: dict[str, Path]


def read_artifacts(generated_dir: Path) -> list[Artifact]:
    """The artifacts the generator listed; none when it listed none (or wrote no list)."""
    file = generated_dir / ARTIFACTS_FILE
    if not file.is_file():
        return []
    listed = json.loads(file.read_text(encoding="utf-8"))["artifacts"]
    return [
        Artifact(
            path,
            a["workflow"],
            a["worker"],
            a["source"],
            a["architecture"],
            tuple(a["dependencies"]),
            int(a.get("layers", 0)),
        )
        for path, a in sorted(listed.items())
    ]


def platforms(architecture: str, python_version: str) -> list[str]:
    machine = _MACHINE[architecture]
    found = [f"manylinux2014_{machine}"]
    if tuple(int(p) for p in python_version.split(".")) >= (3, 12):
        found.append(f"manylinux_2_28_{machine}")
    return found


def cache_key(pins: tuple[str, ...], architecture: str, python_version: str) -> str:
    text = json.dumps(
        {
            "pins": sorted(pins),
            "platforms": platforms(architecture, python_version),
            "python": python_version,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def resolve(artifact: Artifact, python_version: str, cache_root: Path) -> tuple[Path, bool]:
    """The directory holding the artifact's dependencies, and whether pip ran to fill it."""
    key = cache_key(artifact.dependencies, artifact.architecture, python_version)
    final = cache_root / f"worker-deps-{key}"

    def fill(staging: Path) -> None:
        _pip_install(artifact, python_version, staging)
        _check_pinned(artifact, staging)

    return final, fill_once(final, fill)


def _pip_install(artifact: Artifact, python_version: str, target: Path) -> None:
    cmd = [
        *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
        *("--no-compile", "--only-binary=:all:", "--implementation", "cp"),
        *("--python-version", python_version, "--target", str(target)),
        *(f"--platform={p}" for p in platforms(artifact.architecture, python_version)),
        *artifact.dependencies,
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode == 0:
        return
    if _OFFLINE.search(proc.stderr):
        raise BuildError(
            f"{artifact.label}: pip could not reach the package index to resolve "
            f"{', '.join(artifact.dependencies)} — check the network (or the index settings "
            "pip reads); once resolved, a set is cached and builds need no network"
        )
    missing = _NOT_FOUND.search(proc.stderr)
    package = missing.group(1) if missing else ", ".join(artifact.dependencies)
    last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
    raise BuildError(
        f"{artifact.label}: no wheel of {package} for Lambda's platform "
        f"({'/'.join(platforms(artifact.architecture, python_version))}, CPython "
        f"{python_version}): {last} — pin a version that publishes such a wheel (or a "
        "pure-Python one), or build it into a layer (layers:)"
    )


def _dist_info(site: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name[: -len(".dist-info")].rpartition("-")
        found[re.sub(r"[-_.]+", "-", name).lower()] = version
    return found


def _check_pinned(artifact: Artifact, site: Path) -> None:
    pins = dict(p.split("==", 1) for p in artifact.dependencies)
    extra = {n: v for n, v in _dist_info(site).items() if n not in pins}
    if extra:
        needed = ", ".join(f"{n}=={v}" for n, v in sorted(extra.items()))
        raise BuildError(
            f"{artifact.label}: its dependencies need {needed}, which the spec does not pin — "
            "add them to its dependencies, so every build ships the same versions"
        )


def _files(site: Path) -> dict[str, Path]:
    return {
        p.relative_to(site).as_posix(): p
        for p in site.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    }


def _largest(files: dict[str, Path], site_files: dict[str, Path]) -> str:
    """The biggest top-level entries of the dependencies, for the error message."""
    sizes: dict[str, int] = {}
    for name in site_files:
        top = name.split("/", 1)[0]
        sizes[top] = sizes.get(top, 0) + files[name].stat().st_size
    biggest = sorted(sizes.items(), key=lambda item: -item[1])[:3]
    return ", ".join(f"{name} {size / 2**20:.1f} MB" for name, size in biggest)


def _layers_note(artifact: Artifact) -> str:
    if not artifact.layers:
        return ""
    return (
        f" (plus its {artifact.layers} layer(s), whose size is not known here and counts "
        "toward the same 250 MB)"
    )


def build_one(artifact: Artifact, shared: Shared, site: Path, out: Path) -> tuple[Path, int]:
    """Write the artifact's zip and .sha256; returns (zip, unzipped bytes)."""
    site_files = _files(site)
    # The worker's pins win over the shared zip's dependencies, the project's code over both.
    files = {**shared.dependencies, **site_files, **shared.own}
    unzipped = sum(p.stat().st_size for p in files.values())
    if unzipped > UNZIPPED_MAX_BYTES:
        raise BuildError(
            f"{artifact.label}: the artifact is {unzipped / 2**20:.1f} MB unzipped, over "
            f"Lambda's 250 MB{_layers_note(artifact)}; largest: "
            f"{_largest(files, site_files)} — drop a dependency or move it to a layer"
        )
    dest = out / artifact.path
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_zip(files, dest)
    zipped = dest.stat().st_size
    if zipped > ZIPPED_MAX_BYTES:
        dest.unlink()
        raise BuildError(
            f"{artifact.label}: the artifact is {zipped / 2**20:.1f} MB zipped, over Lambda's "
            f"50 MB upload; largest: {_largest(files, site_files)} — drop a dependency or "
            "move it to a layer"
        )
    digest = base64.b64encode(hashlib.sha256(dest.read_bytes()).digest()).decode()
    Path(f"{dest}.sha256").write_text(digest)
    if artifact.layers:
        print(f"worker_zip: {artifact.path}{_layers_note(artifact)}", file=sys.stderr)
    return dest, unzipped


def build_workers(
    out: Path,
    generated_dir: Path,
    shared: Shared,
    python_version: str,
    cache_root: Path,
) -> list[tuple[Path, bool]]:
    """Every listed artifact into `out/workers/`, stale ones removed; (zip, pip ran) each."""
    artifacts = read_artifacts(generated_dir)
    built: list[tuple[Path, bool]] = []
    for artifact in artifacts:
        site, resolved = resolve(artifact, python_version, cache_root)
        built.append((build_one(artifact, shared, site, out)[0], resolved))
    wanted = {out / a.path for a in artifacts}
    for old in sorted((out / WORKERS_DIR).glob("*.zip")) if (out / WORKERS_DIR).is_dir() else []:
        if old not in wanted:
            old.unlink()
            Path(f"{old}.sha256").unlink(missing_ok=True)
    manifest = {"python_version": python_version, "artifacts": [a.path for a in artifacts]}
    (out / "build.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built
