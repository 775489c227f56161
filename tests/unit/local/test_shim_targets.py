"""The moto targets the shims of stepqueue/local/shims.py declare, checked in this process
without patching moto: each one fits the installed moto, and one that does not — or a moto of
another release — stops the emulator with a message naming the shim and the release."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable
from pathlib import Path

import moto
import pytest

from stepqueue.local import emulator, shims
from stepqueue.local.shims import MOTO_VERSION, Shim, ShimError, Target, target_problem
from stepqueue.paths import REPO

ALL_SHIMS = shims.SHIMS + shims.ATOMIC_DYNAMODB_SHIMS
SFN = "moto.stepfunctions.parser"


def test_every_target_of_every_shim_fits_the_installed_moto() -> None:
    assert shims.shim_problems(ALL_SHIMS) == []


def test_every_shim_declares_its_moto_targets() -> None:
    names = [one.name for one in ALL_SHIMS]
    assert len(set(names)) == len(names) == 14
    for one in ALL_SHIMS:
        assert one.targets, one.name
        assert all(target.module.startswith("moto.") for target in one.targets), one.name


def test_the_pinned_moto_is_the_one_the_shims_fit() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    requirements = (REPO / "requirements.txt").read_text()
    assert re.findall(r'"moto\[server\]==([^"]+)"', pyproject) == [MOTO_VERSION]
    assert re.findall(r"(?m)^moto==(\S+)$", requirements) == [MOTO_VERSION]
    assert moto.__version__ == MOTO_VERSION


def test_a_missing_target_names_its_shim_and_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs.models import Queue

    monkeypatch.delattr(Queue, "approximate_number_of_messages")
    with pytest.raises(ShimError) as raised:
        shims.check_shims(ALL_SHIMS)
    message = str(raised.value)
    assert f"do not fit moto {MOTO_VERSION}" in message
    assert (
        "shim sqs.CountsOnlyWhenAsked: moto.sqs.models.Queue.approximate_number_of_messages "
        "does not exist; the shim wraps it"
    ) in message
    assert message.count("\n  - ") == 1  # only the shim whose target went
    assert "nothing was patched" in message


def _add_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    monkeypatch.setattr(
        StepFunctionResponse,
        "validate_state_machine_definition",
        lambda self: None,
        raising=False,
    )


def _reroute_stepfunctions(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.urls import url_paths

    monkeypatch.setitem(url_paths, "{0}/$", lambda *args: None)


def _drop_hash_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic import jsonata

    monkeypatch.delitem(jsonata._DECLARATION_BY_VARIABLE_REFERENCE, "$hash")


def _return_redrive_allow_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs.models import Queue

    monkeypatch.setattr(Queue, "BASE_ATTRIBUTES", [*Queue.BASE_ATTRIBUTES, "RedriveAllowPolicy"])


def _attributes_a_method(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.sqs.models import Queue

    monkeypatch.setattr(Queue, "attributes", lambda self: {})


def _change_client_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.asl.utils import boto_client

    def boto_client_for(region: str, service: str, credentials: object, retries: int) -> None:
        return None

    monkeypatch.setattr(boto_client, "boto_client_for", boto_client_for)


def _transactions_without_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: object, transact_items: list[object]) -> None:
        return None

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)


def _import_backend_names_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import backends
    from moto.moto_server import werkzeug_app

    monkeypatch.setattr(
        werkzeug_app, "list_of_moto_modules", backends.list_of_moto_modules, raising=False
    )


def _drop_json_path_module(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, f"{SFN}.asl.utils.json_path", None)


# How moto could change under each kind of target, the shim that then does not fit, and what its
# message must say.
CHANGES: list[tuple[Callable[[pytest.MonkeyPatch], None], str, str]] = [
    (
        _add_validate,
        "stepfunctions.ValidateStateMachineDefinition",
        "StepFunctionResponse.validate_state_machine_definition already exists: moto may have "
        "closed the gap",
    ),
    (
        _reroute_stepfunctions,
        "stepfunctions.ListStateMachineVersions",
        "moto.stepfunctions.urls.url_paths routes no request to StepFunctionResponse",
    ),
    (
        _drop_hash_declaration,
        "stepfunctions.JSONataEvaluation",
        "_DECLARATION_BY_VARIABLE_REFERENCE has no '$hash', which the shim removes",
    ),
    (
        _return_redrive_allow_policy,
        "sqs.RedriveAttributes",
        "Queue.BASE_ATTRIBUTES already holds 'RedriveAllowPolicy': moto may have closed the gap",
    ),
    (
        _attributes_a_method,
        "sqs.RedriveAttributes",
        "Queue.attributes is no longer a property defined on its class",
    ),
    (
        _change_client_signature,
        "stepfunctions.InProcessServiceClients",
        "boto_client_for takes (region, service, credentials, retries); the shim was written for "
        "(region, service, state_credentials)",
    ),
    (
        _transactions_without_backup,
        "dynamodb.TransactionsBackUpTouchedItems",
        "DynamoDBBackend.transact_write_items no longer reads deepcopy, which the shim hooks into",
    ),
    (
        _import_backend_names_by_name,
        "server.BackendNamesListedOnce",
        "moto.backends.list_of_moto_modules is imported by name into "
        "moto.moto_server.werkzeug_app, which rebinding it here would not reach",
    ),
    (
        _drop_json_path_module,
        "stepfunctions.JsonPathCache",
        f"{SFN}.asl.utils.json_path.parse cannot be reached",
    ),
]


@pytest.mark.parametrize(
    ("change", "shim_name", "expected"), CHANGES, ids=[c[0].__name__.strip("_") for c in CHANGES]
)
def test_a_patch_that_would_match_nothing_names_its_shim(
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[pytest.MonkeyPatch], None],
    shim_name: str,
    expected: str,
) -> None:
    change(monkeypatch)
    problems = shims.shim_problems(ALL_SHIMS)
    assert [p for p in problems if expected in p and p.startswith(f"shim {shim_name}: ")], problems


def test_a_rebound_global_that_no_code_reads() -> None:
    # execution_worker imports typing.Final for annotations only: rebinding it reaches no call.
    unread = Target(f"{SFN}.backend.execution_worker", "Final", "rebinds")
    assert target_problem(unread) == (
        f"is read by no code in {SFN}.backend.execution_worker: rebinding it would change nothing"
    )
    read = Target(f"{SFN}.backend.execution_worker", "ExecutionData", "rebinds")
    assert target_problem(read) is None


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **names: object) -> None:
    module = types.ModuleType(name)
    vars(module).update(names)
    monkeypatch.setitem(sys.modules, name, module)


def test_a_rebinding_that_reaches_no_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    def helper() -> None:
        return None

    helper.__module__ = "stepqueue_fake_definer"
    _fake_module(monkeypatch, "stepqueue_fake_definer", helper=helper)
    with pytest.raises(ShimError) as raised:
        shims._rebind_everywhere("fake.Shim", "helper", helper, lambda: None)
    assert str(raised.value) == (
        f"shim fake.Shim does not fit moto {MOTO_VERSION}: rebinding "
        "stepqueue_fake_definer.helper matched nothing (no loaded module imports it)"
    )

    _fake_module(monkeypatch, "stepqueue_fake_caller", helper=helper)
    rebound = shims._rebind_everywhere("fake.Shim", "helper", helper, print)
    assert sorted(rebound) == ["stepqueue_fake_caller", "stepqueue_fake_definer"]
    assert sys.modules["stepqueue_fake_caller"].helper is print


def test_apply_shims_patches_nothing_when_one_does_not_fit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patched: list[str] = []
    fits = Shim("fake.Fits", lambda: patched.append("fits"), (Target("moto", "__version__"),))
    broken = Shim(
        "fake.Broken",
        lambda: patched.append("broken"),
        (Target("moto.sqs.models", "Queue.no_such_attribute", "uses"),),
    )
    monkeypatch.setattr(shims, "SHIMS", (fits, broken))
    with pytest.raises(ShimError) as raised:
        shims.apply_shims(atomic_dynamodb=False)
    assert (
        "shim fake.Broken: moto.sqs.models.Queue.no_such_attribute does not exist; "
        "the shim relies on it"
    ) in str(raised.value)
    assert "fake.Fits" not in str(raised.value)
    assert patched == []  # the shim that fits was not applied either


def test_another_moto_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(ShimError) as raised:
        shims.apply_shims(atomic_dynamodb=True)
    message = str(raised.value)
    assert message.startswith(
        "moto 9.9.9 is installed, but the emulator's shims (stepqueue/local/shims.py) were "
        f"written and checked for moto {MOTO_VERSION}."
    )
    assert "pip install -r requirements.txt" in message
    assert 'set MOTO_VERSION in stepqueue/local/shims.py to "9.9.9"' in message
    assert not hasattr(StepFunctionResponse, "validate_state_machine_definition")


def test_the_server_refuses_another_release_in_one_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The child side of Emulator.start(): the explanation alone on stderr (its log), no
    traceback, and the exit status that tells the parent to pass it on as is."""
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    port_file = tmp_path / "port"
    status = emulator.main(["--port-file", str(port_file), "--watch-parent"], prog="emulator")
    err = capsys.readouterr().err
    assert status == emulator.EXIT_SHIMS_DO_NOT_FIT
    assert err.startswith("emulator: cannot start: moto 9.9.9 is installed, but ")
    assert "Traceback" not in err
    assert not port_file.exists()
    # Run by a user (`stepqueue emulator`): the same message, and the convention's exit 1.
    assert emulator.main(["--port-file", str(port_file)], prog="emulator") == 1
    err = capsys.readouterr().err
    assert err.startswith("emulator: cannot start: moto 9.9.9 is installed, but ")
