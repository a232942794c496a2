"""`hwprof monitor` as a user runs it: CSV that survives Ctrl-C, JSON lines, clear refusals."""

from __future__ import annotations

import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from hwprof.cli.main import main
from hwprof.cli.monitor import bar, load_style, render_view
from hwprof.sampling import Sampler

REPO = Path(__file__).resolve().parent.parent


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_csv_is_complete_after_sigint(tmp_path: Path) -> None:
    out = tmp_path / "telemetry.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwprof", "monitor", "--interval", "0.1", "--csv", str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
    header, rows = read_csv(out)
    assert header[:3] == ["time_monotonic_s", "time_unix_s", "cpu.util_percent"]
    assert "host.memory_used_bytes" in header and len(set(header)) == len(header)
    assert len(rows) >= 5
    assert all(len(r) == len(header) for r in rows)
    for r in rows:
        for cell in r:
            if cell:
                float(cell)  # every cell is a number or empty (a gap)
    times = [float(r[0]) for r in rows]
    assert times == sorted(times)
    steps = [b - a for a, b in itertools.pairwise(times)]
    assert min(steps) > 0.05 and sorted(steps)[len(steps) // 2] == pytest.approx(0.1, abs=0.03)
    used = header.index("host.memory_used_bytes")
    assert all(int(r[used]) > 0 for r in rows)
    assert out.read_text().endswith("\n")  # the last row is whole
    assert f"wrote {len(rows)} rows" in stderr
    if "gpu0.util_percent" not in header:  # a machine without a driver says so, once
        assert stderr.count("NVIDIA: no driver") == 1 and "monitoring the CPU" in stderr


def test_seconds_and_json_lines_with_a_gpu(nvml_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("a100_loaded")
    code, out, err = run_cli(capsys, "monitor", "--interval", "0.1", "--seconds", "0.3", "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3
    rows = [json.loads(line) for line in lines]
    assert rows[0]["gpu0.power_watts"] == 356 and rows[0]["gpu0.util_percent"] == 97
    assert rows[0]["gpu0.memory_total_bytes"] == 42949672960
    assert rows[0]["gpu0.fan_percent"] is None
    assert "proc.cpu_percent" not in rows[0]  # no --pid: no process columns
    assert rows[1]["time_monotonic_s"] - rows[0]["time_monotonic_s"] == pytest.approx(0.1, abs=0.05)
    assert "NVIDIA" not in err


def test_no_driver_is_said_once_and_the_cpu_is_monitored(nvml_scenario, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("missing")
    path = tmp_path / "t.csv"
    code, out, err = run_cli(
        capsys, "monitor", "--interval", "0.1", "--seconds", "0.2", "--csv", str(path)
    )
    assert code == 0
    assert err.count("NVIDIA: no driver (NVML library not found); monitoring the CPU") == 1
    assert err.count("\n") == 2  # that line, and the summary
    header, rows = read_csv(path)
    assert len(rows) == 2 and not any(h.startswith("gpu") for h in header)
    assert out == ""  # with --csv and no terminal, stdout stays quiet


def test_plain_lines_when_piped(nvml_scenario, capsys) -> None:  # type: ignore[no-untyped-def]
    nvml_scenario("one_t4")
    code, out, _ = run_cli(
        capsys, "monitor", "--interval", "0.1", "--seconds", "0.2", "--pid", str(os.getpid())
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("t=") for line in lines)
    assert "gpu0=0%/300 MiB/12W" in lines[0] and "proc_cpu=" in lines[1]


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "inf", "1e30"])
def test_a_duration_that_is_not_a_sane_number_of_seconds_is_refused(seconds: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["monitor", "--duration", seconds])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --duration/--seconds" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--interval", "0.05"], "--interval must be at least 0.1 s (got 0.05)"),
        (["--interval", "nan"], "--interval must be at least 0.1 s"),
        (["--csv", "{tmp}/missing-dir/t.csv"], "cannot write the CSV file"),
        (["--csv", "{tmp}"], "it is a directory"),
        (["--csv", "{tmp}/a-file/t.csv"], "cannot write the CSV file"),
        (["--pid", "4194999"], "--pid 4194999: no such process"),
    ],
)
def test_bad_arguments_exit_2_before_sampling(  # type: ignore[no-untyped-def]
    argv: list[str], message: str, tmp_path: Path, capsys, nvml_scenario
) -> None:
    nvml_scenario("missing")
    (tmp_path / "a-file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run_cli(capsys, "monitor", *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run_cli(capsys, "monitor", "--csv", str(ro / "t.csv"))
    finally:
        ro.chmod(0o700)
    assert code == 2 and "Permission denied" in err


def test_not_a_number_is_an_argparse_error(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(["monitor", "--interval", "fast"])
    assert exc.value.code == 2
    assert "invalid float value" in capsys.readouterr().err


def test_load_colours_change_at_10_and_75() -> None:
    assert [load_style(x) for x in (None, 0, 9.9, 10, 74.9, 75, 100)] == [
        "dim", "green", "green", "yellow", "yellow", "red", "red",
    ]
    assert load_style(79.9, (10, 80)) == "yellow" and load_style(80, (10, 80)) == "red"
    for pct in (0, 3, 50, 99.9, 100, 250):
        assert len(bar(pct, 12).plain) == 12
    assert bar(100, 4).plain == "████" and bar(50, 4).plain == "██··"


def test_view_shows_a_lost_gpu_and_clock_reasons(nvml_scenario) -> None:  # type: ignore[no-untyped-def]
    fake = nvml_scenario("power_temp_unsupported")
    s = Sampler(0.1, host=True, process=False)
    s.sample_once()
    fake.sc.gpus[1].lost = True
    sample = s.sample_once()
    s.stop()
    console = Console(width=160, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_view(sample, s, "x.csv", 7))
    text = console.export_text()
    assert "GPU 0" in text and "356 W / 400 W" in text and "clocks held by: power cap" in text
    assert "GPU 1" in text and "no reading (GPU lost?)" in text
    assert "cores" in text and "memory" in text and "recording to x.csv (7 rows)" in text


def test_an_interval_longer_than_the_duration_still_ends_on_time() -> None:
    for interval, duration, rows in (("1000", "0.5", 0), ("0.3", "0.5", 1)):
        t0 = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "hwprof", "monitor", "--interval", interval, "--duration",
             duration, "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=30,
        )
        elapsed = time.monotonic() - t0
        assert done.returncode == 0, done.stderr
        assert len(done.stdout.splitlines()) == rows
        assert elapsed < 10  # Python's start-up and imports, then half a second of monitoring


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE (POSIX)")
def test_a_full_disk_ends_with_whole_rows_and_exit_1(tmp_path: Path) -> None:
    """A file size limit stands in for a full disk: the write fails part way through a row."""
    import resource

    def run(path: Path, limit: int | None) -> subprocess.CompletedProcess[str]:
        def cap() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        return subprocess.run(
            [sys.executable, "-m", "hwprof", "monitor", "--interval", "0.1", "--duration", "3",
             "--csv", str(path)],
            cwd=REPO, capture_output=True, text=True, timeout=60, preexec_fn=cap,
        )

    sizes = tmp_path / "sizes.csv"
    assert run(sizes, None).returncode == 0
    lines = sizes.read_bytes().splitlines(keepends=True)
    header, row = len(lines[0]), max(len(x) for x in lines[1:])
    limit = header + 2 * row + row // 2  # room for two rows and half of the third
    out = tmp_path / "full.csv"
    done = run(out, limit)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"hwprof monitor: could not write to the CSV file {out}: File too large" in done.stderr
    names, rows = read_csv(out)
    assert names == read_csv(sizes)[0] and 2 <= len(rows) <= 3
    assert all(len(r) == len(names) for r in rows)
    assert out.read_bytes().endswith(b"\r\n")  # no half row at the end
    assert f"It keeps the {len(rows)} whole rows written before" in done.stderr
