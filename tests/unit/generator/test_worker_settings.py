"""A worker's own Lambda settings: what reaches workflows.tfvars.json and artifacts.json, and
the imports check. The bad-spec corpus (worker_*.yaml) holds the located errors."""

from __future__ import annotations

import json
import re
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from generator.api import load_and_validate, render
from generator.references import REFERENCES
from generator.worker_deployment import RESERVED_ENV
from generator.worker_deps import top_level_imports
from tests.support.hypothesis_profiles import examples
from tests.unit.generator.helpers import LAMBDA_SRC, write_spec

SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/app/token"


def _spec(worker: str, handler: str = "examples.common.echo") -> str:
    body = textwrap.indent(textwrap.dedent(worker).strip(), "    ")
    return (
        f"name: wf\nworkers:\n  w:\n    handler: {handler}\n{body}\n"
        "StartAt: A\nStates:\n  A: {Type: Task, Worker: w, TimeoutSeconds: 3600, End: true}\n"
    )


def _tfvars(tmp: Path, worker: str, lambda_src: Path = LAMBDA_SRC) -> tuple[dict[str, Any], Any]:
    workflows, diagnostics = load_and_validate([write_spec(tmp, _spec(worker))], lambda_src)
    assert workflows is not None, [d.format() for d in diagnostics]
    files = render(workflows)
    tfvars = json.loads(files["workflows.tfvars.json"])["workflows"]["wf"]["workers"]["w"]
    return tfvars, json.loads(files["artifacts.json"])["artifacts"]


def test_every_setting_reaches_tfvars_escaped_for_the_root(tmp_path: Path) -> None:
    tfvars, artifacts = _tfvars(
        tmp_path,
        f"""
        dependencies: [Pillow==11.1.0, "numpy==2.2.1"]
        architecture: arm64
        ephemeral_storage_mb: 2048
        log_retention_days: 30
        environment:
          BUCKET: ${{payload_bucket_name}}
          TEMPLATE: "50%{{x}} of $HOME"
          TOKEN: {{ssm: "{SSM}"}}
        permissions:
          statements:
            - sid: Own
              actions: ["s3:Get*"]
              resources: ["${{payload_bucket_arn}}/users/${{aws:username}}/*"]
              conditions:
                - {{test: StringLike, variable: s3:prefix, values: ["home/${{aws:username}}/*"]}}
                - {{test: Bool, variable: aws:SecureTransport, values: [true]}}
          managed_policy_arns: [arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess]
        vpc: {{subnet_ids: [subnet-12345678], security_group_ids: [sg-0123456789abcdef0]}}
        layers: [arn:aws:lambda:us-east-1:123456789012:layer:tools:3]
        tags: {{team: media}}
        """,
    )
    assert tfvars["artifact"] == "workers/wf-w.zip"
    assert tfvars["architecture"] == "arm64"
    assert tfvars["ephemeral_storage_mb"] == 2048 and tfvars["log_retention_days"] == 30
    # References stay for templatestring(); what it would read otherwise is escaped.
    assert tfvars["environment"] == {
        "BUCKET": "${payload_bucket_name}",
        "TEMPLATE": "50%%{x} of $HOME",
    }
    assert tfvars["secrets"] == {"TOKEN": SSM}  # the ARN only: the value never enters
    [statement] = tfvars["policy_statements"]
    assert statement["resources"] == ["${payload_bucket_arn}/users/$${aws:username}/*"]
    assert statement["conditions"] == [
        # Conditions are not templated by the root: a policy variable stays as written.
        {"test": "StringLike", "variable": "s3:prefix", "values": ["home/${aws:username}/*"]},
        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["true"]},
    ]
    assert tfvars["managed_policy_arns"] == ["arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"]
    assert tfvars["subnet_ids"] == ["subnet-12345678"]
    assert tfvars["security_group_ids"] == ["sg-0123456789abcdef0"]
    assert tfvars["layers"] == ["arn:aws:lambda:us-east-1:123456789012:layer:tools:3"]
    assert tfvars["tags"] == {"team": "media"}
    assert artifacts["workers/wf-w.zip"]["dependencies"] == ["numpy==2.2.1", "pillow==11.1.0"]
    assert artifacts["workers/wf-w.zip"]["architecture"] == "arm64"
    assert artifacts["workers/wf-w.zip"]["layers"] == 1


def test_a_requirements_file_beside_the_spec(tmp_path: Path) -> None:
    (tmp_path / "reqs").mkdir()
    (tmp_path / "reqs" / "thumb.txt").write_text(
        "# image work\nPillow==11.1.0  # compiled\n\nnumpy==2.2.1\n"
    )
    _, artifacts = _tfvars(tmp_path, "requirements: reqs/thumb.txt")
    assert artifacts["workers/wf-w.zip"]["dependencies"] == ["numpy==2.2.1", "pillow==11.1.0"]


