"""Outputs never land on an input, an existing file unasked, or half-written on a full disk."""

from __future__ import annotations

import errno
import sys
import textwrap
from pathlib import Path

import pytest
from snapshot_helpers import REPO, hwprof, saved

from hwprof.cli.main import main
from hwprof.core import snapshot_io
from hwprof.core.snapshot import load_snapshot


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_report_never_writes_over_its_own_snapshot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = saved(tmp_path / "a.hwprof.json", 2)
    before = snap.read_bytes()
    link = tmp_path / "page.html"
    link.symlink_to(snap)
    for out in (snap, link, tmp_path / "x" / ".." / "a.hwprof.json"):
        (tmp_path / "x").mkdir(exist_ok=True)
        code, err = run_cli(capsys, "report", str(snap), "--html", str(out), "--force")
        assert code == 2
        assert "that is an input of this command" in err
    code, err = run_cli(capsys, "report", str(snap), "--csv", str(tmp_path))
    assert code == 0, err  # the CSV files beside it are fine
    assert snap.read_bytes() == before and len(load_snapshot(snap).runs) == 2


def test_report_needs_force_to_replace_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snap = saved(tmp_path / "a.hwprof.json", 1)
    page, folder = tmp_path / "r.html", tmp_path / "csv"
    page.write_text("mine")
    folder.mkdir()
    (folder / "steps.csv").write_text("mine too")
    code, err = run_cli(capsys, "report", str(snap), "--html", str(page))
    assert code == 2 and f"--html {page}: the file exists" in err and "--force" in err
    code, err = run_cli(capsys, "report", str(snap), "--csv", str(folder))
    assert code == 2 and "steps.csv: the file exists" in err
    assert page.read_text() == "mine" and (folder / "steps.csv").read_text() == "mine too"
    assert not (folder / "runs.csv").exists()  # refused before anything was written
    code, err = run_cli(capsys, "report", str(snap), "--html", str(page), "--csv", str(folder),
                        "--force")
    assert code == 0, err
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert (folder / "steps.csv").read_text().startswith("run,step")


def test_report_csv_on_a_full_disk_keeps_the_old_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    snap = saved(tmp_path / "a.hwprof.json", 2)
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "runs.csv").write_text("the old runs\n")

    def full_disk(fh: object, data: bytes) -> None:
        fh.write(data[: len(data) // 2])  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(snapshot_io, "_write_all", full_disk)
    code, err = run_cli(capsys, "report", str(snap), "--csv", str(folder), "--force")
    assert code == 1
    assert "runs.csv: could not be written (No space left on device)" in err
    assert (folder / "runs.csv").read_text() == "the old runs\n"
    assert sorted(p.name for p in folder.iterdir()) == ["runs.csv"]  # no temporary, no half file


# A report in a process that may not write files over 2,000 bytes (RLIMIT_FSIZE): the OS fails
# the write halfway, as a full disk does.
LIMITED = textwrap.dedent("""
    import resource, sys
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))
    from hwprof.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_report_csv_when_the_os_fails_the_write_keeps_the_old_files(tmp_path: Path) -> None:
    import subprocess

    snap = saved(tmp_path / "a.hwprof.json", 30)  # runs.csv is well over 2,000 bytes
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "runs.csv").write_text("the old runs\n")
    done = subprocess.run([sys.executable, "-c", LIMITED, "report", str(snap), "--csv",
                           str(folder), "--force"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "runs.csv: could not be written (File too large)" in done.stderr
    assert (folder / "runs.csv").read_text() == "the old runs\n"  # before: a half file
    assert sorted(p.name for p in folder.iterdir()) == ["runs.csv"]


def test_monitor_csv_never_replaces_a_file_unasked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = saved(tmp_path / "victim.hwprof.json", 3)
    before = victim.read_bytes()
    code, err = run_cli(capsys, "monitor", "--interval", "0.1", "--seconds", "0.2", "--csv",
                        str(victim))
    assert code == 2
    assert f"cannot write the CSV file: --csv {victim}: the file exists" in err
    assert "--force" in err
    assert victim.read_bytes() == before  # before: truncated to nothing
    out = tmp_path / "t.csv"
    out.write_text("old")
    code, err = run_cli(capsys, "monitor", "--interval", "0.1", "--seconds", "0.2", "--csv",
                        str(out), "--force")
    assert code == 0, err
    assert out.read_text().startswith("time")


def test_study_outputs_are_checked_before_any_run(tmp_path: Path) -> None:
    snap = saved(tmp_path / "a.hwprof.json", 1)
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"png")
    base = ["--workload", "mlp", "--target", "cpu threads=1", "--target", "cpu threads=2",
            "--duration", "1", "--trials", "1"]
    cases = [
        (["compare", *base, "--png", str(tmp_path / "nodir" / "x.png")], "does not exist"),
        (["compare", *base, "--png", str(taken)], "the file exists"),
        (["compare", str(snap), *base, "--png", str(snap), "--force"], "an input"),
        (["compare", *base, "--save", str(snap)], "the file exists"),
        (["sweep", "mlp", "--target", "cpu", "--over", "batch", "--values", "1,2", "--png",
          str(tmp_path / "nodir" / "s.png")], "does not exist"),
        (["roofline", str(snap), "--png", str(taken)], "the file exists"),
        (["roofline", str(snap), "--png", str(snap), "--force"], "an input"),
    ]
    for args, problem in cases:
        done = hwprof(*args, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert problem in done.stderr, (args, done.stderr)
        assert "trial 1" not in done.stderr and "measuring" not in done.stderr  # nothing ran
    assert taken.read_bytes() == b"png" and len(load_snapshot(snap).runs) == 1


def test_an_inference_comparison_checks_its_latency_chart_too(tmp_path: Path) -> None:
    (tmp_path / "cmp-latency.png").write_bytes(b"mine")
    done = hwprof("compare", "--workload", "mlp", "--mode", "infer", "--target", "cpu",
                  "--target", "cpu threads=1", "--png", str(tmp_path / "cmp.png"), timeout=120)
    assert done.returncode == 2 and "cmp-latency.png: the file exists" in done.stderr
