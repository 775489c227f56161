"""stepqueue generator: workflow specs in, ASL templates and Terraform inputs out.

Kept import-light on purpose (`--help` must stay fast): heavy modules load inside commands.
"""

from generator.templatefile import render_definition

__all__ = ["render_definition"]
