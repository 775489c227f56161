"""Every Python → Terraform call goes through this module (python-terraform underneath).

`Terraform(root, work_dir=...)` runs the root with its data dir (providers, modules) and its
state file under `work_dir`, so tests and demos never touch a user's own `.terraform/` or state;
`work_dir=None` uses the root's normal ones (a real deployment, whose state may live in a remote
backend). What each environment passes in is decided by `stepqueue.deploy.inputs` (AWS) and
`stepqueue.local.deployment` (the emulator).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged
from python_terraform import Terraform as _PythonTerraform

from stepqueue.paths import TERRAFORM_ROOT

# A filesystem mirror holds <source host>/<namespace>/<type>/<version>/...; any host will do.
PROVIDER_GLOB = "*/hashicorp/aws"
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
)
DEFAULT_WORKSPACE = "default"


class TerraformError(RuntimeError):
    """A terraform command failed, or a precondition (emulator, inputs) is missing."""


def find_plugin_dir(env: Mapping[str, str] | None = None) -> Path | None:
    """The provider mirror to `init -plugin-dir` from: the registry is unreachable here.

    First of $TF_PLUGIN_DIR and the usual locations holding hashicorp/aws; None → plain init."""
    env = os.environ if env is None else env
    candidates = [env["TF_PLUGIN_DIR"]] if env.get("TF_PLUGIN_DIR") else []
    candidates += MIRROR_CANDIDATES
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if any(found.is_dir() for found in path.glob(PROVIDER_GLOB)):
            return path
    return None


def cli_config_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """TF_CLI_CONFIG_FILE=/dev/null when the user has no CLI config (else a warning each run)."""
    env = os.environ if env is None else env
    configured = env.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).exists():
        return {}
    if not configured and Path("~/.terraformrc").expanduser().exists():
        return {}
    return {"TF_CLI_CONFIG_FILE": os.devnull}


def _run(
    command: list[str],
    *,
    cwd: Path,
    extra_env: Mapping[str, str],
    capture: bool,
    on_line: Callable[[str], None] | None = None,
) -> tuple[int, str]:
    """One Terraform process with its own environment. python-terraform 0.10.1 would copy
    os.environ instead, so per-run variables (TF_DATA_DIR, credentials) would have to be set
    process-wide, and two runs in two threads (the stages of one deploy, the deployments of
    a test stack) could not overlap.

    `capture`: stdout and stderr apart (a parsed answer); otherwise both are read line by line,
    echoed to stderr unless `on_line` takes them, and returned: stdout stays the command's."""
    env = {**os.environ, **extra_env}
    if capture:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode, (result.stdout or "") + (result.stderr or "")
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            (on_line or _to_stderr)(line)
        code = proc.wait()
    return code, "".join(lines)


