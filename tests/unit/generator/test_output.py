"""`generate --out DIR` never deletes what the generator did not write.

The directory is replaced as a whole, so only an absent or empty directory, or one holding
exactly a previous output (its marker lists every file), may be replaced; anything else is
refused before anything is written, with exit 2 and a message naming the directory and the fix.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.errors import GeneratorError
from generator.output import MARKER, OutputRefused, write_tree
from tests.unit.generator.helpers import REPO, WORKFLOWS, run_cli

FILES = {"asl/a.asl.json": "{}\n", "workflows.tfvars.json": "{}\n"}


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_out_dot_in_a_folder_with_the_spec_deletes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "orders.yaml"
    shutil.copy(REPO / "workflows" / "burst.yaml", spec)
    (tmp_path / "notes.txt").write_text("mine")
    before = _tree(tmp_path)
    result = run_cli("generate", "orders.yaml", "--out", ".", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "output directory is the current directory" in result.stderr
    assert "--out build/generated" in result.stderr  # how to proceed
    assert _tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "orders.yaml"]


def test_a_non_empty_directory_it_did_not_create_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "somewhere"
    out.mkdir()
    (out / "spec.yaml").write_text("name: x\n")
    (out / "keep").mkdir()
    result = run_cli("generate", *map(str, WORKFLOWS), "--out", str(out))
    assert result.returncode == 2, result.stderr
    line = next(x for x in result.stderr.splitlines() if "error:" in x)
    assert line.startswith(f"{out}: error: output directory is not empty (keep/, spec.yaml)")
    assert f"remove {out} yourself" in line and "Traceback" not in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep", "spec.yaml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["somewhere"]  # no temp dirs left


def test_its_own_output_is_replaced_atomically(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree({**FILES, "asl/old.asl.json": "{}\n"}, out)
    assert (out / MARKER).read_text().splitlines()[1:] == [
        "asl/a.asl.json",
        "asl/old.asl.json",
        "workflows.tfvars.json",
    ]
    (out / "workflows.tfvars.json").write_text("edited by hand")  # still the generator's file
    write_tree(FILES, out)
    assert sorted(_tree(out)) == sorted([*FILES, MARKER])  # old.asl.json went with the rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_an_extra_file_in_its_own_output_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree(FILES, out)
    (out / "asl" / "notes.md").write_text("mine")
    before = _tree(out)
    with pytest.raises(OutputRefused) as info:
        write_tree(FILES, out)
    assert isinstance(info.value, GeneratorError)  # callers report it like invalid specs
    [d] = info.value.diagnostics
    assert d.file == str(out) and d.path == "--out" and "asl/notes.md" in d.message and d.fix
    assert d.format().startswith(f"{out}: error: output directory holds files the generator")
    assert _tree(out) == before


def test_output_written_before_the_marker_is_still_its_own(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    (out / "asl").mkdir(parents=True)
    (out / "asl" / "stale.asl.json").write_text("{}")
    (out / "workflows.tfvars.json").write_text("{}")
    write_tree(FILES, out)
    assert sorted(_tree(out)) == sorted([*FILES, MARKER])


def test_absent_or_empty_directories_are_fine_and_files_are_refused(tmp_path: Path) -> None:
    write_tree(FILES, tmp_path / "new" / "deeper")
    empty = tmp_path / "empty"
    empty.mkdir()
    write_tree(FILES, empty)
    assert sorted(_tree(empty)) == sorted([*FILES, MARKER])
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    with pytest.raises(OutputRefused, match="exists but is not a directory"):
        write_tree(FILES, a_file)
    assert a_file.read_text() == "mine"


def test_a_forged_or_foreign_marker_proves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text("not ours\nspec.yaml\n")
    (out / "spec.yaml").write_text("name: x\n")
    with pytest.raises(OutputRefused, match="is not empty"):
        write_tree(FILES, out)
    assert (out / "spec.yaml").exists()


def test_parent_of_the_current_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    with pytest.raises(OutputRefused, match="current directory or holds it"):
        write_tree(FILES, Path(".."))
    assert inner.is_dir()
