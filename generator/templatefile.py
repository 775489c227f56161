"""Python twin of Terraform's `templatefile()` for the placeholders the ASL uses.

Scans left to right like Terraform: `$${` and `%%{` are escapes for a literal `${` / `%{`,
`${name}` is substituted, and anything else is copied. Tests and benches use it to turn a
generated template into the definition Step Functions receives.
"""

from __future__ import annotations

import re

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def render_definition(
    template_text: str,
    queue_urls: dict[str, str],
    semaphore_table: str = "",
    gatekeeper_queue_url: str = "",
    arrivals_queue_url: str = "",
) -> str:
    """The definition Terraform's templatefile() renders from `template_text`.

    `semaphore_table` substitutes nothing: only the retired polling acquire named the table
    (`${semaphore_table}`, now an unknown placeholder here as in terraform/main.tf). The
    parameter stays so that callers passing the gatekeeper's URL fourth keep working.
    `gatekeeper_queue_url` is the control queue (releases), `arrivals_queue_url` the
    workflow's semaphore's arrivals queue (acquires)."""
    del semaphore_table
    out: list[str] = []
    i = 0
    n = len(template_text)
    while i < n:
        dollar = template_text.find("$", i)
        percent = template_text.find("%", i)
        hits = [p for p in (dollar, percent) if p >= 0]
        if not hits:
            out.append(template_text[i:])
            break
        j = min(hits)
        out.append(template_text[i:j])
        if template_text.startswith("$${", j):
            out.append("${")
            i = j + 3
        elif template_text.startswith("%%{", j):
            out.append("%{")
            i = j + 3
        elif template_text.startswith("${", j):
            match = _PLACEHOLDER.match(template_text, j)
            if match is None:
                raise ValueError(f"unterminated placeholder at offset {j}")
            name = match.group(1).strip()
            if name == "gatekeeper_queue_url":
                out.append(gatekeeper_queue_url)
            elif name == "arrivals_queue_url":
                out.append(arrivals_queue_url)
            else:
                out.append(_substitute(name, queue_urls))
            i = match.end()
        elif template_text.startswith("%{", j):
            raise ValueError(f"template directive at offset {j}: the generator never emits one")
        else:
            out.append(template_text[j])
            i = j + 1
    return "".join(out)


def _substitute(name: str, queue_urls: dict[str, str]) -> str:
    if name.startswith("queue_url."):
        worker = name.removeprefix("queue_url.")
        if worker not in queue_urls:
            raise KeyError(f"no queue URL for worker {worker!r}")
        return queue_urls[worker]
    raise KeyError(f"unknown placeholder ${{{name}}}")