def _to_stderr(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


@dataclass
class PlanResult:
    changes: bool
    output: str


@dataclass
class Terraform:
    """One Terraform root with its inputs; `work_dir` isolates data dir and state."""

    root: Path = TERRAFORM_ROOT
    work_dir: Path | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    var_files: Sequence[Path] = ()
    env: dict[str, str] = field(default_factory=dict)
    stream: bool = False  # echo terraform's output live (to stderr) as well as capturing it
    # Each line of a long command's output (apply), for progress; not for parsed commands.
    on_line: Callable[[str], None] | None = None
    # `terraform init -backend-config=FILE` (e.g. an S3 bucket and key shared by a team); the
    # root needs a backend block of the same type (stepqueue.deploy.backend provides one).
    backend_config: Path | None = None
    # One workspace per stage: the same backend holds each stage's state apart.
    workspace: str = DEFAULT_WORKSPACE
    # Terraform's -parallelism (its default is 10). Locally every SQS queue costs the provider
    # ~25 s of polling whatever the load, so a root of ~40 queues wants them all in flight.
    parallelism: int | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        if self.backend_config is not None:
            # Terraform runs in the root and would read a relative path from there, not from
            # where the user named it (nor where the saved plan's record hashed it).
            self.backend_config = Path(self.backend_config).resolve()
        if not self.root.is_dir():
            raise TerraformError(f"no Terraform root at {self.root}")
        state = None
        if self.work_dir is not None:
            self.work_dir = Path(self.work_dir).resolve()
            self.work_dir.mkdir(parents=True, exist_ok=True)
            if not self.local_backend:
                state = str(self.state_path)  # a root without a backend block: the old way
        self._tf = _PythonTerraform(
            working_dir=str(self.root),
            state=state,
            variables=dict(self.variables),
            var_file=[str(path) for path in self.var_files] or None,
        )

    @property
    def state_path(self) -> Path:
        base = self.work_dir if self.work_dir is not None else self.root
        return base / "terraform.tfstate"

    @property
    def local_backend(self) -> bool:
        """The root declares `backend "local"`: its state goes where init configures it
        (`path`, `workspace_dir` under work_dir), not where a deprecated -state says."""
        return declares_local_backend(self.root)

    def _state_flag(self) -> str | None:
        """-state for the commands that still need one: only with a root that declares no
        backend (Terraform ≥ 1.10 warns it is deprecated for apply)."""
        if self.work_dir is None or self.local_backend:
            return None
        return str(self.state_path)

    def _backend_configs(self) -> list[str]:
        """`-backend-config` values for init: the user's file, or the local backend's paths
        under work_dir (where the old -state put the default workspace's state)."""
        if self.backend_config is not None:
            return [str(self.backend_config)]
        if self.work_dir is not None and self.local_backend:
            return [
                f"path={self.state_path}",
                f"workspace_dir={self.work_dir / 'terraform.tfstate.d'}",
            ]
        return []

    @property
    def data_dir(self) -> Path:
        base = self.work_dir if self.work_dir is not None else self.root
        return base / ".terraform"

    @property
    def _pins_workspace(self) -> bool:
        return self.work_dir is None or self.workspace != DEFAULT_WORKSPACE

    def _run_env(self, *, workspace: bool = True) -> dict[str, str]:
        env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **cli_config_env()}
        if self.work_dir is not None:
            env["TF_DATA_DIR"] = str(self.data_dir)
        if workspace and self._pins_workspace:
            # Per process, not `workspace select`: the selection is a file in the shared data
            # dir, and a plan of another stage running at the same time would move it.
            env["TF_WORKSPACE"] = self.workspace
        env.update(self.env)
        return env

    def _cmd(
        self,
        name: str,
        *args: str,
        check: bool = True,
        workspace: bool = True,
        **options: Any,
    ) -> tuple[int, str]:
        # python-terraform spells the options; the process is ours (see _run).
        command = self._tf.generate_cmd_string(name, *args, **options)
        try:
            code, text = _run(
                command,
                cwd=self.root,
                extra_env=self._run_env(workspace=workspace),
                capture=not (self.stream or self.on_line),
                on_line=self._line_handler(),
            )
        finally:
            self._tf.temp_var_files.clean_up()  # the -var values it wrote to a temp file
        if check and code != 0:
            raise TerraformError(f"terraform {name} failed (exit {code})\n{text.strip()}")
        return code, text

    def _line_handler(self) -> Callable[[str], None] | None:
        on_line, stream = self.on_line, self.stream
        if on_line is None or not stream:
            return on_line

        def both(line: str) -> None:
            _to_stderr(line)
            on_line(line)

        return both

    def init(self) -> None:
        """Idempotent: skipped while the root's .tf files, the mirror and the backend config are
        those of the last successful init (a marker in the data dir records them); then the
        stage's workspace is selected, created on first use."""
        plugin_dir = find_plugin_dir()
        marker = self.data_dir / "stepqueue-init.json"
        backend = self.backend_config
        fingerprint = json.dumps(
            {
                "plugin_dir": str(plugin_dir),
                "tf": tf_digest(self.root),
                "backend_config": file_digest(backend) if backend else None,
                "backend": self._backend_configs(),
            }
        )
        if not (marker.is_file() and marker.read_text() == fingerprint):
            self._cmd(
                "init",
                workspace=False,
                input=False,
                no_color=IsFlagged,
                plugin_dir=str(plugin_dir) if plugin_dir else None,
                backend_config=self._backend_configs() or None,
            )
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(fingerprint)
        if self.workspace != DEFAULT_WORKSPACE:
            code, text = self._cmd("workspace", "new", self.workspace, check=False, workspace=False)
            if code != 0 and "already exists" not in text:
                raise TerraformError(f"terraform workspace new {self.workspace} failed\n{text}")

    def _options(self, **extra: Any) -> dict[str, Any]:
        # python-terraform's defaults: -state, -var (as a temp var file), -var-file, -input=false,
        # -no-color.
        options: dict[str, Any] = self._tf._generate_default_options({})
        if self.parallelism is not None:
            options["parallelism"] = self.parallelism
        options.update(extra)
        return options

    def plan(self) -> PlanResult:
        code, text = self._cmd("plan", check=False, **self._options(detailed_exitcode=IsFlagged))
        if code not in (0, 2):  # -detailed-exitcode: 0 no changes, 2 changes, 1 error
            raise TerraformError(f"terraform plan failed (exit {code})\n{text.strip()}")
        return PlanResult(changes=code == 2, output=text)

    def apply(self) -> str:
        return self._cmd("apply", **self._options(auto_approve=IsFlagged))[1]

    def destroy(self) -> str:
        # python-terraform's destroy() passes -force, which Terraform ≥ 0.15 rejects.
        return self._cmd("destroy", **self._options(auto_approve=IsFlagged, force=IsNotFlagged))[1]

    def output(self) -> dict[str, Any]:
        """All outputs as {name: value}."""
        state = self._state_flag()
        _, text = self._captured("output", json=IsFlagged, state=state, no_color=IsFlagged)
        return {name: item["value"] for name, item in json.loads(text or "{}").items()}

    def validate(self) -> dict[str, Any]:
        """`terraform validate -json` (after init): {"valid": bool, "diagnostics": [...], ...}."""
        code, text = self._captured("validate", check=False, json=IsFlagged, no_color=IsFlagged)
        start = text.find("{")
        try:  # the JSON document first; anything Terraform printed after it is not ours
            if start < 0:
                raise ValueError("no JSON")
            result: dict[str, Any] = json.JSONDecoder().raw_decode(text, start)[0]
        except ValueError:
            raise TerraformError(f"terraform validate failed (exit {code})\n{text}") from None
        return result

    def plan_to_file(self, plan_file: Path, *, destroy: bool = False) -> None:
        """A saved plan (binary): what `apply_plan()` applies and `show_plan()` shows."""
        plan_file.parent.mkdir(parents=True, exist_ok=True)
        extra: dict[str, Any] = {"out": str(plan_file)}
        if destroy:
            extra["destroy"] = IsFlagged
        self._cmd("plan", **self._options(**extra))

    def apply_plan(self, plan_file: Path) -> str:
        """Apply exactly a saved plan: no variables (they are in the plan), nothing re-planned.
        Terraform itself refuses a plan made against a state that has changed since."""
        state = self._state_flag()
        return self._cmd(
            "apply",
            str(plan_file),
            input=False,
            no_color=IsFlagged,
            state=state,
            parallelism=self.parallelism,
        )[1]

    def show_plan(self, plan_file: Path) -> str:
        """The saved plan as Terraform's JSON text (what checkov reads)."""
        return self._captured("show", str(plan_file), json=IsFlagged, no_color=IsFlagged)[1]

    def version(self) -> dict[str, Any]:
        """`terraform version -json`: the CLI and, after init, the providers it selected."""
        result: dict[str, Any] = json.loads(self._captured("version", json=IsFlagged)[1])
        return result

    def _captured(
        self, name: str, *args: str, check: bool = True, **options: Any
    ) -> tuple[int, str]:
        """A command whose output is parsed: never streamed."""
        stream, self.stream = self.stream, False
        try:
            return self._cmd(name, *args, check=check, **options)
        finally:
            self.stream = stream

    def show_json(self) -> dict[str, Any]:
        args = [str(self.state_path)] if self._state_flag() else []
        _, text = self._captured("show", *args, json=IsFlagged, no_color=IsFlagged)
        result: dict[str, Any] = json.loads(text)
        return result


