"""A project: the directory holding `stepqueue.toml`, found the same way by every command.

`find_project(start, explicit)`: `--project DIR` when given, else the nearest `stepqueue.toml`
from the working directory upwards. The file's keys (all optional):

    [project]
    workflows = "workflows"   # the specs (*.yaml)
    handlers = "src"          # the handler packages the Lambda zip carries
    build = "build"           # generated output, zips, plans, local state, emulator files
    terraform = "terraform"   # the project's Terraform root
    [stages.dev]              # defaults of `--stage dev`
    env = "aws"
    backend_config = "dev.s3.tfbackend"

Every path a command reads or writes comes from the `Project` (never from the installed
package's location): `stepqueue.paths` only locates what the package ships.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "stepqueue.toml"
MAX_CONFIG_BYTES = 64 * 1024
DEFAULTS = {"workflows": "workflows", "handlers": "src", "build": "build", "terraform": "terraform"}
STAGE_KEYS = ("env", "backend_config", "backend")
ENVS = ("aws", "local")


class ProjectError(Exception):
    """No project, or a stepqueue.toml that cannot be used: what, where, and the fix."""

    def __init__(self, message: str, fix: str, file: Path | None = None, line: int = 0) -> None:
        self.message = message
        self.fix = fix
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else f"{file}: " if file else ""
        super().__init__(f"{where}{message}; {fix}")


@dataclass(frozen=True)
class Project:
    """A project's places. Derived ones (generated, lambda_zip, ...) are under `build`."""

    root: Path
    workflows: Path
    handlers: Path
    build: Path
    terraform_root: Path
    stages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    config: Path | None = None

    @property
    def generated(self) -> Path:
        return self.build / "generated"

    @property
    def lambda_dir(self) -> Path:
        return self.build / "lambda"

    @property
    def lambda_zip(self) -> Path:
        return self.lambda_dir / "stepqueue.zip"

    @property
    def local_state(self) -> Path:
        return self.build / "local-state"

    @property
    def plans(self) -> Path:
        return self.build / "plans"

    @property
    def port_file(self) -> Path:
        return self.build / "emulator.port"

    @property
    def emulator_dir(self) -> Path:
        """The background emulator's pid file and logs."""
        return self.build / "emulator"

    @property
    def deps_cache(self) -> Path:
        return self.build / "cache" / "lambda-deps"

    @property
    def shipped_terraform(self) -> Path:
        """Where the installed version's Terraform is materialised for this project's root."""
        from stepqueue.paths import version

        return self.build / "stepqueue" / "terraform" / version()

    def specs(self) -> list[Path]:
        return sorted(self.workflows.glob("*.yaml"))

    def stage_defaults(self, stage: str | None) -> Mapping[str, str]:
        return self.stages.get(stage or "", {})


def find_project(start: Path | None = None, explicit: Path | None = None) -> Project:
    """The project of `explicit` (a directory or its stepqueue.toml), else the nearest one
    from `start` (default: the working directory) upwards."""
    if explicit is not None:
        config = explicit if explicit.name == CONFIG_FILE else explicit / CONFIG_FILE
        if not config.is_file():
            raise ProjectError(
                f"--project {explicit}: no {CONFIG_FILE} there",
                f"give the directory holding {CONFIG_FILE}, or create a project there with "
                f"`stepqueue init {explicit}`",
            )
        return load(config)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        config = folder / CONFIG_FILE
        if config.is_file():
            return load(config)
    raise ProjectError(
        f"no {CONFIG_FILE} in {here} or any folder above it",
        "run the command inside a project, pass --project DIR, or create one with "
        "`stepqueue init DIR`",
    )


def load(config: Path) -> Project:
    """The project `config` (a stepqueue.toml) describes."""
    config = config.resolve()
    try:
        size = config.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ProjectError(
                f"{size} bytes; a project file is at most {MAX_CONFIG_BYTES}",
                "keep only the [project] and [stages.*] tables in it",
                config,
            )
        text = config.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _decode_line(str(error))
        raise ProjectError(f"not valid TOML ({error})", "fix the syntax", config, line) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProjectError(f"cannot read it ({error})", "check the file", config) from None
    return _project(config, text, data)


