"""`hwprof snapshots`, `compare` and `report` on real snapshots made by `hwprof run`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.tf
REPO = Path(__file__).resolve().parent.parent


def hwprof(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def two_snapshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("snaps")
    a, b = folder / "a.hwprof.json", folder / "b.hwprof.json.gz"
    for target, threads in ((a, "1"), (b, "2")):
        for workload in (["matmul", "--size", "128"], ["mlp", "--size", "32"]):
            done = hwprof("run", *workload, "--mode", "infer", "--duration", "2",
                          "--append", str(target), env={"OMP_NUM_THREADS": threads})
            assert done.returncode == 0, done.stderr
    yield a, b


def test_compare_two_real_snapshots(two_snapshots: tuple[Path, Path]) -> None:
    a, b = two_snapshots
    done = hwprof("compare", str(a), str(b))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "$OMP_NUM_THREADS" in out  # the environment diff names what differs
    assert "matmul infer cpu b1 size=128 fp32" in out and "mlp infer cpu b256 size=32 fp32" in out
    assert "95% CI" in out
    doc = json.loads(hwprof("compare", str(a), str(b), "--json").stdout)
    assert [r["fact"] for r in doc["environment_diff"]] == ["$OMP_NUM_THREADS"]
    assert len(doc["runs"]) == 2
    second = doc["runs"][0]["runs"][1]
    assert second["speedup"] > 0 and second["verdict"]


def test_compare_refuses_a_bad_file_by_name(
    two_snapshots: tuple[Path, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.hwprof.json"
    bad.write_text("{")
    done = hwprof("compare", str(two_snapshots[0]), str(bad))
    assert done.returncode == 2
    assert f"{bad}: is truncated" in done.stderr


def test_report_html_and_csv(two_snapshots: tuple[Path, Path], tmp_path: Path) -> None:
    page, folder = tmp_path / "r.html", tmp_path / "csv"
    done = hwprof("report", str(two_snapshots[1]), "--html", str(page), "--csv", str(folder))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("<svg") >= 4
    assert "<script" not in text and "src=" not in text and "<link" not in text
    assert "mlp infer cpu b256 size=32 fp32" in text
    with open(folder / "runs.csv") as fh:
        runs = list(csv.DictReader(fh))
    assert [r["workload"] for r in runs] == ["matmul", "mlp"]
    assert float(runs[0]["throughput_per_second"]) > 0
    with open(folder / "steps.csv") as fh:
        assert sum(1 for _ in fh) > 10
    with open(folder / "telemetry.csv") as fh:
        header = next(csv.reader(fh))
    assert header[:3] == ["run", "time_monotonic_s", "cpu.util_percent"]


def test_report_needs_an_output(two_snapshots: tuple[Path, Path], tmp_path: Path) -> None:
    assert hwprof("report", str(two_snapshots[0])).returncode == 2
    missing = hwprof("report", str(two_snapshots[0]), "--html", str(tmp_path / "no" / "r.html"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_snapshots_lists_the_folder(two_snapshots: tuple[Path, Path]) -> None:
    folder = two_snapshots[0].parent
    (folder / "broken.hwprof.json").write_text("[]")
    done = hwprof("snapshots", str(folder), "--json")
    rows = json.loads(done.stdout)
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["a.hwprof.json"]["runs"] == 2
    assert "not an object" in by_name["broken.hwprof.json"]["error"]
    table = hwprof("snapshots", str(folder)).stdout
    assert "unreadable" in table and "b.hwprof.json.gz" in table
    (folder / "broken.hwprof.json").unlink()


def test_a_snapshot_path_alone_opens_the_window_or_says_what_to_do(tmp_path: Path) -> None:
    """`hwprof a.hwprof.json` is what the desktop entry runs for a double-clicked snapshot."""
    snap = tmp_path / "a.hwprof.json"
    snap.write_text("{}")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "hwprof", str(snap)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "no screen here to open the snapshot in" in done.stderr
    assert f"hwprof report {snap} --html" in done.stderr
