"""stepqueue.deploy.terraform without running Terraform: mirror detection, CLI config, inputs
and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepqueue.deploy import terraform as tf
from stepqueue.local import deployment

# The host part of a mirror path is whatever source the provider came from.
AWS = Path("mirror.example/hashicorp/aws")


def _mirror(base: Path) -> Path:
    (base / AWS / "5.100.0").mkdir(parents=True)
    return base


def test_plugin_dir_from_env_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = _mirror(tmp_path / "mine")
    other = _mirror(tmp_path / "other")
    monkeypatch.setattr(tf, "MIRROR_CANDIDATES", (str(other),))
    assert tf.find_plugin_dir({"TF_PLUGIN_DIR": str(mirror)}) == mirror
    assert tf.find_plugin_dir({}) == other


def test_plugin_dir_skips_dirs_without_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    (empty / "mirror.example/hashicorp/random").mkdir(parents=True)
    mirror = _mirror(tmp_path / "m")
    monkeypatch.setattr(tf, "MIRROR_CANDIDATES", (str(empty), str(mirror)))
    assert tf.find_plugin_dir({"TF_PLUGIN_DIR": str(tmp_path / "missing")}) == mirror


def test_no_mirror_means_plain_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tf, "MIRROR_CANDIDATES", (str(tmp_path),))
    assert tf.find_plugin_dir({}) is None


def test_cli_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tf.cli_config_env({}) == {"TF_CLI_CONFIG_FILE": "/dev/null"}
    assert tf.cli_config_env({"TF_CLI_CONFIG_FILE": str(tmp_path / "nope")}) == {
        "TF_CLI_CONFIG_FILE": "/dev/null"
    }
    rc = tmp_path / ".terraformrc"
    rc.write_text("")
    assert tf.cli_config_env({}) == {}
    assert tf.cli_config_env({"TF_CLI_CONFIG_FILE": str(rc)}) == {}


def test_missing_inputs_are_clear(tmp_path: Path) -> None:
    with pytest.raises(tf.TerraformError, match="run `stepqueue plan`"):
        deployment.local_deployment(
            "http://127.0.0.1:1", tmp_path, generated_dir=tmp_path, lambda_zip=tmp_path / "z.zip"
        )
    (tmp_path / "workflows.tfvars.json").write_text("{}")
    with pytest.raises(tf.TerraformError, match=r"\.zip is missing: run `stepqueue plan`"):
        deployment.local_deployment(
            "http://127.0.0.1:1",
            tmp_path,
            generated_dir=tmp_path,
            lambda_zip=tmp_path / "missing.zip",
        )


def test_local_variables(tmp_path: Path) -> None:
    (tmp_path / "workflows.tfvars.json").write_text("{}")
    (tmp_path / "z.zip").write_bytes(b"")
    root = tmp_path / "root"
    root.mkdir()
    run = deployment.local_deployment(
        "http://127.0.0.1:9",
        tmp_path / "work",
        root=root,
        generated_dir=tmp_path,
        lambda_zip=tmp_path / "z.zip",
    )
    assert run.variables["aws_endpoint_url"] == "http://127.0.0.1:9"
    assert run.variables["event_source_mapping_enabled"] is False
    assert run.variables["max_retries"] == deployment.LOCAL_MAX_RETRIES
    assert run.variables["generated_dir"] == str(tmp_path.resolve())
    assert list(run.var_files) == [tmp_path / "workflows.tfvars.json"]
    assert run.state_path == (tmp_path / "work" / "terraform.tfstate").resolve()
    assert run.env["AWS_ACCESS_KEY_ID"] == "testing"


def test_cli_without_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stepqueue.cli import main

    # A project of its own, so the port file is the test's.
    (tmp_path / "stepqueue.toml").write_text("")
    assert main(["plan", "--env", "local", "--project", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "stepqueue emulator --background" in err and "Traceback" not in err
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "emulator.port").write_text("1\n")  # nothing listens on port 1
    assert main(["plan", "--env", "local", "--project", str(tmp_path)]) == 1
    assert "not answering" in capsys.readouterr().err


def test_aws_without_credentials_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from stepqueue.cli import main

    assert main(["plan", "--env", "aws"]) == 1
    err = capsys.readouterr().err
    assert "no AWS credentials found" in err
    assert "Traceback" not in err


def test_a_missing_aws_profile_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stepqueue.cli import main

    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "nosuchprofile")
    assert main(["apply", "--env", "aws"]) == 1
    err = capsys.readouterr().err
    assert "nosuchprofile" in err and "AWS_PROFILE" in err and "Traceback" not in err
