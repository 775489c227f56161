"""Stage 4: one Jinja2 environment for everything the generator writes.

Templates hold the fixed protocol text (the SQS and DynamoDB requests of docs/contracts.md);
every value enters through the `json` filter, so no user text can break the JSON. Fragments
are parsed back into data so the expansion can place them; whole files are dumped with sorted
keys and a trailing newline, which makes the output byte-for-byte deterministic.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2

from generator.vocabulary import JSONATA_FORMS

TEMPLATES = Path(__file__).parent / "templates"
_FRAGMENT_CACHE_MAX = 4096


def to_json(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # JSON, not HTML: the json filter does all quoting
            keep_trailing_newline=True,
            auto_reload=False,  # templates do not change while we run; skip the stat calls
        )
        self.env.filters["json"] = to_json
        self.env.globals["jsonata"] = JSONATA_FORMS
        self._texts: dict[str, str] = {}

    def text(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(**values)

    def fragment(self, template: str, **values: Any) -> Any:
        """The rendered fragment as fresh data (callers may mutate it).

        Memoised on the values: a workflow repeats the same worker task and release fragments
        many times, and json.loads of cached text is far cheaper than rendering again.
        """
        key = template + "\0" + to_json(values)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= _FRAGMENT_CACHE_MAX:
                self._texts.clear()  # bounded: a long-lived process must not grow forever
            text = self._texts[key] = self.text(template, **values)
        return json.loads(text)


@functools.cache
def renderer() -> Renderer:
    """The process-wide environment: templates compile once, fragments are memoised once."""
    return Renderer()
