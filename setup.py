"""The wheel carries the Terraform root and modules deployments use, versioned with the CLI.

They stay where they are in the repository (terraform/, modules/); building the wheel copies
them, and the pins the Lambda zips install from (requirements.txt), into the package as
stepqueue/_shipped/, which stepqueue.paths prefers to the checkout. Everything else is in
pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("terraform", "modules")


def _terraform_file(path: Path) -> bool:
    # The code and its READMEs; never a data dir, a state, a plan or a lock file of a checkout.
    return path.suffix in {".tf", ".tfvars", ".md"} and ".terraform" not in path.parts


class BuildWithTerraform(build_py):
    """build_py, plus the Terraform code and the pins under stepqueue/_shipped/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "stepqueue" / "_shipped"
        shutil.rmtree(target, ignore_errors=True)
        for folder in SHIPPED:
            for source in sorted((HERE / folder).rglob("*")):
                if source.is_file() and _terraform_file(source.relative_to(HERE)):
                    dest = target / source.relative_to(HERE)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, dest)
        shutil.copyfile(HERE / "requirements.txt", target / "requirements.txt")


setup(cmdclass={"build_py": BuildWithTerraform})
