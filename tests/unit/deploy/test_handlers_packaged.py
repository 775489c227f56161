"""What the generator's handler check accepts and what the Lambda zip holds agree by
construction: a handler anywhere in lambda_src validates and is packaged; what is not packaged
(hidden folders, caches) cannot be named by a handler."""

from __future__ import annotations

import shutil
import textwrap
import zipfile
from pathlib import Path

import pytest

from generator.api import load_and_validate
from generator.handlers import check_handler, packaged_files
from stepqueue.deploy.artifacts import build_lambda_zip
from stepqueue.paths import LAMBDA_SRC


@pytest.fixture
def user_tree(tmp_path: Path) -> Path:
    """The project's lambda_src plus a user's own modules outside examples/."""
    tree = tmp_path / "lambda_src"
    shutil.copytree(LAMBDA_SRC, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "billing.py").write_text("def charge(payload, ctx):\n    return payload\n")
    (tree / "payments" / "cards").mkdir(parents=True)
    (tree / "payments" / "__init__.py").write_text("")
    (tree / "payments" / "cards" / "__init__.py").write_text("")
    (tree / "payments" / "cards" / "visa.py").write_text("def settle(payload, ctx): ...\n")
    (tree / "payments" / "rates.json").write_text('{"eur": 1}\n')  # data a handler reads
    (tree / ".venv" / "lib").mkdir(parents=True)
    (tree / ".venv" / "lib" / "hidden.py").write_text("def h(payload, ctx): ...\n")
    return tree


def test_user_handlers_validate_and_are_in_the_zip(user_tree: Path, tmp_path: Path) -> None:
    spec = tmp_path / "billing.yaml"
    spec.write_text(
        textwrap.dedent(
            """\
            name: billing
            workers:
              charge: {handler: billing.charge, timeout_seconds: 30}
              settle: {handler: payments.cards.visa.settle, timeout_seconds: 30}
            StartAt: Charge
            States:
              Charge: {Type: Task, Worker: charge, Next: Settle}
              Settle: {Type: Task, Worker: settle, End: true}
            """
        )
    )
    workflows, diagnostics = load_and_validate([spec], lambda_src=user_tree)
    assert workflows is not None, [d.format() for d in diagnostics]

    with zipfile.ZipFile(build_lambda_zip(tmp_path / "out", user_tree)) as zf:
        names = set(zf.namelist())
    for packaged in ("billing.py", "payments/cards/visa.py", "payments/rates.json"):
        assert packaged in names
    assert "stepqueue_runtime/entry.py" in names and "aws_lambda_powertools/__init__.py" in names
    assert not [n for n in names if n.startswith(".venv/") or "__pycache__" in n]


def test_every_accepted_handler_file_is_packaged(user_tree: Path) -> None:
    packaged = packaged_files(user_tree)
    candidates = [
        "billing.charge",
        "payments.cards.visa.settle",
        "examples.orders.enrich",
        "stepqueue_runtime.entry.handler",
    ]
    for handler in candidates:
        assert check_handler(user_tree, handler) is None, handler
        module = handler.rpartition(".")[0].replace(".", "/")
        assert f"{module}.py" in packaged or f"{module}/__init__.py" in packaged, handler
    assert "payments/rates.json" in packaged
    assert not [name for name in packaged if name.startswith(".venv/")]
    # A module under a hidden folder cannot be named: it is not a dotted identifier path,
    # and it is not packaged either.
    assert check_handler(user_tree, ".venv.lib.hidden.h") is not None


def test_tests_beside_the_handlers_stay_out_of_the_zip(user_tree: Path) -> None:
    """lambda_src/examples/tests (and a team's own) run on a developer's machine only."""
    (user_tree / "payments" / "tests").mkdir()
    (user_tree / "payments" / "tests" / "test_visa.py").write_text("def test(): ...\n")
    (user_tree / "payments" / "conftest.py").write_text("")
    packaged = packaged_files(user_tree)
    assert (user_tree / "examples" / "tests" / "test_orders.py").is_file()
    assert not [n for n in packaged if "/tests/" in n or n.endswith("conftest.py")]
    assert "examples/orders.py" in packaged and "payments/cards/visa.py" in packaged
    assert check_handler(user_tree, "payments.tests.test_visa.test") is not None
