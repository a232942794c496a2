"""Files that are not what they say: gzip bombs, pipes, devices, cut-off JSON, huge texts."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest
from snapshot_helpers import REPO, hwprof, saved

from hwprof.core.snapshot import load_snapshot
from hwprof.core.snapshot_io import MAX_TEXT_BYTES, SnapshotError, looks_truncated, read_text

BOMB_MIB = MAX_TEXT_BYTES // 2**20 + 88  # a little over the cap: 600 MiB of zeros, ~600 KB


def one_member_bomb(path: Path) -> Path:
    """One gzip member of BOMB_MIB MiB of zeros, made a MiB at a time (never held in memory)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    with path.open("wb") as fh:
        for _ in range(BOMB_MIB):
            fh.write(c.compress(zeros))
        fh.write(c.flush())
    return path


def many_member_bomb(path: Path) -> Path:
    """BOMB_MIB gzip members of 1 MiB of spaces each: the last member says only "1 MiB"."""
    path.write_bytes(gzip.compress(b" " * 2**20, compresslevel=9, mtime=0) * BOMB_MIB)
    return path


# Loads a file in a fresh process and says what it cost: the error, seconds, peak memory in MiB.
PROBE = textwrap.dedent("""
    import json, resource, sys, time
    from hwprof.core.snapshot import load_snapshot
    from hwprof.core.snapshot_io import SnapshotError
    t0 = time.monotonic()
    try:
        load_snapshot(sys.argv[1])
        error = None
    except SnapshotError as err:
        error = str(err)
    seconds = time.monotonic() - t0
    try:  # this process's own high-water mark: ru_maxrss on Linux keeps the parent's across exec
        status = open("/proc/self/status").read()
        peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
    except (OSError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        if sys.platform == "darwin":
            peak /= 1024  # bytes on macOS
    print(json.dumps({"error": error, "seconds": seconds, "peak_mib": peak}))
""")


def probe(path: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.skipif(sys.platform == "win32", reason="measures memory with the resource module")
@pytest.mark.parametrize(("make", "peak_limit_mib"), [
    (one_member_bomb, 300),  # inflated without keeping anything, refused at the cap
    (many_member_bomb, 300),  # the same, though each member's trailer says only "1 MiB"
])
def test_a_gzip_bomb_is_refused_quickly_in_bounded_memory(
    tmp_path: Path, make: object, peak_limit_mib: int
) -> None:
    bomb = make(tmp_path / "bomb.hwprof.json.gz")  # type: ignore[operator]
    assert bomb.stat().st_size < 2 * 2**20
    cost = probe(bomb)
    assert cost["error"] == (f"{bomb}: decompresses to more than {MAX_TEXT_BYTES // 2**20} MiB, "
                             "more than any snapshot holds: not a snapshot (a decompression "
                             "bomb?)")
    # before: the whole text inflated, decoded and scanned a character at a time (~20 s, >1 GB)
    assert cost["seconds"] < 10  # type: ignore[operator]
    assert cost["peak_mib"] < peak_limit_mib  # type: ignore[operator]


def test_listing_a_folder_with_a_bomb_is_quick(tmp_path: Path) -> None:
    one_member_bomb(tmp_path / "bomb.hwprof.json.gz")
    many_member_bomb(tmp_path / "bomb2.hwprof.json.gz")
    saved(tmp_path / "good.hwprof.json", 2)
    t0 = time.monotonic()
    done = hwprof("snapshots", str(tmp_path), "--json", timeout=120)
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(done.stdout)}
    assert rows["good.hwprof.json"]["runs"] == 2
    assert "decompression bomb" in rows["bomb.hwprof.json.gz"]["error"]
    assert "decompression bomb" in rows["bomb2.hwprof.json.gz"]["error"]
    assert took < 30  # before: about 48 s for one bomb


