"""The AWS names a deployment derives from the specs: unique, and within AWS's limits.

Terraform (terraform/main.tf and modules/) names every resource from the prefix, the workflow
and the worker. Two specs can derive the same name (workflow `a-b` worker `dlq` and workflow
`a` worker `b`'s DLQ are both `a-b-dlq`), and a long prefix pushes a name past AWS's limit;
either fails only at apply, half-deployed. Checked here, across every spec generated together.

The prefix is the root's effective prefix, `name_prefix` + (`stage` + "-" when a stage is
set). Names that fit with it but not with the longest stage the root accepts are warnings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from generator.errors import Diagnostic, Severity
from generator.loader import Node
from generator.vocabulary import WORKER_NAME

# terraform/variables.tf: name_prefix ^([a-z][a-z0-9-]{0,19})?$, stage ^([a-z][a-z0-9]{0,9})?$.
PREFIX_PATTERN = r"^([a-z][a-z0-9-]{0,19})?([a-z][a-z0-9]{0,9}-)?$"
LONGEST_STAGE = "abcdefghij-"  # a 10-character stage and its separator
PREFIX_FILE = "<name_prefix>"  # where problems with the prefix itself are reported

# AWS's limits on the names the modules create.
LAMBDA_FUNCTION, IAM_ROLE, SQS_QUEUE, STATE_MACHINE = 64, 64, 80, 80
EVENTS_RULE, ALARM, DYNAMODB_TABLE, LOG_GROUP = 64, 255, 255, 512


@dataclass(frozen=True, slots=True)
class Owner:
    """What a name belongs to, and where it is declared (no file: the deployment itself)."""

    what: str  # "workflow 'orders'", "worker 'enrich' of workflow 'orders'"
    file: str
    node: Node | None
    path: str
    fix: str

    def where(self) -> str:
        if self.node is None:
            return "terraform/main.tf, one per deployment"
        return f"{self.file}:{self.node.line}:{self.node.col}"


@dataclass(frozen=True, slots=True)
class Name:
    owner: Owner
    kind: str  # "IAM role"
    namespace: str  # names must be unique within one namespace
    base: str  # the name without the prefix
    limit: int


def _names(owner: Owner, rows: Iterable[tuple[str, str, str, int]]) -> list[Name]:
    return [Name(owner, kind, ns, base, limit) for kind, ns, base, limit in rows]


def deployment_names() -> list[Name]:
    """One semaphore table and one gatekeeper serve every workflow (terraform/main.tf)."""
    owner = Owner(
        "the semaphore gatekeeper (created once any workflow has concurrency:)",
        "",
        None,
        "",
        "shorten the name prefix",
    )
    fn = "stepqueue-gatekeeper"
    return _names(
        owner,
        [
            ("DynamoDB table", "dynamodb", "stepqueue-semaphores", DYNAMODB_TABLE),
            ("Lambda function", "lambda", fn, LAMBDA_FUNCTION),
            ("IAM role", "iam-role", fn, IAM_ROLE),
            ("log group", "", f"/aws/lambda/{fn}", LOG_GROUP),
        ],
    )


def workflow_names(file: str, workflow: str, node: Node) -> list[Name]:
    """The state machine, its role and its log group (modules/state_machine)."""
    fix = "shorten the workflow name"
    owner = Owner(f"workflow {workflow!r}", file, node, "name", fix)
    return _names(
        owner,
        [
            ("state machine", "state-machine", workflow, STATE_MACHINE),
            ("IAM role", "iam-role", f"{workflow}-sfn", IAM_ROLE),
            ("log group", "", f"/aws/vendedlogs/states/{workflow}", LOG_GROUP),
        ],
    )


def worker_names(file: str, workflow: str, worker: str, node: Node) -> list[Name]:
    """The queue, its DLQ and alarm (modules/queue); the function, role, log group (worker)."""
    base = f"{workflow}-{worker}"
    fix = "shorten the worker or the workflow name"
    owner = Owner(
        f"worker {worker!r} of workflow {workflow!r}", file, node, f"workers.{worker}", fix
    )
    return _names(
        owner,
        [
            ("SQS queue", "sqs", base, SQS_QUEUE),
            ("SQS queue (DLQ)", "sqs", f"{base}-dlq", SQS_QUEUE),
            ("CloudWatch alarm", "", f"{base}-dlq-not-empty", ALARM),
            ("Lambda function", "lambda", base, LAMBDA_FUNCTION),
            ("IAM role", "iam-role", base, IAM_ROLE),
            ("log group", "", f"/aws/lambda/{base}", LOG_GROUP),
        ],
    )


def spec_names(file: str, workflow: str | None, root: Node, workers: Iterable[str]) -> list[Name]:
    """Every name one spec derives; none for a workflow whose name is invalid (reported)."""
    if workflow is None:
        return []
    names = workflow_names(file, workflow, root.get("name") or root)
    section = root.get("workers")
    for worker in workers:
        if section is not None and re.match(WORKER_NAME, worker):
            names += worker_names(file, workflow, worker, section.key_node(worker))
    return names


def check_prefix(name_prefix: str) -> list[Diagnostic]:
    if re.match(PREFIX_PATTERN, name_prefix):
        return []
    return [
        Diagnostic(
            PREFIX_FILE,
            0,
            0,
            "name_prefix",
            f"name prefix {name_prefix!r} is not one the Terraform root can build",
            "pass the root's name_prefix (up to 20 characters of a-z, 0-9 and '-', starting "
            "with a letter), followed by the stage and '-' when a stage is set",
        )
    ]


def check_names(names: list[Name], name_prefix: str) -> list[Diagnostic]:
    """Collisions (errors, each naming both sides) and names over AWS's limits."""
    out: list[Diagnostic] = []
    first: dict[tuple[str, str], Name] = {}
    clashes: dict[tuple[Owner, Owner], list[Name]] = {}
    for name in names:
        if not name.namespace:
            continue  # derived from another name of the same owner: collides with it
        seen = first.setdefault((name.namespace, name.base), name)
        if seen is not name:
            clashes.setdefault((name.owner, seen.owner), []).append(name)
    for (owner, other), shared in clashes.items():
        listed = ", ".join(f"{n.kind} {name_prefix + n.base!r}" for n in shared)
        out.append(
            _at(
                owner,
                f"{owner.what} would get the same AWS names as {other.what} ({other.where()}): "
                f"{listed}",
                f"rename the {'worker' if owner.path.startswith('workers.') else 'workflow'}: "
                "each of these names must be unique in the AWS account and region",
            )
        )
    by_owner: dict[Owner, list[Name]] = {}
    for name in names:
        by_owner.setdefault(name.owner, []).append(name)
    for owner, owned in by_owner.items():
        out += _lengths(owner, owned, name_prefix)
    return out


