"""`${name}` references in a worker's environment values and IAM resources (docs/contracts.md).

The spec names what only the deployment knows (the payload bucket, the account, the region, the
name prefix); the Terraform root fills them in with `templatestring()`. So everything else that
template syntax would read must reach the root escaped: an IAM policy variable such as
`${aws:username}` becomes `$${aws:username}`, and a `%{` becomes `%%{`.
"""

from __future__ import annotations

import re

# What the root's `local.worker_references` holds (the contract).
REFERENCES = (
    "account_id",
    "partition",
    "payload_bucket_arn",
    "payload_bucket_name",
    "prefix",
    "region",
)
# Stand-ins with the values' shapes, so a resource's ARN shape is checked before deployment.
_SAMPLES = {
    "account_id": "123456789012",
    "partition": "aws",
    "payload_bucket_arn": "arn:aws:s3:::payload-bucket",
    "payload_bucket_name": "payload-bucket",
    "prefix": "p-",
    "region": "us-east-1",
}
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
# An IAM policy variable (`${aws:username}`, `${s3:prefix}`) or the IAM escapes `${*}`, `${?}`,
# `${$}`: IAM reads them at request time, so they stay literal.
_POLICY_VARIABLE = re.compile(r"^([A-Za-z0-9-]+:[A-Za-z0-9_/.-]+|[*?$])$")


def names(text: str) -> list[str]:
    """The names of every complete `${...}` in `text`."""
    return _REFERENCE.findall(text)


def unknown(text: str, policy_variables: bool) -> list[str]:
    """The `${...}` names in `text` that are neither a reference nor (where IAM reads the
    text) a policy variable."""
    names = _REFERENCE.findall(text)
    return [
        n
        for n in names
        if n not in REFERENCES and not (policy_variables and _POLICY_VARIABLE.match(n))
    ]


_KEPT = re.compile(r"\$\{(?!(" + "|".join(REFERENCES) + r")\})")


def for_root(text: str) -> str:
    """The text as the root's templatestring() must read it: references kept, every other
    `${` (a policy variable, or one never closed) and every `%{` escaped."""
    return _KEPT.sub("$${", text.replace("%{", "%%{"))


def sample(text: str) -> str:
    """The text with each reference replaced by a value of its shape (for shape checks)."""
    return _REFERENCE.sub(lambda m: _SAMPLES.get(m.group(1), m.group(0)), text)


def fix_text() -> str:
    return "use one of " + ", ".join(f"${{{n}}}" for n in REFERENCES)
