"""`stepqueue run --input`: JSON text or @FILE, any JSON value, within Step Functions' limit;
anything else is refused (exit 2) before anything is started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepqueue import cli
from stepqueue.ops.run_command import MAX_INPUT_BYTES, RunInputError, read_input
from tests.support.hypothesis_profiles import examples

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=examples(2))
@given(JSON)
def test_any_json_value_is_passed_as_it_is(value: Any) -> None:
    assert json.loads(read_input(json.dumps(value))) == value


def test_input_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text('{"a": [1, 2]}\n')
    assert read_input(f"@{path}") == '{"a":[1,2]}'


@pytest.mark.parametrize("text", ["{", "nope", "", "[1,]"])
def test_not_json_is_refused_with_the_fix(text: str) -> None:
    with pytest.raises(RunInputError, match=r"not JSON.*@FILE"):
        read_input(text)


def test_too_large_or_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunInputError, match="Step Functions' limit"):
        read_input(json.dumps("x" * MAX_INPUT_BYTES))
    big = tmp_path / "big.json"
    big.write_text(json.dumps("x" * MAX_INPUT_BYTES))
    with pytest.raises(RunInputError, match="Step Functions' limit"):
        read_input(f"@{big}")
    with pytest.raises(RunInputError, match="cannot read it"):
        read_input(f"@{tmp_path / 'missing.json'}")


def test_bad_input_exits_2_before_anything_is_reached(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "orders", "--env", "local", "--input", "{"]) == 2
    err = capsys.readouterr().err
    assert "stepqueue run: error: --input: not JSON" in err and "Traceback" not in err