def test_an_honest_gzip_snapshot_and_concatenated_members_still_load(tmp_path: Path) -> None:
    good = saved(tmp_path / "good.hwprof.json.gz", 3)
    assert len(load_snapshot(good).runs) == 3
    text = read_text(good)
    two = tmp_path / "two.hwprof.json.gz"  # `cat a.gz b.gz` is one gzip file to gzip
    half = len(text) // 2
    two.write_bytes(gzip.compress(text[:half].encode()) + gzip.compress(text[half:].encode())
                    + b"\0" * 8)
    assert load_snapshot(two) == load_snapshot(good)
    damaged = tmp_path / "damaged.hwprof.json.gz"
    damaged.write_bytes(good.read_bytes()[:-10])  # the trailer is cut: its last bytes are noise
    with pytest.raises(SnapshotError, match="damaged or truncated gzip"):
        load_snapshot(damaged)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "x.hwprof.json"
    os.mkfifo(fifo)
    good = saved(tmp_path / "good.hwprof.json", 1)
    for args in (("report", str(fifo), "--html", str(tmp_path / "r.html")),
                 ("compare", str(good), str(fifo))):
        done = hwprof(*args, timeout=60)  # before: waited forever for a writer
        assert done.returncode == 2
        assert f"{fifo}: is a named pipe, not a snapshot file" in done.stderr
    with pytest.raises(SnapshotError, match="named pipe"):
        load_snapshot(fifo)
    listed = hwprof("snapshots", str(tmp_path), "--json", timeout=60)
    assert [Path(r["path"]).name for r in json.loads(listed.stdout)] == ["good.hwprof.json"]
    assert not (tmp_path / "r.html").exists()


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_link_to_a_device_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.hwprof.json"
    link.symlink_to("/dev/zero")
    t0 = time.monotonic()
    with pytest.raises(SnapshotError, match="is a device, not a snapshot file"):
        load_snapshot(link)  # before: read zeros until memory ran out
    assert time.monotonic() - t0 < 5
    with pytest.raises(SnapshotError, match="folder"):
        load_snapshot(tmp_path)


def test_a_plain_file_over_the_cap_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.hwprof.json"
    with huge.open("wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_TEXT_BYTES + 1)
    with pytest.raises(SnapshotError, match="far too large to be a snapshot"):
        load_snapshot(huge)


SAMPLE = {
    "format": "hwprof.snapshot",
    "text": 'a "quote" \\ back \u00e9 \u20ac \U0001f600 \n tab\t',
    "numbers": [1, -2, 3.5, -0.25, 1.5e-07, -2e30, 0, 10, 123456789],
    "flags": [True, False, None],
    "nested": {"empty": {}, "list": [[], [{}]]},
}


@pytest.mark.parametrize("text", [json.dumps(SAMPLE), json.dumps(SAMPLE, indent=2),
                                  json.dumps(SAMPLE, ensure_ascii=False)])
def test_every_cut_of_a_document_is_called_truncated(text: str) -> None:
    assert not looks_truncated(text)
    missed = [text[:i] for i in range(1, len(text)) if not looks_truncated(text[:i])]
    assert missed == []


@pytest.mark.parametrize("text", ['{"a": x}', '{"a": 1}}', '{"a": 1} x', '{}t', "[1, 2,, 3]",
                                  '{"a" 1}', "[tx]", "[1.x]", '["\\q"]', "[u1"])
def test_garbled_json_is_not_called_truncated(text: str) -> None:
    assert not looks_truncated(text)


def test_judging_a_large_cut_text_is_instant() -> None:
    row = '{"t": 12345.678901, "v": [97.5, null, 1073741824.0, "gpu0.power_watts"]}, '
    text = '{"format": "hwprof.snapshot", "runs": [' + row * (50_000_000 // len(row))
    with pytest.raises(json.JSONDecodeError) as exc:
        json.loads(text)
    t0 = time.perf_counter()
    assert looks_truncated(text, exc.value)
    # before: a Python loop over every character, about 2 s for 50 MB on this machine
    assert time.perf_counter() - t0 < 0.05
    garbled = text[:1000] + "?" + text[1000:]
    with pytest.raises(json.JSONDecodeError) as exc:
        json.loads(garbled)
    assert not looks_truncated(garbled, exc.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_or_a_folder_is_never_replaced_by_a_write(tmp_path: Path) -> None:
    from hwprof.core.snapshot_io import write_json

    fifo = tmp_path / "p.hwprof.json"
    os.mkfifo(fifo)
    with pytest.raises(SnapshotError, match="is a named pipe, not a file: it is not replaced"):
        write_json(fifo, "{}")
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    (tmp_path / "d.hwprof.json").mkdir()
    with pytest.raises(SnapshotError, match="is a folder"):
        write_json(tmp_path / "d.hwprof.json", "{}")
