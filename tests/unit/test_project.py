"""A project is found the same way by every command (stepqueue.toml upwards, or --project), and
a stepqueue.toml that cannot be used is refused with the file, the line and the fix."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from stepqueue import cli
from stepqueue.paths import REPO
from stepqueue.project import ProjectError, find_project, for_command, load, take_project_flag


def _project(tmp_path: Path, text: str = "") -> Path:
    (tmp_path / "stepqueue.toml").write_text(text)
    return tmp_path


def test_found_from_any_folder_below_and_defaults(tmp_path: Path) -> None:
    root = _project(tmp_path)
    below = root / "workflows" / "deep"
    below.mkdir(parents=True)
    project = find_project(below)
    assert project.root == root.resolve()
    assert project.workflows == root.resolve() / "workflows"
    assert project.handlers == root.resolve() / "src"
    assert project.generated == root.resolve() / "build" / "generated"
    assert project.lambda_zip == root.resolve() / "build" / "lambda" / "stepqueue.zip"
    assert project.terraform_root == root.resolve() / "terraform"


def test_this_repository_is_a_project_of_its_own() -> None:
    project = find_project(REPO / "generator")
    assert project.root == REPO
    assert project.handlers == REPO / "lambda_src"
    assert project.specs() == sorted((REPO / "workflows").glob("*.yaml"))


def test_explicit_project_wins_and_must_hold_the_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    root = _project(tmp_path / "a")
    assert find_project(REPO, explicit=root).root == root.resolve()
    with pytest.raises(ProjectError, match="stepqueue init"):
        find_project(REPO, explicit=tmp_path / "nowhere")


def test_no_project_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as error:
        find_project(Path("/"))
    assert "--project DIR" in error.value.fix and "stepqueue init" in error.value.fix


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[project]\nworkflows = "w"\nhandler = "src"\n', 3, "unknown key 'handler'"),
        ("[project]\nbuild = 3\n", 2, "build must be a path"),
        ("[projekt]\n", 1, "unknown table [projekt]"),
        ('[project]\nworkflows = "w\n', 2, "not valid TOML"),
        ('[stages.dev]\nenv = "staging"\n', 2, "must be aws or local"),
        ('[stages.dev]\nregion = "x"\n', 2, "unknown key 'region'"),
    ],
)
def test_bad_config_names_file_line_and_fix(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    config = _project(tmp_path, text) / "stepqueue.toml"
    with pytest.raises(ProjectError) as error:
        load(config)
    assert error.value.file == config.resolve() and error.value.line == line
    assert words in error.value.message and error.value.fix


def test_an_oversized_config_is_refused(tmp_path: Path) -> None:
    config = _project(tmp_path, "# x\n" * 20_000) / "stepqueue.toml"
    with pytest.raises(ProjectError, match="at most"):
        load(config)


@pytest.mark.parametrize(
    ("argv", "rest", "project"),
    [
        (["--project", "p", "plan"], ["plan"], "p"),
        (["plan", "--env", "local", "--project=p"], ["plan", "--env", "local"], "p"),
        (["run", "wf", "--", "--project", "x"], ["run", "wf", "--", "--project", "x"], None),
        (["validate"], ["validate"], None),
    ],
)
def test_project_flag_before_or_after_the_command(
    argv: list[str], rest: list[str], project: str | None
) -> None:
    assert take_project_flag(argv) == (rest, Path(project) if project else None)


def test_project_flag_without_a_directory() -> None:
    with pytest.raises(ProjectError, match="needs a directory"):
        take_project_flag(["plan", "--project"])


def test_commands_take_their_defaults_from_the_project(tmp_path: Path) -> None:
    root = _project(
        tmp_path,
        '[project]\nworkflows = "specs"\nhandlers = "code"\n'
        '[stages.prod]\nenv = "aws"\nbackend_config = "prod.s3.tfbackend"\n',
    )
    (root / "specs").mkdir()
    (root / "specs" / "a.yaml").write_text("name: a\n")
    generate = argparse.Namespace(command="generate", specs=[], lambda_src=None, out=None)
    project = for_command(generate, root)
    assert project is not None
    assert generate.specs == [str(root.resolve() / "specs" / "a.yaml")]
    assert generate.lambda_src == root.resolve() / "code"
    assert generate.out == project.generated
    plan = argparse.Namespace(
        command="plan", env=None, stage="prod", backend_config=None, backend=None
    )
    for_command(plan, root)
    assert plan.env == "aws" and plan.backend_config == root.resolve() / "prod.s3.tfbackend"
    local = argparse.Namespace(
        command="plan", env=None, stage=None, backend_config=None, backend=None
    )
    for_command(local, root)
    assert local.env == "aws" and local.backend_config is None


def test_a_command_outside_any_project_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["plan", "--env", "local"]) == 2
    err = capsys.readouterr().err
    assert "no stepqueue.toml" in err and "stepqueue init" in err and "Traceback" not in err
    assert cli.main(["validate"]) == 2
    assert cli.main(["plan", "--project", str(tmp_path)]) == 2
