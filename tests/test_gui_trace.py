"""Where the time goes in the window (issue 20, part 2): the view, Results, the Trace switch.

The view is built from a real traced run's summary (tests/data/trace/, a cifar10_cnn training
run traced with ``hwprof run --trace 3`` on the CPU-only CI machine), offscreen with pytest-qt.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.snapshots import a_run, machine
from gui_helpers import FakeRuns, dispose, quick_functions
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from hwprof.core import trace
from hwprof.core.snapshot import SnapshotRun, new_snapshot, save_snapshot
from hwprof.core.spec import DEFAULT_TRACE_STEPS, RunSpec
from hwprof.core.trace import OpTime, TraceSummary, Verdict
from hwprof.gui.main_window import QtMainWindow
from hwprof.gui.results_panel import QtResultsPanel
from hwprof.gui.run_panel import QtRunPanel
from hwprof.gui.session_adapter import QtSessionEvents
from hwprof.gui.trace_view import SORT_ROLE, QtTraceView, command_targets
from hwprof.services.session import Session

pytestmark = pytest.mark.gui
SUMMARY = Path(__file__).parent / "data" / "trace" / "cifar10_cnn_train_b32.summary.json"
HOSTILE = "<b>bold</b>\x1b[31m<img src=x>"


def traced_run(summary: TraceSummary | None = None) -> SnapshotRun:
    """The real traced run: its spec, summary and clock, on a run with real statistics."""
    doc = json.loads(SUMMARY.read_text())
    summary = summary or TraceSummary.model_validate(doc["trace"])
    run = a_run(RunSpec.model_validate(doc["spec"]))
    assert run.telemetry is not None and run.result.report is not None
    report = run.result.report.model_copy(update={"trace": summary})
    return run.model_copy(update={
        "result": run.result.model_copy(update={"report": report}),
        "telemetry": run.telemetry.model_copy(update={"unix_offset_s": doc["unix_offset_s"]})})


def real_summary() -> TraceSummary:
    return TraceSummary.model_validate(json.loads(SUMMARY.read_text())["trace"])


@pytest.fixture
def view(qtbot: QtBot) -> Iterator[QtTraceView]:
    v = QtTraceView()
    qtbot.addWidget(v)
    v.ask = lambda _t, _x: pytest.fail("asked unexpectedly")  # type: ignore[assignment]
    v.warn = lambda t, x: pytest.fail(f"warned unexpectedly: {t}: {x}")
    yield v


def column(v: QtTraceView, col: int, role: int = Qt.ItemDataRole.DisplayRole) -> list[Any]:
    return [v.proxy.index(r, col).data(role) for r in range(v.proxy.rowCount())]


def test_the_view_of_a_real_traced_run(view: QtTraceView) -> None:
    run = traced_run()
    summary = real_summary()
    assert summary.verdict is not None and summary.verdict.command
    view.set_run(run)
    assert view.headline.text() == summary.verdict.text
    assert view.headline.textFormat() == Qt.TextFormat.PlainText
    assert view.facts.textFormat() == Qt.TextFormat.PlainText
    facts = view.facts.text()
    assert summary.verdict.advice in facts and summary.verdict.command in facts
    assert "tracing cost" in facts and "untraced" in facts
    assert view.proxy.rowCount() == len(summary.ops)
    # the largest first, as the table opens
    assert column(view, 4, SORT_ROLE) == sorted(column(view, 4, SORT_ROLE), reverse=True)
    bars = [i for i in view.categories.getPlotItem().items if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 1
    # the steps sit where they ran on the Live charts' clock: monotonic start + the offset
    offset = json.loads(SUMMARY.read_text())["unix_offset_s"]
    steps = view.step_bars()
    assert len(steps) == summary.steps_traced == 3
    for (x0, x1, heights), step in zip(steps, summary.steps, strict=True):
        assert step.start_s is not None
        assert x0 == pytest.approx(step.start_s + offset)
        assert x1 - x0 == pytest.approx(step.step_s)
        assert sum(heights) == pytest.approx(1e3 * step.step_s, rel=1e-6)
    assert view.step_axis.clock
    assert "time of day" in view.step_axis.labelText
    assert view.copy_button.isVisibleTo(view) and view.export_button.isEnabled()


def test_steps_without_a_clock_stand_side_by_side(view: QtTraceView) -> None:
    summary = real_summary()
    old = summary.model_copy(update={"steps": tuple(s.model_copy(update={"start_s": None})
                                                    for s in summary.steps)})
    view.set_run(traced_run(old))
    steps = view.step_bars()
    assert steps[0][0] == 0 and steps[1][0] == pytest.approx(steps[0][1])
    assert not view.step_axis.clock and "first traced step" in view.step_axis.labelText


def test_the_top_ops_sort_by_self_time_as_numbers(view: QtTraceView) -> None:
    # as text "9.00 ms" > "10.0 ms" > "100 ms" > "2.00 µs": only numbers sort these right
    times = {"a": 9e-3, "b": 10e-3, "c": 0.1, "d": 2e-6, "e": 1.5}
    ops = tuple(OpTime(name=n, op_type="MatMul", category="matmul/conv", where="host",
                       self_time_s=t, count=int(t * 1e6) or 1) for n, t in times.items())
    summary = real_summary().model_copy(update={"ops": ops, "op_time_s": sum(times.values())})
    view.set_run(traced_run(summary))
    view.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
    assert column(view, 0) == sorted(times, key=times.__getitem__)
    view.table.sortByColumn(4, Qt.SortOrder.DescendingOrder)
    assert column(view, 0) == sorted(times, key=times.__getitem__, reverse=True)
    view.table.sortByColumn(6, Qt.SortOrder.AscendingOrder)  # count: numbers too
    assert column(view, 0) == ["d", "a", "b", "c", "e"]
    assert column(view, 5)[0].endswith("%")


def test_hostile_op_names_and_verdicts_show_as_text(view: QtTraceView) -> None:
    ops = (OpTime(name=HOSTILE, op_type="Evil", category="host/other", where="host",
                  self_time_s=1.0, count=1),)
    verdict = Verdict(kind="compute-bound", text=f"compute-bound: {HOSTILE} takes 99%",
                      advice=f"rename {HOSTILE}", command=None)
    summary = real_summary().model_copy(update={"ops": ops, "verdict": verdict,
                                                "notes": (HOSTILE,)})
    view.set_run(traced_run(summary))
    shown = column(view, 0)[0]
    assert "<b>bold</b>" in shown and "\x1b" not in shown and "\\x1b" in shown
    assert "<b>bold</b>" in view.headline.text() and "\x1b" not in view.headline.text()
    assert view.headline.textFormat() == Qt.TextFormat.PlainText
    assert "<img src=x>" in view.facts.text()
    assert not view.copy_button.isVisibleTo(view)  # no command: nothing to copy


def test_copy_command_puts_the_comparison_on_the_clipboard(view: QtTraceView) -> None:
    view.set_run(traced_run())
    messages: list[str] = []
    view.message.connect(lambda text, _ms: messages.append(text))
    view.copy_button.click()
    command = real_summary().verdict.command  # type: ignore[union-attr]
    assert QGuiApplication.clipboard().text() == command
    assert messages and "paste it in a terminal" in messages[0]


def test_export_writes_the_trace_and_never_overwrites_unasked(view: QtTraceView,
                                                              tmp_path: Path) -> None:
    view.set_run(traced_run())
    out = tmp_path / "t.json.gz"
    assert view.export_to(out)
    doc = json.loads(gzip.decompress(out.read_bytes()))
    assert doc["traceEvents"] and {e["ph"] for e in doc["traceEvents"]} <= {"M", "X"}
    # an existing file: the person is asked; No keeps it as it was
    out.write_bytes(b"mine")
    asked: list[str] = []
    view.ask = lambda _t, text: bool(asked.append(text))  # type: ignore[assignment]
    assert not view.export_to(out)
    assert out.read_bytes() == b"mine" and asked and str(out) in asked[0]
    view.ask = lambda _t, _x: True  # type: ignore[assignment]
    assert view.export_to(out)
    assert gzip.decompress(out.read_bytes()).startswith(b"{")
    # a name without the ending gets it; a snapshot's name is refused, whatever the answer
    assert view.export_to(tmp_path / "plain") and (tmp_path / "plain.json.gz").is_file()
    warned: list[str] = []
    view.warn = lambda _t, text: warned.append(text)
    snap = tmp_path / "s.hwprof.json.gz"
    snap.write_bytes(b"a snapshot")
    assert not view.export_to(snap)
    assert snap.read_bytes() == b"a snapshot" and "snapshot" in warned[0]
    link = tmp_path / "link.json.gz"
    link.symlink_to(snap)
    view.ask = lambda _t, _x: True  # type: ignore[assignment]
    assert not view.export_to(link)
    assert snap.read_bytes() == b"a snapshot" and "snapshot" in warned[-1]
    folder = tmp_path / "d.json.gz"
    folder.mkdir()
    assert not view.export_to(folder) and "folder" in warned[-1]


def test_results_tab_lights_up_for_traced_runs(qtbot: QtBot, tmp_path: Path) -> None:
    session = Session(autosave=False)
    events = QtSessionEvents(session)
    panel = QtResultsPanel(session, events)
    qtbot.addWidget(panel)
    snap = new_snapshot(machine()).with_run(a_run()).with_run(traced_run())
    path = save_snapshot(snap, tmp_path / "traced.hwprof.json")
    session.open_snapshot(path)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2)
    keys = [e.key for e in session.results]
    panel.select_key(keys[0])
    assert not panel.details.isTabEnabled(panel.trace_tab)
    panel.select_key(keys[1])
    assert panel.details.isTabEnabled(panel.trace_tab)
    assert "Where the time goes" in panel.facts.text()
    panel.details.setCurrentIndex(panel.trace_tab)
    assert panel.trace_view.headline.text() == real_summary().verdict.text  # type: ignore
    panel.select_key(keys[0])  # an untraced run: back to its facts
    assert panel.details.currentIndex() == 0
    events.detach()


def test_the_trace_switch_sets_trace_steps(qtbot: QtBot) -> None:
    session = Session(autosave=False)
    events = QtSessionEvents(session)
    panel = QtRunPanel(session, events)
    qtbot.addWidget(panel)
    assert not panel.trace.isChecked() and not panel.trace_steps.isEnabled()
    assert panel.base_spec().trace_steps is None
    panel.trace.setChecked(True)
    assert panel.trace_steps.isEnabled()
    assert panel.trace_steps.value() == DEFAULT_TRACE_STEPS
    assert panel.base_spec().trace_steps == DEFAULT_TRACE_STEPS
    panel.trace_steps.setValue(3)
    assert [s.trace_steps for s in panel.specs()] == [3]
    panel.save_form()  # remembered with the form
    again = QtRunPanel(session, events)
    qtbot.addWidget(again)
    assert again.trace.isChecked() and again.trace_steps.value() == 3
    panel.trace.setChecked(False)
    panel.save_form()
    third = QtRunPanel(session, events)
    qtbot.addWidget(third)
    assert not third.trace.isChecked() and third.base_spec().trace_steps is None
    events.detach()


def test_the_data_choice_sets_the_pipeline(qtbot: QtBot) -> None:
    session = Session(autosave=False)
    events = QtSessionEvents(session)
    panel = QtRunPanel(session, events)
    qtbot.addWidget(panel)
    panel.workload.setCurrentIndex(panel.workload.findData("mlp"))  # no image to decode
    assert not panel.data.isEnabled() and not panel.pipeline_threads.isEnabled()
    assert panel.base_spec().data == "synthetic"
    panel.workload.setCurrentIndex(panel.workload.findData("cifar10_cnn"))
    assert panel.data.isEnabled() and not panel.pipeline_threads.isEnabled()
    assert "decodes JPEG" in panel.data.toolTip()
    panel.data.setCurrentIndex(panel.data.findData("pipeline"))
    assert panel.pipeline_threads.isEnabled() and panel.pipeline_source.isEnabled()
    spec = panel.base_spec()  # 0: auto and twice the side
    assert (spec.data, spec.pipeline_threads, spec.pipeline_source_size) == ("pipeline", None,
                                                                             None)
    panel.pipeline_threads.setValue(2)
    panel.pipeline_source.setValue(96)
    [spec] = panel.specs()
    assert (spec.data, spec.pipeline_threads, spec.pipeline_source_size) == ("pipeline", 2, 96)
    panel.save_form()  # remembered with the form
    again = QtRunPanel(session, events)
    qtbot.addWidget(again)
    assert again.data.currentData() == "pipeline" and again.pipeline_threads.value() == 2
    assert again.base_spec().pipeline_source_size == 96
    # a workload without images: back to synthetic, the pipeline's settings left out
    again.workload.setCurrentIndex(again.workload.findData("matmul"))
    spec = again.base_spec()
    assert (spec.data, spec.pipeline_threads, spec.pipeline_source_size) == ("synthetic", None,
                                                                             None)
    events.detach()


def test_command_targets_only_for_this_runs_comparison() -> None:
    spec = RunSpec(workload="cifar10_cnn", mode="train")
    cmd = 'hwprof compare --workload cifar10_cnn --mode train --target "cpu" --target "cpu xla"'
    assert command_targets(cmd, spec) == ["cpu", "cpu xla"]
    assert command_targets(cmd.replace("cifar10_cnn", "mlp"), spec) == []
    assert command_targets(cmd.replace("train", "infer"), spec) == []
    assert command_targets('hwprof compare --workload "cifar10_cnn', spec) == []  # bad quoting
    assert command_targets("rm -rf / --target a --target b", spec) == []
    assert command_targets(None, spec) == []


def test_run_this_comparison_starts_a_study_of_the_runs_settings(qtbot: QtBot,
                                                                  tmp_path: Path) -> None:
    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True  # type: ignore[method-assign]
    w.confirm_stop = lambda _text: True  # type: ignore[method-assign]
    w.session.run_function = FakeRuns(steps=2)
    try:
        snap = new_snapshot(machine()).with_run(traced_run())
        assert w.open_snapshot(save_snapshot(snap, tmp_path / "traced.hwprof.json"))
        w.results_panel.select_key(w.session.results[0].key)
        view = w.results_panel.trace_view
        assert view.compare_button.isVisibleTo(view)
        view.compare_button.click()
        study = w.session.study
        assert study is not None and study.kind == "compare"
        assert study.base.workload == "cifar10_cnn" and study.base.trace_steps is None
        assert study.base.batch_size == 32  # the traced run's settings, not the Run tab's
        assert [t.label for t in study.targets] == ["cpu", "cpu xla"]
        assert w.tabs.currentWidget() is w.panels["compare"]
        assert w.study_panel.targets.toPlainText() == "cpu\ncpu xla"
        qtbot.waitUntil(lambda: w.session.study is None, timeout=60_000)
    finally:
        w.session.stop_study()
        dispose(w)


def test_run_this_comparison_keeps_an_input_bound_runs_pipeline(qtbot: QtBot,
                                                                 tmp_path: Path) -> None:
    run = traced_run()
    spec = run.spec.model_copy(update={"batch_size": 4, "data": "pipeline",
                                       "pipeline_threads": 1, "pipeline_source_size": 48})
    base = real_summary()
    starved = _input_bound(base, spec)
    assert starved.verdict is not None and starved.verdict.kind == "input-bound"
    command = starved.verdict.command
    assert command is not None and "--data pipeline" in command
    assert command_targets(command, spec) == ["cpu pipeline_threads=1",
                                              "cpu pipeline_threads=auto"]
    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True  # type: ignore[method-assign]
    w.confirm_stop = lambda _text: True  # type: ignore[method-assign]
    w.session.run_function = FakeRuns(steps=2)
    try:
        report = run.result.report
        assert report is not None
        run = run.model_copy(update={"spec": spec, "result": run.result.model_copy(
            update={"report": report.model_copy(update={"trace": starved})})})
        snap = new_snapshot(machine()).with_run(run)
        assert w.open_snapshot(save_snapshot(snap, tmp_path / "starved.hwprof.json"))
        w.results_panel.select_key(w.session.results[0].key)
        view = w.results_panel.trace_view
        assert view.compare_button.isVisibleTo(view)
        view.compare_button.click()
        study = w.session.study
        assert study is not None and study.kind == "compare"
        runs = [t.apply(study.base) for t in study.targets]
        # the traced run's own input, batch and JPEG size; only the threads differ
        assert [(r.data, r.batch_size, r.pipeline_source_size, r.pipeline_threads)
                for r in runs] == [("pipeline", 4, 48, 1), ("pipeline", 4, 48, None)]
        qtbot.waitUntil(lambda: w.session.study is None, timeout=60_000)
    finally:
        w.session.stop_study()
        dispose(w)


def _input_bound(summary: TraceSummary, spec: RunSpec) -> TraceSummary:
    """The summary with most of each step waiting for input, judged for ``spec``."""
    steps = tuple(s.model_copy(update={"input_wait_s": 0.5 * s.step_s,
                                       "device_compute_s": 0.4 * s.step_s,
                                       "device_idle_s": 0.0, "host_s": 0.1 * s.step_s})
                  for s in summary.steps)
    starved = summary.model_copy(update={"steps": steps})
    return starved.model_copy(update={"verdict": trace.verdict(
        starved, workload=spec.workload, device=spec.device, mode=spec.mode,
        batch_size=spec.effective_batch_size, size=spec.effective_size, data=spec.data,
        pipeline_threads=spec.pipeline_threads, source_size=spec.effective_source_size)})
