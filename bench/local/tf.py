"""Every Python → Terraform call goes through this module (python-terraform underneath).

`Terraform(root, work_dir=...)` runs the root with its data dir (providers, modules) and its
state file under `work_dir`, so tests and demos never touch a user's own `.terraform/` or state;
`work_dir=None` uses the root's normal ones (ENV=aws). `local_deployment()` /
`aws_deployment()` build the variables each environment needs.

CLI (what `make plan|apply|destroy ENV=local|aws` runs):
    python -m bench.local.tf {plan,apply,destroy} --env {aws,local}
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged
from python_terraform import Terraform as _PythonTerraform

from bench.local.emulator import aws_env, is_reachable

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "terraform"
BUILD = REPO / "build"
GENERATED = BUILD / "generated"
LAMBDA_ZIP = BUILD / "lambda" / "stepqueue.zip"
PORT_FILE = BUILD / "emulator.port"
LOCAL_STATE = BUILD / "local-state"
# Low locally: with the shims nothing should fail, and a gap must fail fast, not after minutes
# of the provider's default 25 retries.
LOCAL_MAX_RETRIES = 2

# A filesystem mirror holds <source host>/<namespace>/<type>/<version>/...; any host will do.
PROVIDER_GLOB = "*/hashicorp/aws"
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "/usr/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
)


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


# python-terraform 0.10.1 takes no environment argument: it copies os.environ at each command.
# So the per-run variables (TF_DATA_DIR, credentials) are set around the call, under one lock.
_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _environ(extra: Mapping[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {key: os.environ.get(key) for key in extra}
        os.environ.update(extra)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass
class PlanResult:
    changes: bool
    output: str


@dataclass
class Terraform:
    """One Terraform root with its inputs; `work_dir` isolates data dir and state."""

    root: Path = ROOT
    work_dir: Path | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    var_files: Sequence[Path] = ()
    env: dict[str, str] = field(default_factory=dict)
    stream: bool = False  # print terraform's output live instead of capturing it

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        if not self.root.is_dir():
            raise TerraformError(f"no Terraform root at {self.root}")
        state = None
        if self.work_dir is not None:
            self.work_dir = Path(self.work_dir).resolve()
            self.work_dir.mkdir(parents=True, exist_ok=True)
            state = str(self.state_path)
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
    def data_dir(self) -> Path:
        base = self.work_dir if self.work_dir is not None else self.root
        return base / ".terraform"

    def _run_env(self) -> dict[str, str]:
        env = {"TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **cli_config_env()}
        if self.work_dir is not None:
            env["TF_DATA_DIR"] = str(self.data_dir)
        env.update(self.env)
        return env

    def _cmd(self, name: str, *args: str, check: bool = True, **options: Any) -> tuple[int, str]:
        with _environ(self._run_env()):
            code, out, err = self._tf.cmd(name, *args, capture_output=not self.stream, **options)
        text = (out or "") + (err or "")
        if check and code != 0:
            raise TerraformError(f"terraform {name} failed (exit {code})\n{text.strip()}")
        return code, text

    def init(self) -> None:
        """Idempotent: skipped while the root's .tf files and the mirror are those of the last
        successful init (a marker in the data dir records them)."""
        plugin_dir = find_plugin_dir()
        marker = self.data_dir / "stepqueue-init.json"
        fingerprint = json.dumps({"plugin_dir": str(plugin_dir), "tf": _tf_digest(self.root)})
        if marker.is_file() and marker.read_text() == fingerprint:
            return
        self._cmd(
            "init",
            input=False,
            no_color=IsFlagged,
            plugin_dir=str(plugin_dir) if plugin_dir else None,
        )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint)

    def _options(self, **extra: Any) -> dict[str, Any]:
        # python-terraform's defaults: -state, -var (as a temp var file), -var-file, -input=false,
        # -no-color.
        options: dict[str, Any] = self._tf._generate_default_options({})
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
        state = str(self.state_path) if self.work_dir is not None else None
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

    def plan_to_file(self, plan_file: Path) -> None:
        """A saved plan (binary), for `show_plan()`."""
        self._cmd("plan", **self._options(out=str(plan_file)))

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
        args = [str(self.state_path)] if self.work_dir is not None else []
        _, text = self._captured("show", *args, json=IsFlagged, no_color=IsFlagged)
        result: dict[str, Any] = json.loads(text)
        return result


def fmt_check(cwd: Path, *paths: str) -> tuple[bool, str]:
    """`terraform fmt -check -recursive -diff` on `paths` (relative to `cwd`): (clean, diff)."""
    with _environ({"CHECKPOINT_DISABLE": "1", **cli_config_env()}):
        code, out, err = _PythonTerraform(working_dir=str(cwd)).cmd(
            "fmt", *paths, check=IsFlagged, recursive=IsFlagged, diff=IsFlagged
        )
    return code == 0, (out or "") + (err or "")


def _tf_digest(root: Path) -> str:
    """Hash of the .tf files of the root and of the local modules it may use (../modules)."""
    digest = hashlib.sha256()
    for base in (root, root.parent / "modules"):
        for path in sorted(base.rglob("*.tf")) if base.is_dir() else []:
            if ".terraform" not in path.parts:
                digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _require_inputs(generated_dir: Path, lambda_zip: Path) -> Path:
    tfvars = generated_dir / "workflows.tfvars.json"
    if not tfvars.is_file():
        raise TerraformError(f"{tfvars} is missing: run `make generate` first")
    if not lambda_zip.is_file():
        raise TerraformError(f"{lambda_zip} is missing: run `make lambda` first")
    return tfvars


def _common_variables(generated_dir: Path, lambda_zip: Path) -> dict[str, Any]:
    return {"generated_dir": str(generated_dir.resolve()), "lambda_zip_path": str(lambda_zip)}


def local_deployment(
    endpoint: str,
    work_dir: Path,
    *,
    root: Path = ROOT,
    generated_dir: Path = GENERATED,
    lambda_zip: Path = LAMBDA_ZIP,
    name_prefix: str = "",
    stream: bool = False,
) -> Terraform:
    """The root against the emulator at `endpoint`, with state and data dir in `work_dir`."""
    tfvars = _require_inputs(generated_dir, lambda_zip)
    variables = _common_variables(generated_dir, lambda_zip)
    variables.update(
        aws_endpoint_url=endpoint,
        max_retries=LOCAL_MAX_RETRIES,
        # moto would run an enabled mapping's Lambda in Docker (absent): bench.local.runner
        # does the mapping's job instead.
        event_source_mapping_enabled=False,
    )
    if name_prefix:
        variables["name_prefix"] = name_prefix
    return Terraform(
        root=root,
        work_dir=work_dir,
        variables=variables,
        var_files=[tfvars],
        env=aws_env(endpoint),
        stream=stream,
    )


def aws_deployment(
    *,
    root: Path = ROOT,
    generated_dir: Path = GENERATED,
    lambda_zip: Path = LAMBDA_ZIP,
    stream: bool = True,
) -> Terraform:
    """The root against real AWS with the root's own state; credentials from the environment."""
    tfvars = _require_inputs(generated_dir, lambda_zip)
    return Terraform(
        root=root,
        variables=_common_variables(generated_dir, lambda_zip),
        var_files=[tfvars],
        stream=stream,
    )


