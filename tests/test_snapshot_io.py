"""Atomic, strict snapshot file I/O."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from hwprof.core import snapshot_io
from hwprof.core.snapshot_io import SnapshotError, atomic_write_bytes, read_json, write_json


def test_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    for name in ("a.hwprof.json", "a.hwprof.json.gz"):
        path = tmp_path / name
        write_json(path, '{"x": [1, 2.5, null]}')
        assert read_json(path) == {"x": [1, 2.5, None]}
    assert (tmp_path / "a.hwprof.json.gz").read_bytes()[:2] == b"\x1f\x8b"
    # gzip output is deterministic (no timestamp inside)
    first = (tmp_path / "a.hwprof.json.gz").read_bytes()
    write_json(tmp_path / "a.hwprof.json.gz", '{"x": [1, 2.5, null]}')
    assert (tmp_path / "a.hwprof.json.gz").read_bytes() == first


def test_crash_before_rename_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.hwprof.json"
    write_json(path, '{"version": "old"}')

    def crash(tmp_name: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot_io, "_replace", crash)
    with pytest.raises(SnapshotError) as exc:
        write_json(path, '{"version": "new"}')
    assert "No space left on device" in str(exc.value) and str(path) in str(exc.value)
    assert read_json(path) == {"version": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["s.hwprof.json"]  # no temporary file left


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "s.hwprof.json", b"{}")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root can write anywhere")
def test_unwritable_folder(tmp_path: Path) -> None:  # pragma: no cover - not as root
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    with pytest.raises(SnapshotError, match="could not be written"):
        write_json(ro / "s.hwprof.json", "{}")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty"),
        (b"   \n", "is empty (only white space)"),
        (b'{"format": "hwprof.snapshot", "runs": [1, 2', "is truncated"),
        (b"{not json}", "is not valid JSON"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not text"),
        (gzip.compress(b'{"a": 1', mtime=0)[:12], "damaged or truncated gzip"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.hwprof.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError) as exc:
        read_json(path)
    assert problem in str(exc.value)
    assert str(path) in str(exc.value)
    assert path.read_bytes() == content  # nothing written


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="no such file"):
        read_json(tmp_path / "absent.hwprof.json")
    with pytest.raises(SnapshotError, match="is a folder"):
        read_json(tmp_path)
