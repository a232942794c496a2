"""The report (HTML and CSV) of any snapshot that loads: odd tags, odd numbers, hostile strings."""

from __future__ import annotations

import csv
import html
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from fakes.snapshots import a_run, machine, snapshots
from hypothesis import HealthCheck, given, settings

from hwprof.core.snapshot import Snapshot, load_snapshot, new_snapshot, save_snapshot
from hwprof.services.report import html_report, write_csv

REPO = Path(__file__).resolve().parent.parent


def reported(snap: Snapshot, folder: Path) -> str:
    """Save, load, and report the snapshot as a user's `hwprof report` would."""
    folder.mkdir(parents=True, exist_ok=True)
    path = save_snapshot(snap, folder / "s.hwprof.json")
    loaded = load_snapshot(path)
    page = html_report(loaded, source=path.name)
    for out in write_csv(loaded, folder / "csv"):
        with open(out, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert rows and all(len(r) == len(rows[0]) for r in rows)
    return page


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(snap=snapshots())
def test_fuzz_any_snapshot_that_loads_reports(snap: Snapshot, tmp_path: Path) -> None:
    page = reported(snap, tmp_path / uuid.uuid4().hex)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "\x1b" not in page and "\u202e" not in page
    assert "<script" not in page


def hwprof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize(("kind", "x"), [("batch", "abc"), ("threads", "inf"), ("replicas", "0"),
                                         ("size", "-1"), ("threads", "1e400")])
def test_a_sweep_with_an_odd_value_reports_without_that_run(
    kind: str, x: str, tmp_path: Path
) -> None:
    snap = new_snapshot(machine())
    for value in (x, "1", "2"):
        tags = ("study:s1", f"kind:{kind}", "target:cpu", f"x:{value}")
        snap = snap.with_run(a_run(tags=tags))
    path = save_snapshot(snap, tmp_path / "odd.hwprof.json")
    page, folder = tmp_path / "r.html", tmp_path / "csv"
    done = hwprof("report", str(path), "--html", str(page), "--csv", str(folder))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "Comparisons and sweeps" in text
    assert f"1 run(s) left out: a sweep value must be a whole number of at least 1, and theirs " \
           f"is &#x27;{x}&#x27;" in text
    with open(folder / "runs.csv", newline="") as fh:
        assert len(list(csv.reader(fh))) == 4  # every run is still in the tables


def test_a_traced_run_reports_where_its_time_goes(tmp_path: Path) -> None:
    import json

    from hwprof.core.spec import RunSpec
    from hwprof.core.trace import OpTime, TraceSummary

    doc = json.loads((REPO / "tests/data/trace/cifar10_cnn_train_b32.summary.json").read_text())
    summary = TraceSummary.model_validate(doc["trace"])
    hostile = "<script>alert(1)</script>\x1b[31m"
    ops = (OpTime(name=hostile, op_type="Evil", category="host/other", where="host",
                  self_time_s=0.5, count=2), *summary.ops)
    summary = summary.model_copy(update={"ops": ops})
    run = a_run(RunSpec.model_validate(doc["spec"]))
    assert run.result.report is not None
    run = run.model_copy(update={"result": run.result.model_copy(update={
        "report": run.result.report.model_copy(update={"trace": summary})})})
    page = reported(new_snapshot(machine()).with_run(run).with_run(a_run()), tmp_path)
    assert page.count("Where the time goes") == 1  # the untraced run has none
    assert summary.verdict is not None
    assert html.escape(summary.verdict.text) in page
    assert html.escape(summary.verdict.advice) in page
    for cat in summary.categories:
        assert f"<td>{html.escape(cat.category)}</td>" in page
    assert html.escape(summary.ops[1].name) in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[31m" in page
    assert page.count("class='tstep'") == summary.steps_traced
