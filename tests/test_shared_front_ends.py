"""What both front ends show is written once, in services: the CLI says it as the window does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gui_helpers import make_record
from snapshot_helpers import machine

from hwprof.cli.main import main
from hwprof.core.roofline import Ceilings, place
from hwprof.core.snapshot import new_snapshot, save_snapshot
from hwprof.core.spec import RunSpec
from hwprof.services import detect, studies

CEILINGS = Ceilings(device_key="cpu|Label from services|tf 2.21.0",
                    device_label="Label from services", peak_flops=2e11,
                    bandwidth_bytes_per_second=1e10, measured_at="2025-01-01T00:00:00+00:00",
                    reduced_precision_flops={"mixed_bfloat16": 8e11})


def words(text: str) -> str:
    """Text without the console's line breaks (rich wraps at its width)."""
    return " ".join(text.split())


def test_the_cli_measures_ceilings_under_the_services_device_label(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []
    labelled: list[str] = []

    def label(report: Any, device: str) -> str:
        asked.append(device)
        return "Label from services"

    def measure(device: str, device_label: str, **_kw: Any) -> Ceilings:
        labelled.append(device_label)
        return CEILINGS

    monkeypatch.setattr(detect, "device_label", label)
    monkeypatch.setattr(studies, "measure_ceilings", measure)
    assert main(["roofline", "--measure", "--seconds", "0.5"]) == 0
    assert asked == ["cpu"] and labelled == ["Label from services"]
    out, err = capsys.readouterr()
    # the window's summary line, word for word, and the window's honest time estimate
    assert words(studies.ceiling_summary(CEILINGS, "cpu")) in words(out)
    assert studies.ceiling_time_estimate("cpu", 0.5) in words(err)


def test_the_cli_never_shows_a_run_above_its_roof(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # a matmul at 5e11 FLOP/s against a measured 2e11 roof: the ceilings are too low
    spec = RunSpec(workload="matmul", mode="infer", size=512, duration_seconds=1.0)
    snap = new_snapshot(machine()).with_run(make_record(spec, throughput=1e6, flops=5e11))
    path = tmp_path / "fast.hwprof.json"
    save_snapshot(snap, path)
    monkeypatch.setattr(studies, "cached_ceilings", lambda device: CEILINGS)
    assert main(["roofline", str(path)]) == 0
    out = words(capsys.readouterr().out)
    assert "above the roof ⚠" in out and "250%" not in out
    points = [p for r in snap.runs if (p := place(r, CEILINGS))]
    assert words(studies.roof_warnings(points)[0]) in out
