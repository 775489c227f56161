"""Build the Lambda zip reproducibly: ``python -m stepqueue.deploy.lambda_zip --out build/lambda``.

Same sources and pins → same bytes → same sha256: entries sorted, timestamps fixed at
1980-01-01, permissions fixed, no bytecode, deflate at a fixed level. The zip holds every file
of lambda_src that the generator's handler check can point at (`generator.handlers.
packaged_files`: all but bytecode, caches and hidden files), so a handler that validates is a
handler that is deployed, wherever it lives in the tree; plus the runtime dependencies
(aws-lambda-powertools and its deps, pinned from requirements.txt; boto3 is not packaged: the
Lambda Python runtime provides it). Writes DIR/stepqueue.zip and DIR/stepqueue.zip.sha256
(base64 of the sha256, as Terraform's filebase64sha256). Prints the zip's path.

Dependencies are installed once with ``pip install --target`` into a cache keyed by the pins,
so repeated builds are fast and work offline; if pip cannot reach the index, the same pinned
versions are copied from the running environment.

With ``--generated DIR`` it also builds each worker's own artifact that the generator listed in
DIR/artifacts.json (stepqueue/deploy/worker_zip.py) for ``--python-version`` (the function's
runtime: the root's lambda_runtime), into DIR/workers/.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from generator.handlers import packaged_files
from stepqueue.deploy.install_cache import fill_once
from stepqueue.paths import REQUIREMENTS, runtime_package_dirs

# aws-lambda-powertools and its install requirements (not boto3: the runtime has it).
DEPENDENCIES = ("aws-lambda-powertools", "jmespath", "typing-extensions")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
ZIP_NAME = "stepqueue.zip"
# The root's default lambda_runtime (terraform/variables.tf): what worker artifacts target
# unless told (a local deployment builds for the local runner's interpreter instead).
DEFAULT_PYTHON = "3.12"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(requirements: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    wanted = {_normalise(d) for d in DEPENDENCIES}
    missing = wanted - pins.keys()
    if missing:
        raise SystemExit(f"lambda_zip: {sorted(missing)} not pinned in {requirements}")
    return {name: pins[name] for name in sorted(wanted)}


def _skip(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in {".pyc", ".pyo"}


def _install_with_pip(specs: list[str], target: Path) -> bool:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",  # every dependency is listed and pinned explicitly
        "--no-compile",
        "--only-binary=:all:",
        "--target",
        str(target),
        *specs,
    ]
    return subprocess.run(cmd, check=False, stdout=sys.stderr).returncode == 0


def _copy_from_environment(pins: dict[str, str], target: Path) -> None:
    """Offline fallback: the venv holds the same pinned versions (requirements.txt)."""
    for name, version in pins.items():
        dist = importlib.metadata.distribution(name)
        if dist.version != version:
            raise SystemExit(f"lambda_zip: {name} {dist.version} installed, {version} pinned")
        for file in dist.files or []:
            rel = Path(str(file))
            if rel.is_absolute() or ".." in rel.parts or _skip(rel):
                continue
            src = Path(str(dist.locate_file(file)))
            if src.is_file():
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)


def dependency_dir(cache_root: Path, pins: dict[str, str]) -> Path:
    """Populate (once) and return the cache dir for these pins."""
    key_text = "\n".join(f"{n}=={v}" for n, v in pins.items())
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    final = cache_root / f"deps-{key}"

    def fill(staging: Path) -> None:
        specs = [f"{n}=={v}" for n, v in pins.items()]
        if not _install_with_pip(specs, staging):
            print("lambda_zip: pip failed; copying pinned deps from this env", file=sys.stderr)
            shutil.rmtree(staging)
            staging.mkdir()
            _copy_from_environment(pins, staging)

    fill_once(final, fill)
    return final


def collect(dep_dir: Path, lambda_src: Path) -> dict[str, Path]:
    """Archive name → source file: the dependencies, the installed Lambda runtime packages
    (stepqueue_runtime, ...), then every file of `lambda_src` (the project's handlers) the
    generator's handler check may point at (the same rule), which win over a same-named
    file of either."""
    return {**dependency_files(dep_dir), **runtime_files(), **packaged_files(lambda_src)}


def runtime_files() -> dict[str, Path]:
    """Archive name → file, for the installed Lambda runtime packages (stepqueue_runtime,
    ...): the same whatever the project."""
    files: dict[str, Path] = {}
    for name, folder in runtime_package_dirs().items():
        files.update({f"{name}/{rel}": path for rel, path in packaged_files(folder).items()})
    return files


def dependency_files(dep_dir: Path) -> dict[str, Path]:
    """Archive name → file, for the installed dependencies of `dep_dir`."""
    files: dict[str, Path] = {}
    for path in dep_dir.rglob("*"):
        rel = path.relative_to(dep_dir)
        if path.is_file() and not _skip(rel):
            files[rel.as_posix()] = path
    return files


def write_zip(files: dict[str, Path], dest: Path) -> None:
    tmp = dest.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.external_attr = FILE_MODE
            info.create_system = 3  # unix, whatever the build host
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name].read_bytes(), compresslevel=9)
    os.replace(tmp, dest)


def build(
    out: Path,
    cache_root: Path | None,
    lambda_src: Path,
    generated: Path | None = None,
    python_version: str = DEFAULT_PYTHON,
) -> Path:
    """The zip of `lambda_src` (a project's handlers) with the runtime packages and the
    dependencies, into `out`, and with `generated` the worker artifacts it lists; the
    dependency cache defaults to $STEPQUEUE_DEPS_CACHE, else the project's (`out`'s sibling
    cache/lambda-deps)."""
    from stepqueue.deploy import worker_zip

    if not lambda_src.is_dir():
        raise SystemExit(f"lambda_zip: {lambda_src} is not a directory (the project's handlers)")
    pins = pinned_versions(REQUIREMENTS)
    default_cache = out.parent / "cache" / "lambda-deps"
    cache = cache_root or Path(os.environ.get("STEPQUEUE_DEPS_CACHE", default_cache))
    dep_dir = dependency_dir(cache, pins)
    files = collect(dep_dir, lambda_src)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / ZIP_NAME
    write_zip(files, zip_path)
    digest = base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    (out / f"{ZIP_NAME}.sha256").write_text(digest)
    if generated is not None:
        shared = worker_zip.Shared(
            dependency_files(dep_dir), {**runtime_files(), **packaged_files(lambda_src)}
        )
        try:
            built = worker_zip.build_workers(out, generated, shared, python_version, cache)
        except worker_zip.BuildError as error:
            raise SystemExit(f"lambda_zip: {error}") from None
        for path, resolved in built:
            state = "resolved" if resolved else "from cache"
            print(f"lambda_zip: {path} ({state})", file=sys.stderr)
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--cache", type=Path, default=None, help="dependency cache directory")
    parser.add_argument(
        "--lambda-src", type=Path, default=None, help="the tree to package (the project's handlers)"
    )
    parser.add_argument(
        "--generated",
        type=Path,
        default=None,
        help="the generator's output: also build the worker artifacts its artifacts.json lists",
    )
    parser.add_argument(
        "--python-version",
        default=DEFAULT_PYTHON,
        help=f"the functions' Python (lambda_runtime without 'python'; default {DEFAULT_PYTHON})",
    )
    args = parser.parse_args(argv)
    if not re.match(r"^3\.\d{1,2}$", args.python_version):
        parser.error(f"--python-version {args.python_version!r}: write e.g. 3.12")
    lambda_src = args.lambda_src
    if lambda_src is None:
        from stepqueue.project import find_project

        lambda_src = find_project().handlers
    print(build(args.out, args.cache, lambda_src, args.generated, args.python_version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
