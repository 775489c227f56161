"""Hostile YAML ends in a located error, fast: no hang, no unbounded growth, no crash.

Each case runs `python -m generator validate FILE` in a child process and measures the child's
CPU time (not wall time: the machine is shared).
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.loader import MAX_DEPTH, MAX_SPEC_BYTES, load_text, to_plain
from tests.unit.generator.helpers import REPO

LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: ", re.MULTILINE)


def _alias_bomb(path: Path) -> None:
    path.write_text("a: &x [*x, *x]\n", encoding="utf-8")


def _billion_laughs(path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _alias_chain_depth(path: Path) -> None:
    # Each alias adds 150 levels: shallow in the text, far too deep once expanded.
    lines = [f"a0: &a0 {'[' * 150}{']' * 150}"]
    lines += [f"a{i}: &a{i} {'[' * 150}*a{i - 1}{']' * 150}" for i in range(1, 20)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _deep_flow(path: Path) -> None:
    path.write_text("[" * 100_000, encoding="utf-8")  # segfaulted PyYAML's composer


def _deep_block(path: Path) -> None:
    path.write_text("- " * 100_000 + "x\n", encoding="utf-8")


def _fifty_megabytes(path: Path) -> None:
    line = "# " + "x" * 1021 + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("name: big\n")
        for _ in range(50 * 1024):
            handle.write(line)


def _many_values(path: Path) -> None:
    path.write_text("[" + "0, " * 900_000 + "0]\n", encoding="utf-8")  # under the byte limit


HOSTILE: dict[str, Callable[[Path], None]] = {
    "alias_bomb": _alias_bomb,
    "billion_laughs": _billion_laughs,
    "alias_chain_depth": _alias_chain_depth,
    "deep_flow_100k": _deep_flow,
    "deep_block_100k": _deep_block,
    "fifty_megabytes": _fifty_megabytes,
    "many_values": _many_values,
}


def _validate_cpu(spec: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "generator", "validate", str(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, cpu


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_yaml_is_a_located_error_within_a_second(case: str, tmp_path: Path) -> None:
    spec = tmp_path / f"{case}.yaml"
    HOSTILE[case](spec)
    result, cpu = _validate_cpu(spec)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    match = LOCATED.search(result.stderr)
    assert match is not None and match["file"] == str(spec), result.stderr[:2000]
    assert cpu < 1.0, f"{case}: {cpu:.2f} s of CPU"


def test_recursive_alias_points_at_the_alias() -> None:
    root, [d] = load_text("a: &x [1, *x]\n", "f.yaml")
    assert root is None
    assert (d.line, d.col, d.path) == (1, 11, "a[1]")
    assert "alias *x is used inside the value it refers to" in d.message


def test_nesting_limit_is_located_at_the_first_level_too_deep() -> None:
    root, [d] = load_text("[" * (MAX_DEPTH + 50), "f.yaml")
    assert root is None and (d.line, d.col) == (1, MAX_DEPTH + 1)
    assert len(d.path) < 100, "the path of a deep value is shortened"
    root, diags = load_text("[" * MAX_DEPTH + "]" * MAX_DEPTH, "f.yaml")
    assert root is not None and diags == []


def test_size_limit_is_located_where_it_is_crossed(tmp_path: Path) -> None:
    from generator.loader import load_file

    spec = tmp_path / "big.yaml"
    spec.write_text("a: 1\n" + "#" * MAX_SPEC_BYTES, encoding="utf-8")
    root, [d] = load_file(spec)
    assert root is None and (d.line, d.col) == (2, MAX_SPEC_BYTES - 5 + 1)
    assert "larger than" in d.message and d.fix


def test_aliases_still_work_and_share_their_value() -> None:
    text = "retry: &r [{ErrorEquals: [States.ALL], MaxAttempts: 2}]\na: *r\nb: *r\n&k key: *r\n"
    root, diags = load_text(text, "f.yaml")
    assert diags == [] and root is not None
    plain = to_plain(root)
    assert (
        plain["a"]
        == plain["b"]
        == plain["key"]
        == [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]
    )
    assert root.mapping["a"] is root.mapping["b"]  # shared, not copied


def test_an_alias_can_be_a_key_and_keeps_its_text() -> None:
    root, diags = load_text("x: &k 01\n*k : y\n", "f.yaml")
    assert diags == [] and root is not None
    assert to_plain(root) == {"x": 1, "01": "y"}


def test_undefined_alias_and_second_document_are_located() -> None:
    _, [d] = load_text("a: *nope\n", "f.yaml")
    assert (d.line, d.col) == (1, 4) and "undefined alias" in d.message
    _, [d] = load_text("a: 1\n---\nb: 2\n", "f.yaml")
    assert d.line == 2 and "single document" in d.message


def test_scalars_convert_as_yaml_does() -> None:
    text = "a: 012\nb: 0x1F\nc: 1_000\nd: -3\ne: 2.5\nf: yes\ng: ~\nh: '7'\ni: !!str 8\n"
    root, diags = load_text(text, "f.yaml")
    assert diags == [] and root is not None
    assert to_plain(root) == {
        "a": 10,
        "b": 31,
        "c": 1000,
        "d": -3,
        "e": 2.5,
        "f": True,
        "g": None,
        "h": "7",
        "i": "8",
    }