def _lengths(owner: Owner, owned: list[Name], prefix: str) -> list[Diagnostic]:
    over = [n for n in owned if len(prefix + n.base) > n.limit]
    if over:
        return [
            _at(
                owner,
                f"{owner.what} gets names too long for AWS: {_too_long(over, prefix)}",
                _shorten(owner, prefix, _excess(over, prefix)),
            )
        ]
    if owner.node is None:
        return []  # fixed names: with any prefix the root accepts they fit
    staged = prefix + LONGEST_STAGE
    over = [n for n in owned if len(staged + n.base) > n.limit]
    if not over:
        return []
    excess = _excess(over, staged)
    longest = len(LONGEST_STAGE) - 1 - excess
    stages = f"stages of at most {longest} characters" if longest > 0 else "no stage"
    return [
        _at(
            owner,
            f"{owner.what} gets names too long for AWS when deployed with a stage (up to 10 "
            f"characters, prefix {staged!r}): {_too_long(over, staged)}",
            f"{_shorten(owner, prefix, excess)}; or deploy it with {stages}",
            Severity.WARNING,
        )
    ]


def _excess(over: list[Name], prefix: str) -> int:
    return max(len(prefix + n.base) - n.limit for n in over)


def _too_long(over: list[Name], prefix: str) -> str:
    return "; ".join(
        f"{n.kind} {prefix + n.base!r} has {len(prefix + n.base)} characters, AWS allows {n.limit}"
        for n in over
    )


def _shorten(owner: Owner, prefix: str, excess: int) -> str:
    with_prefix = f" or the name prefix {prefix!r}" if prefix else ""
    return f"{owner.fix}{with_prefix} by at least {excess} characters"


def _at(owner: Owner, message: str, fix: str, severity: Severity = Severity.ERROR) -> Diagnostic:
    if owner.node is None:
        return Diagnostic(PREFIX_FILE, 0, 0, "name_prefix", message, fix, severity)
    return Diagnostic(
        owner.file, owner.node.line, owner.node.col, owner.path, message, fix, severity
    )