def test_a_requirements_line_with_a_range_is_located(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("Pillow==11.1.0\n-r other.txt\nrequests>=2\n")
    spec = write_spec(tmp_path, _spec("requirements: r.txt"))
    _, diagnostics = load_and_validate([spec], LAMBDA_SRC)
    messages = [d.message for d in diagnostics if d.is_error]
    assert len(messages) == 2
    assert "r.txt line 2: '-r other.txt'" in messages[0]
    assert "r.txt line 3: 'requests>=2'" in messages[1]


def test_a_worker_declaring_nothing_keeps_the_shared_zip(tmp_path: Path) -> None:
    tfvars, artifacts = _tfvars(tmp_path, "timeout_seconds: 30")
    assert tfvars["artifact"] is None and artifacts == {}


def _lambda_src(tmp: Path, source: str) -> Path:
    src = tmp / "lambda_src"
    (src / "team").mkdir(parents=True, exist_ok=True)
    (src / "team" / "__init__.py").write_text("")
    (src / "team" / "helpers.py").write_text("")
    (src / "team" / "work.py").write_text(textwrap.dedent(source).lstrip())
    return src


def _warnings(tmp: Path, source: str, worker: str = "") -> list[str]:
    src = _lambda_src(tmp, source)
    spec = write_spec(tmp, _spec(worker or "timeout_seconds: 30", "team.work.run"))
    _, diagnostics = load_and_validate([spec], src)
    assert not [d for d in diagnostics if d.is_error]
    return [d.format() for d in diagnostics]


def test_an_import_the_function_will_not_have_is_a_located_warning(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    source = """
        import json, os.path
        import boto3
        from team import helpers
        from . import helpers as same
        import requests
        try:
            import ujson
        except ImportError:
            ujson = None

        def run(payload, ctx):
            from PIL import Image
            return payload
        """
    warnings = _warnings(tmp_path, source)
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith(
        "lambda_src/team/work.py:5:1: warning: team.work imports requests"
    )
    assert warnings[1].startswith("lambda_src/team/work.py:12:5: warning: team.work imports PIL")
    assert "add the package that provides PIL to workers.w.dependencies" in warnings[1]
    declared = "dependencies: [requests==2.32.3, Pillow==11.1.0, urllib3==2.3.0]"
    assert _warnings(tmp_path, source, declared) == []


def test_top_level_imports_reads_every_form() -> None:
    found = top_level_imports("import a.b as c, d\nfrom e.f import g\nfrom .h import i\n")
    assert found == [("a", 1, 1), ("d", 1, 1), ("e", 2, 1)]


# -- properties: open-ended environment maps and statements --------------------------------

_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,30}", fullmatch=True)
# Printable text: what YAML carries in a quoted scalar; `${`, `%{` and `$` are the point.
_VALUE = st.lists(
    st.one_of(
        st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x85"),
        st.sampled_from(["${", "%{", "}", "$", "${prefix}", "${nope}", "${aws:username}"]),
    ),
    max_size=12,
).map("".join)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML quoted scalar


@settings(max_examples=examples(0.5))
@given(st.dictionaries(_NAME, _VALUE, min_size=1, max_size=6))
def test_any_environment_is_kept_or_refused_by_its_names_and_references(
    env: dict[str, str],
) -> None:
    # `$` right before a reference reads as templatestring()'s escape `$${`: not generated.
    assume(not any("$${" in value for value in env.values()))
    lines = "\n".join(f"  {name}: {_quoted(value)}" for name, value in env.items())
    with tempfile.TemporaryDirectory() as tmp:
        workflows, diagnostics = load_and_validate(
            [write_spec(Path(tmp), _spec("environment:\n" + lines))], LAMBDA_SRC
        )
    refused = {
        name
        for name, value in env.items()
        if name.startswith("STEPQUEUE_")
        or name in RESERVED_ENV
        # a complete ${name} that is no reference (an unclosed `${` is literal text)
        or any(n not in REFERENCES for n in re.findall(r"\$\{([^}]*)\}", value))
    }
    errors = [d for d in diagnostics if d.is_error]
    if refused:
        assert workflows is None
        assert {d.path.rsplit(".", 1)[-1] for d in errors} == refused
        return
    assert workflows is not None, [d.format() for d in errors]
    kept = render(workflows)["workflows.tfvars.json"]
    environment = json.loads(kept)["workflows"]["wf"]["workers"]["w"]["environment"]
    # templatestring() of each kept value (references aside) gives back what was written.
    unescaped = {k: v.replace("$${", "${").replace("%%{", "%{") for k, v in environment.items()}
    assert unescaped == env


_ACTION = st.one_of(
    st.from_regex(r"[a-z0-9-]{1,10}:[A-Za-z0-9*?]{1,12}", fullmatch=True),
    st.text(st.sampled_from("*?:ab3-"), min_size=1, max_size=6),
)


@settings(max_examples=examples(0.5))
@given(st.lists(_ACTION, min_size=1, max_size=4))
def test_an_action_is_kept_only_as_service_colon_action_and_never_star(
    actions: list[str],
) -> None:
    quoted = ", ".join(_quoted(a) for a in actions)
    worker = (
        "permissions:\n  statements:\n    - sid: S\n"
        f'      actions: [{quoted}]\n      resources: ["arn:aws:s3:::b/*"]'
    )
    with tempfile.TemporaryDirectory() as tmp:
        workflows, diagnostics = load_and_validate(
            [write_spec(Path(tmp), _spec(worker))], LAMBDA_SRC
        )
    valid = [a for a in actions if re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*?]+", a)]
    assert (workflows is not None) == (len(valid) == len(actions)), [
        d.format() for d in diagnostics
    ]
    if workflows is not None:
        [statement] = workflows[0].workers[0].deployment.statements
        assert list(statement.actions) == list(dict.fromkeys(actions))
        assert all(a.strip("*?") and ":" in a for a in statement.actions)