def fmt_check(cwd: Path, *paths: str) -> tuple[bool, str]:
    """`terraform fmt -check -recursive -diff` on `paths` (relative to `cwd`): (clean, diff)."""
    command = _PythonTerraform().generate_cmd_string(
        "fmt", *paths, check=IsFlagged, recursive=IsFlagged, diff=IsFlagged
    )
    code, text = _run(
        command, cwd=cwd, extra_env={"CHECKPOINT_DISABLE": "1", **cli_config_env()}, capture=True
    )
    return code == 0, text


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, hex."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise TerraformError(f"cannot read {path}: {error.strerror}") from None


# Written for one command by stepqueue.deploy.backend, from the backend config (which saved
# plans fingerprint on its own): never part of the code.
BACKEND_OVERRIDE_FILE = "stepqueue_backend_override.tf"


def tf_digest(root: Path) -> str:
    """Hash of the .tf files of the root and of the local modules it may use (../modules)."""
    digest = hashlib.sha256()
    for base in (root, root.parent / "modules"):
        for path in sorted(base.rglob("*.tf")) if base.is_dir() else []:
            if ".terraform" not in path.parts and path.name != BACKEND_OVERRIDE_FILE:
                digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


_LOCAL_BACKEND = re.compile(r'^\s*backend\s+"local"', re.MULTILINE)


def declares_local_backend(root: Path) -> bool:
    """Whether a .tf file of `root` itself declares `backend "local"` (overrides aside)."""
    for path in sorted(root.glob("*.tf")):
        if path.name != BACKEND_OVERRIDE_FILE and _LOCAL_BACKEND.search(
            path.read_text(encoding="utf-8", errors="replace")
        ):
            return True
    return False