def running_emulator_endpoint(port_file: Path | None = None) -> str:
    port_file = PORT_FILE if port_file is None else port_file
    hint = "run `make emulator` in another terminal first"
    try:
        port = int(port_file.read_text().strip())
    except (OSError, ValueError):
        raise TerraformError(f"no emulator port in {port_file}: {hint}") from None
    endpoint = f"http://127.0.0.1:{port}"
    if not is_reachable(endpoint):
        raise TerraformError(f"the emulator at {endpoint} ({port_file}) is not answering: {hint}")
    return endpoint


def require_aws_credentials() -> None:
    """Fail before Terraform does, with the fix, when no credential source answers at all."""
    import boto3

    if boto3.Session().get_credentials() is None:
        raise TerraformError(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY), or try it locally: `make emulator` in another terminal, "
            "then ENV=local"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local.tf")
    parser.add_argument("command", choices=["plan", "apply", "destroy"])
    parser.add_argument("--env", choices=["aws", "local"], default="aws")
    args = parser.parse_args(argv)
    try:
        if args.env == "local":
            endpoint = running_emulator_endpoint()
            tf = local_deployment(endpoint, LOCAL_STATE, stream=True)
            print(f"terraform against the emulator at {endpoint}, state in {LOCAL_STATE}")
        else:
            require_aws_credentials()
            tf = aws_deployment()
        tf.init()
        if args.command == "plan":
            changes = tf.plan().changes
            print("changes pending" if changes else "no changes")
        elif args.command == "apply":
            tf.apply()
        else:
            tf.destroy()
    except TerraformError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
