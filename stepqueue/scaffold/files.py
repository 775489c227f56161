"""The files `stepqueue init` writes, by path relative to the project (docs/project.md)."""

from __future__ import annotations

from string import Template

CONFIG = """\
# A stepqueue project (docs/project.md): every stepqueue command run in this directory or below
# uses these places. All keys are optional; the values shown are the defaults but handlers.
[project]
workflows = "workflows"   # the workflow specs (*.yaml)
handlers = "src"          # the handler packages the Lambda zip carries
build = "build"           # generated output, zips, plans, local state (not committed)
terraform = "terraform"   # the Terraform root: stepqueue.tf calls the shipped modules

# Defaults of `--stage NAME` (env, backend_config, backend), e.g.:
# [stages.prod]
# env = "aws"
# backend_config = "prod.s3.tfbackend"
"""

SPEC = Template("""\
# One worker behind a semaphore: at most 5 executions of $name run `greet` at once; the others
# wait in the semaphore's waiting room. Input: {"name": "..."} (optional).
name: $name
Comment: Greets whoever the input names, one worker task behind a semaphore.
concurrency:
  limit: 5
workers:
  greet:
    handler: $package.handlers.greet
    timeout_seconds: 30
    memory_mb: 128
    batch_size: 1
    max_concurrency: 2
StartAt: Greet
States:
  Greet:
    Type: Task
    Worker: greet
    End: true
""")

HANDLERS = '''\
"""The handlers of the $name workflow: each takes the task's input and a TaskContext and
returns the task's output (or raises TaskFailed(error=..., cause=...) to fail it)."""

from __future__ import annotations

from typing import Any

from stepqueue_runtime import TaskContext, TaskFailed


def greet(payload: Any, ctx: TaskContext) -> dict[str, str]:
    """{"name": "Ada"} -> {"greeting": "Hello, Ada!"}; no name greets the world. An empty
    name fails the task with the error Hello.NoName (a Catch in the spec could match it)."""
    name = payload.get("name", "world") if isinstance(payload, dict) else "world"
    if not isinstance(name, str) or not name.strip():
        raise TaskFailed(error="Hello.NoName", cause=f"name must be a non-empty string: {name!r}")
    return {"greeting": f"Hello, {name}!"}
'''

TEST = '''\
"""A handler's unit test: stepqueue_runtime.testing runs it through the worker runtime's own
task code, without AWS, and says what the task would have reported."""

from __future__ import annotations

from stepqueue_runtime.testing import run_handler

from $package.handlers import greet


def test_greets_the_name() -> None:
    outcome = run_handler(greet, {"name": "Ada"})
    assert outcome.succeeded
    assert outcome.output == {"greeting": "Hello, Ada!"}


def test_greets_the_world_without_a_name() -> None:
    outcome = run_handler(greet, {})
    assert outcome.succeeded
    assert outcome.output == {"greeting": "Hello, world!"}


def test_an_empty_name_fails_the_task() -> None:
    outcome = run_handler(greet, {"name": ""})
    assert outcome.failed
    assert outcome.error == "Hello.NoName"
'''

PYTEST_INI = """\
[pytest]
pythonpath = src
testpaths = tests
"""

TFVARS = """\
# Settings of the shipped root (stepqueue.tf beside this file lists them all, with their defaults).
# The start queue lets `stepqueue submit` start executions at a bounded rate.
start_queue_enabled = true
"""

GITIGNORE = """\
build/
.terraform/
.terraform.lock.hcl
*.tfstate
*.tfstate.*
*.tfplan
__pycache__/
.pytest_cache/
.venv/
"""

CI = """\
# Validate the specs, test the handlers, and scan the deployment with checkov: the plan made
# against the local emulator is the plan AWS would get (the same root and variables).
name: stepqueue
on: [push, pull_request]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - uses: hashicorp/setup-terraform@v3
        with:
          terraform_wrapper: false
      - run: pip install "stepqueue[local]" pytest checkov
      - run: stepqueue validate
      - run: python -m pytest
      - run: stepqueue emulator --background
      - run: stepqueue plan --env local
      - run: >-
          TF_DATA_DIR=$PWD/build/local-state/default/.terraform
          terraform -chdir=terraform show -json $PWD/build/plans/local-default.tfplan > plan.json
      - run: checkov -f plan.json --framework terraform_plan --skip-download
      - run: stepqueue emulator --stop
        if: always()
"""

README = Template("""\
# $name

A stepqueue project: Step Functions workflows whose tasks are queued to SQS workers.

    stepqueue validate                      # check workflows/*.yaml
    python -m pytest                        # the handlers' tests
    stepqueue emulator --background         # the local AWS emulator and its workers
    stepqueue plan --env local && stepqueue apply --env local
    stepqueue run $name --env local --input '{"name": "Ada"}'
    stepqueue emulator --stop

Deploy to AWS with `stepqueue plan` and `stepqueue apply` (credentials from the environment).
""")


def files(name: str, package: str) -> dict[str, str]:
    """Path -> text of every file of a new project whose workflow is `name`."""
    values = {"name": name, "package": package}
    return {
        "stepqueue.toml": CONFIG,
        f"workflows/{name}.yaml": SPEC.substitute(values),
        f"src/{package}/__init__.py": "",
        f"src/{package}/handlers.py": Template(HANDLERS).substitute(values),
        f"tests/test_{package}.py": Template(TEST).substitute(values),
        "pytest.ini": PYTEST_INI,
        "terraform/terraform.tfvars": TFVARS,
        ".gitignore": GITIGNORE,
        ".github/workflows/stepqueue.yml": CI,
        "README.md": README.substitute(values),
    }