def _decode_line(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 0


def _line_of(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*\[?\s*{re.escape(key)}\b", line):
            return number
    return 0


def _project(config: Path, text: str, data: dict[str, Any]) -> Project:
    root = config.parent

    def fail(key: str, message: str, fix: str) -> ProjectError:
        return ProjectError(message, fix, config, _line_of(text, key))

    for key in data:
        if key not in ("project", "stages"):
            raise fail(key, f"unknown table [{key}]", "the tables are [project] and [stages.NAME]")
    section = data.get("project", {})
    if not isinstance(section, dict):
        raise fail("project", "`project` must be a table", "write it as [project]")
    places: dict[str, Path] = {}
    for key, value in section.items():
        if key not in DEFAULTS:
            raise fail(key, f"unknown key {key!r} in [project]", f"use {', '.join(DEFAULTS)}")
        if not isinstance(value, str) or not value.strip():
            raise fail(
                key, f"{key} must be a path (a non-empty string)", f'{key} = "{DEFAULTS[key]}"'
            )
    for key, default in DEFAULTS.items():
        places[key] = (root / section.get(key, default)).resolve()
    return Project(
        root=root,
        workflows=places["workflows"],
        handlers=places["handlers"],
        build=places["build"],
        terraform_root=places["terraform"],
        stages=_stages(data.get("stages", {}), fail),
        config=config,
    )


def _stages(raw: Any, fail: Any) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise fail("stages", "`stages` must hold tables", "write [stages.NAME] tables")
    stages: dict[str, dict[str, str]] = {}
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise fail("stages", f"stages.{name} must be a table", f"write it as [stages.{name}]")
        for key, value in settings.items():
            if key not in STAGE_KEYS:
                raise fail(
                    key, f"unknown key {key!r} in [stages.{name}]", f"use {', '.join(STAGE_KEYS)}"
                )
            if not isinstance(value, str):
                raise fail(key, f"stages.{name}.{key} must be a string", f'{key} = "..."')
        if settings.get("env", "aws") not in ENVS:
            raise fail("env", f"stages.{name}.env must be aws or local", 'env = "aws"')
        stages[str(name)] = {str(k): str(v) for k, v in settings.items()}
    return stages


def take_project_flag(argv: list[str]) -> tuple[list[str], Path | None]:
    """`--project DIR` (or `--project=DIR`) taken out of the command line wherever it is, so it
    may come before or after the command, and reach the commands that parse their own."""
    rest: list[str] = []
    project: Path | None = None
    tokens = iter(argv)
    for token in tokens:
        if token == "--":  # everything after belongs to the command
            rest += [token, *tokens]
            break
        if token == "--project":
            value = next(tokens, None)
            if value is None:
                raise ProjectError("--project needs a directory", "write --project DIR")
            project = Path(value)
        elif token.startswith("--project="):
            project = Path(token.split("=", 1)[1])
        else:
            rest.append(token)
    return rest, project


# Commands that only read the specs they are given: a project is optional when specs are named.
SPEC_COMMANDS = ("validate", "generate", "diagram", "cost")


def for_command(args: Any, explicit: Path | None) -> Project | None:
    """The project of a parsed command, with the command's defaults filled from it (specs,
    handlers, output directory, the stage's env and backend); None only for a spec command
    given its specs outside any project."""
    given = getattr(args, "specs", None)
    named = [spec for spec in (given if isinstance(given, list) else [given]) if spec]
    try:
        project = find_project(explicit=explicit)
    except ProjectError:
        if args.command in SPEC_COMMANDS and named and explicit is None:
            return None
        raise
    if args.command in SPEC_COMMANDS:
        _fill_specs(args, project, named)
    if hasattr(args, "env"):
        _fill_stage(args, project)
    return project


def _fill_specs(args: Any, project: Project, named: list[str]) -> None:
    import os

    if args.command == "diagram":
        spec = Path(named[0]) if named else None
        if spec is None:
            raise ProjectError("diagram needs a SPEC", "name a spec file or a workflow")
        if not spec.is_file() and (project.workflows / f"{spec}.yaml").is_file():
            args.specs = str(project.workflows / f"{spec}.yaml")
    elif not named:
        specs = project.specs()
        if not specs:
            raise ProjectError(
                f"no workflow specs (*.yaml) in {project.workflows}",
                "add one, or name the specs on the command line",
                project.config,
            )
        args.specs = [str(spec) for spec in specs]
    if getattr(args, "lambda_src", "n/a") is None and not os.environ.get("STEPQUEUE_LAMBDA_SRC"):
        args.lambda_src = project.handlers
    if args.command == "generate" and args.out is None:
        args.out = project.generated


def _fill_stage(args: Any, project: Project) -> None:
    defaults = project.stage_defaults(getattr(args, "stage", None))
    args.env = args.env or defaults.get("env") or "aws"
    if getattr(args, "backend_config", None) is None and defaults.get("backend_config"):
        args.backend_config = project.root / defaults["backend_config"]
    if getattr(args, "backend", None) is None and defaults.get("backend"):
        args.backend = defaults["backend"]
