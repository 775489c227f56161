from __future__ import annotations

from pathlib import Path

from generator.loader import load_file, load_text, to_plain


def test_positions_are_one_based_for_keys_and_values() -> None:
    root, diags = load_text("name: x\nStates:\n  A:\n    Type: Pass\n", "f.yaml")
    assert diags == [] and root is not None
    states = root.mapping["States"]
    assert (states.key_node("A").line, states.key_node("A").col) == (3, 3)
    type_node = states.mapping["A"].mapping["Type"]
    assert (type_node.line, type_node.col) == (4, 11)


def test_duplicate_keys_are_errors_with_both_positions() -> None:
    _, diags = load_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    [d] = diags
    assert (d.line, d.col, d.path) == (3, 1, "a")
    assert "first defined at line 1, column 1" in d.message


def test_keys_stay_text_and_timestamps_stay_strings() -> None:
    root, diags = load_text("No: 2026-01-01\nYes: on\n1: 1.5\nn: null\n", "f.yaml")
    assert diags == [] and root is not None
    assert to_plain(root) == {"No": "2026-01-01", "Yes": True, "1": 1.5, "n": None}


def test_yaml_errors_have_positions() -> None:
    root, [d] = load_text("a: [1, 2\nb: 3\n", "f.yaml")
    assert root is None and d.line >= 1 and d.col >= 1 and "invalid YAML" in d.message


def test_custom_tags_and_nan_are_rejected() -> None:
    _, diags = load_text("a: !Ref x\nb: .nan\n", "f.yaml")
    assert [d.path for d in diags] == ["a", "b"]


def test_recursive_alias_does_not_hang() -> None:
    root, diags = load_text("a: &x [*x]\n", "f.yaml")
    assert root is None or diags


def test_unreadable_and_non_utf8_files_are_diagnostics(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    _, [d] = load_file(latin)
    assert "not UTF-8" in d.message
    _, [d] = load_file(tmp_path)  # a directory cannot be read as a spec
    assert "cannot read the spec" in d.message
