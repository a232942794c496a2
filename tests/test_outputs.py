"""The output-path guard: never over an input, an existing file unasked, or through a bad link."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwprof.core.outputs import OutputPathError, check_output, check_output_folder


def test_a_new_file_in_an_existing_folder_is_fine(tmp_path: Path) -> None:
    assert check_output(tmp_path / "new.html") == tmp_path / "new.html"


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output(tmp_path / "nodir" / "x.png", flag="--png")


def test_an_existing_file_needs_force(tmp_path: Path) -> None:
    f = tmp_path / "keep.hwprof.json"
    f.write_text("{}")
    with pytest.raises(OutputPathError, match="--force"):
        check_output(f)
    assert check_output(f, force=True) == f
    assert f.read_text() == "{}"  # checking writes nothing


def test_an_input_is_refused_even_with_force(tmp_path: Path) -> None:
    f = tmp_path / "a.hwprof.json"
    f.write_text("{}")
    other = tmp_path / "sub" / ".." / "a.hwprof.json"
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputPathError, match="input"):
        check_output(other, inputs=[f], force=True, flag="--html")


def test_a_link_is_written_through_and_a_link_to_an_input_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.hwprof.json"
    real.write_text("{}")
    link = tmp_path / "link.hwprof.json"
    link.symlink_to(real)
    assert check_output(link, force=True) == real
    with pytest.raises(OutputPathError, match="input"):
        check_output(link, inputs=[real], force=True)


def test_dangling_links_and_loops_are_refused(tmp_path: Path) -> None:
    dangling = tmp_path / "d.hwprof.json"
    dangling.symlink_to(tmp_path / "gone.hwprof.json")
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output(dangling)
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OutputPathError, match=r"loop|cannot be followed"):
        check_output(a)


def test_a_folder_or_a_device_is_never_overwritten(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="folder"):
        check_output(tmp_path, force=True)
    if os.path.exists("/dev/null"):
        with pytest.raises(OutputPathError, match="regular"):
            check_output("/dev/null", force=True)


def test_an_output_folder_checks_each_file(tmp_path: Path) -> None:
    out = tmp_path / "csv"
    assert check_output_folder(out, ["runs.csv"]) == out  # made later by the writer
    out.mkdir()
    (out / "runs.csv").write_text("x")
    with pytest.raises(OutputPathError, match="--force"):
        check_output_folder(out, ["runs.csv", "steps.csv"], flag="--csv")
    check_output_folder(out, ["runs.csv"], force=True)
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_folder(f, ["runs.csv"])
