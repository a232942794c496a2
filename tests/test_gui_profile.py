"""The window's Home and Profiles pages (issue 16), offscreen (pytest-qt).

The home page runs one real short profile (two cheap tests, one second each, TensorFlow in worker
processes) and a real one that is stopped; the other tests use :class:`profile_fakes.FakeProfile`
(``run_profile``'s signature and events, no TensorFlow) in the window's real QThread.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyqtgraph as pg
import pytest
from gui_helpers import FakeRuns, dispose, quick_functions
from profile_fakes import FakeProfile, outcome, profile_snapshot
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from hwprof.core.paths import profiles_dir
from hwprof.core.profile import NumericsCheck
from hwprof.core.snapshot import Snapshot, load_snapshot, save_snapshot
from hwprof.core.suite import SUITE_VERSION
from hwprof.gui.main_window import QtMainWindow
from hwprof.gui.profile_views import QtScoreCard
from hwprof.gui.profiles_page import PATH_ROLE
from hwprof.services import profile as sp

pytestmark = pytest.mark.gui
WAIT_MS = 20_000
ONLY = ["matmul.fp32", "mlp.train"]


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True
    w.confirm_stop = lambda _text: True
    w.session.profiles.reference = None  # whatever the repository ships: tests say which
    qtbot.addWidget(w)
    w.show()
    w.start_detection()
    qtbot.waitUntil(lambda: w.report.complete and not w.detecting, timeout=30_000)
    yield w
    app = QApplication.instance()
    if isinstance(app, QApplication) and w.theme != "light":
        w.set_theme("light")
    dispose(w)


def start(qtbot: QtBot, w: QtMainWindow, only: list[str] | None = None,
          seconds: float = 1.0) -> None:
    home = w.home_page
    home.only, home.timed_seconds = only or ONLY, seconds
    assert home.start_button.isEnabled()
    qtbot.mouseClick(home.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.session.profiles.active is not None, timeout=WAIT_MS)


def ended(qtbot: QtBot, w: QtMainWindow, timeout_ms: int = WAIT_MS) -> Any:
    qtbot.waitUntil(lambda: w.session.profiles.active is not None
                    and w.session.profiles.active.ended, timeout=timeout_ms)
    return w.session.profiles.active


def column(table: Any, col: int) -> list[str]:
    return [table.item(r, col).text() for r in range(table.rowCount())]


# -- the home page --------------------------------------------------------------------------------
def test_home_is_the_first_page_and_says_what_a_profile_does(window: QtMainWindow) -> None:
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs[:2] == ["Home", "Profiles"]
    home = window.home_page
    assert window.tabs.currentWidget() is window.panels["home"]  # a new user sees it first
    assert home.start_button.text() == "Profile this device" and home.start_button.isEnabled()
    assert "score" in home.intro.text() and "95% interval" in home.intro.text()
    assert "takes about" in home.duration.text()
    assert home.device.currentData() == "cpu"
    states = column(home.tests, 1)
    assert states and set(states) <= {"will run", "skipped"} and "will run" in states
    assert home.quick.isChecked() and not home.stop_button.isVisible()


@pytest.mark.tf
def test_a_real_profile_shows_states_eta_then_score_card_and_table(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    home = window.home_page
    ref = sp.Reference("stand-in", SUITE_VERSION, "this machine",
                       {"matmul.fp32": 10.0, "mlp.train": 1000.0})
    window.session.profiles.reference = ref
    seen: list[tuple[str, str, list[str]]] = []

    def look(e: object) -> None:
        seen.append((type(e).__name__, home.eta_text(), column(home.tests, 1)))

    for kind in (sp.TestStarted, sp.TestFinished):
        window.events.on(kind, look, home)
    t0 = time.monotonic()
    start(qtbot, window)
    assert home.stop_button.isVisible() and not home.start_button.isEnabled()
    active = ended(qtbot, window, 180_000)
    took = time.monotonic() - t0
    assert active.error is None and not active.stopped, active.error
    # while it ran: a test running, the others waiting, then done; the time left
    assert seen[0][0] == "TestStarted" and seen[0][2] == ["running…", "waiting"]
    assert "Test 1 of 2: Matrix multiply, fp32" in seen[0][1] and "left" in seen[0][1]
    assert seen[-1][0] == "TestFinished" and seen[-1][2] == ["done", "done"]
    # at the end: the score card and the table
    assert home.stack.currentWidget() is home.result
    scored = sp.score(active.snapshot, ref)
    assert scored is not None and scored.overall is not None
    card = home.result.card
    assert card.value.text() == f"{scored.overall.value:.0f}"
    assert "1000 = stand-in" in card.note.text() and "2 tests" in card.interval.text()
    table = home.result.table
    assert column(table, 1) == ["done", "done"]
    results = column(table, 2)
    assert "FLOP/s" in results[0] and "samples/s" in results[1]
    assert all(text[0].isdigit() for text in column(table, 3))  # each test's score
    # saved in the profiles folder, and listed on the Profiles page
    assert active.path is not None and active.path.parent == profiles_dir()
    saved = load_snapshot(active.path)
    assert saved.kind == "profile" and saved.profile is not None
    assert [t.test_id for t in saved.profile.tests] == ONLY
    qtbot.waitUntil(lambda: str(active.path.resolve()) in [
        str(p) for p in window.profiles_page.visible_paths()], timeout=WAIT_MS)
    assert str(active.path) in home.result.facts.text()
    print(f"real profile in the window: {took:.1f} s")


@pytest.mark.tf
def test_stop_ends_a_real_profile_within_seconds(qtbot: QtBot, window: QtMainWindow) -> None:
    home = window.home_page
    asked: list[str] = []
    window.confirm_stop = lambda text: bool(asked.append(text)) or True
    start(qtbot, window, ["mlp.train", "transformer.latency"], seconds=5.0)
    qtbot.waitUntil(lambda: column(home.tests, 1)[0] == "running…", timeout=WAIT_MS)
    time.sleep(1.0)  # the worker is importing TensorFlow
    t0 = time.monotonic()
    qtbot.mouseClick(home.stop_button, Qt.MouseButton.LeftButton)
    assert asked and "Stop the profile?" in asked[0]
    active = ended(qtbot, window)
    assert time.monotonic() - t0 < 8.0
    assert active.stopped and active.path is None
    assert [t.state for t in active.tests] == ["cancelled", "cancelled"]
    assert "Stopped" in home.eta_text()
    assert not any(profiles_dir().iterdir())  # a stopped profile is not saved


def test_a_failed_test_shows_its_reason_and_no_reference_is_said(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    reason = "InternalError: <b>boom</b> \x1b[31m"
    window.session.profiles.run_function = FakeProfile(fail={"mlp.train": ("failed", reason)})
    start(qtbot, window)
    ended(qtbot, window)
    home = window.home_page
    assert column(home.tests, 1) == ["done", "failed"]
    assert home.tests.item(1, 2).text() == "InternalError: <b>boom</b> \\x1b[31m"
    table = home.result.table
    assert column(table, 1) == ["done", "failed"]
    assert table.item(1, 2).text() == "failed: InternalError: <b>boom</b> \\x1b[31m"
    card = home.result.card
    assert card.value.text() == "no score" and card.interval.text() == "no reference profile"
    assert "no reference profile" in card.note.text()


def test_runs_wait_for_the_profile_and_a_second_profile_is_refused(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    hold = threading.Event()
    window.session.profiles.run_function = FakeProfile(hold=hold)
    window.session.run_function = FakeRuns(steps=2)
    start(qtbot, window)
    home = window.home_page
    qtbot.waitUntil(lambda: column(home.tests, 1)[0] == "running…", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: home.chart.getPlotItem().listDataItems()[0].xData is not None
                    and len(home.chart.getPlotItem().listDataItems()[0].xData) > 2,
                    timeout=WAIT_MS)  # the running test's throughput, live
    window.run_panel.request_run()
    assert window.session.pending and window.session.current is None  # the run waits
    assert not home.start_button.isEnabled()
    home.request_profile()
    assert "a profile is running" in home.eta_text()
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS):
        hold.set()  # the profile ends; the waiting run goes on
    assert window.session.profiles.active is not None and window.session.profiles.active.ended
    # the home page keeps the profile's score card in front: the run does not take it away
    assert window.tabs.currentWidget() is window.panels["home"]
    assert home.stack.currentWidget() is home.result


def test_hostile_names_are_plain_text_on_the_home_page(qtbot: QtBot, window: QtMainWindow) -> None:
    window.session.profiles.run_function = FakeProfile(label="<i>dev</i>\u202e")
    start(qtbot, window)
    ended(qtbot, window)
    home = window.home_page
    assert home.status.textFormat() == Qt.TextFormat.PlainText
    assert "<i>dev</i>\\u202e" in home.status.text()
    facts = home.result.facts
    assert facts.textFormat() == Qt.TextFormat.PlainText and "<i>dev</i>" in facts.text()


# -- the score card -------------------------------------------------------------------------------
def test_the_score_card_says_why_a_score_is_withheld(qtbot: QtBot, window: QtMainWindow) -> None:
    machine = window.report.to_report()
    wrong = NumericsCheck(max_relative_error=0.4, tolerance=0.02, passed=False,
                          detail="the device computes wrong answers")
    snap = profile_snapshot(machine, [outcome("matmul.fp32"), outcome("mlp.train",
                                                                      numerics=wrong)])
    ref = sp.Reference("ref", SUITE_VERSION, "m", {"matmul.fp32": 60.0, "mlp.train": 12500.0})
    card = QtScoreCard()
    qtbot.addWidget(card)
    assert snap.profile is not None
    card.show_score(snap.profile, sp.score(snap, ref), ref)
    assert card.value.text() == "withheld" and "numerics check failed" in card.note.text()
    good = profile_snapshot(machine, [outcome("matmul.fp32"), outcome("mlp.train")])
    assert good.profile is not None
    card.show_score(good.profile, sp.score(good, ref), ref)
    assert card.value.text() == "2000" and card.interval.text().startswith("95% interval 1")
    assert card.groups["training"].text().startswith("2000 (")


# -- the profiles page ----------------------------------------------------------------------------
def two_profiles(w: QtMainWindow, title_a: str = "Xeon, default threads",
                 title_b: str = "Xeon, one thread") -> tuple[Path, Path]:
    """A profile, and a second made from it by model_copy with other values, both saved."""
    machine = w.report.to_report()
    a = profile_snapshot(machine, [outcome("matmul.fp32"), outcome("mlp.train"),
                                   outcome("transformer.latency")], title=title_a,
                         created_at="2026-11-20T10:00:00+00:00")
    assert a.profile is not None
    slower = tuple(t.model_copy(update={"value": t.value * 2, "low": t.low * 2,
                                        "high": t.high * 2})  # latency: twice the time
                   if t.test_id == "transformer.latency" else
                   t.model_copy(update={"value": t.value / 2, "low": t.low / 2,
                                        "high": t.high / 2}) for t in a.profile.tests)
    b = a.model_copy(update={
        "title": title_b, "created_at": "2026-11-21T10:00:00+00:00",
        "profile": a.profile.model_copy(update={"tests": slower,
                                                "settings": {"intra-op threads": "1"}})})
    pa, pb = profiles_dir() / "a.hwprof", profiles_dir() / "b.hwprof"
    save_snapshot(a, pa)
    save_snapshot(b, pb)
    return pa.resolve(), pb.resolve()


def listed(qtbot: QtBot, w: QtMainWindow, n: int) -> None:
    w.session.profiles.refresh()
    qtbot.waitUntil(lambda: w.profiles_page.model.rowCount() == n, timeout=WAIT_MS)


def test_profiles_page_lists_filters_renames_tags_and_compares(
    qtbot: QtBot, window: QtMainWindow
) -> None:
    a, b = two_profiles(window)
    listed(qtbot, window, 2)
    page = window.profiles_page
    assert page.visible_paths() == [b, a]  # newest first
    page.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by name
    assert page.visible_paths() == [a, b]
    # filter: any column, any case
    page.filter.setText("ONE THREAD")
    assert page.visible_paths() == [b]
    page.filter.clear()
    # rename and tag (the file changes in the background, then the list)
    page.rename(a, "Baseline <b>run</b>")
    qtbot.waitUntil(lambda: page.proxy.index(0, 0).data() == "Baseline <b>run</b>",
                    timeout=WAIT_MS)
    assert load_snapshot(a).title == "Baseline <b>run</b>"
    page.set_tags(a, "fast,  home ,fast")
    qtbot.waitUntil(lambda: load_snapshot(a).tags == ("fast", "home"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.proxy.index(0, 9).data() == "fast, home", timeout=WAIT_MS)
    page.filter.setText("home")
    assert page.visible_paths() == [a]
    page.filter.clear()
    # one selected: its score card and table
    page.select_paths([a])
    assert page.detail.currentWidget() is page.result
    assert page.result.table.rowCount() == 3
    assert page.result.facts.textFormat() == Qt.TextFormat.PlainText
    assert "Baseline <b>run</b>" in page.result.facts.text()
    # compare: b against a, half as fast everywhere
    page.select_paths([a, b])
    assert page.buttons["compare"].isEnabled()
    qtbot.mouseClick(page.buttons["compare"], Qt.MouseButton.LeftButton)
    view = page.comparison
    assert page.detail.currentWidget() is view
    assert "0.5× (" in view.overall.text() and "slower" in view.overall.text()
    assert "Baseline <b>run</b> wins" in view.wins.text()
    assert "settings: defaults vs intra-op threads 1" in view.differs.text()
    assert view.table.item(0, 0).text() == "overall (fp32 tests)"
    assert view.table.item(1, 1).text().startswith("0.5×")
    items = view.chart.getPlotItem().items
    assert len([i for i in items if isinstance(i, pg.BarGraphItem)]) == 2
    assert [i for i in items if isinstance(i, pg.ErrorBarItem)]
    key = view.key_labels[0]  # which colour is which profile
    assert key.textFormat() == Qt.TextFormat.PlainText
    assert key.text() == "Baseline <b>run</b> (the first)"


def test_profiles_page_deletes_to_the_trash_or_after_asking(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    a, b = two_profiles(window)
    listed(qtbot, window, 2)
    page = window.profiles_page
    asked: list[str] = []
    page.trash = lambda _p: False  # a system without a trash
    page.ask = lambda _t, text: bool(asked.append(text))  # "No"
    page.select_paths([b])
    qtbot.mouseClick(page.buttons["delete"], Qt.MouseButton.LeftButton)
    assert asked and "deleted for good" in asked[0] and b.exists()
    page.ask = lambda _t, text: True
    assert page.delete(b)
    assert not b.exists() and page.visible_paths() == [a]
    # with a trash: no question, the file moves there
    trash = tmp_path / "trash"
    trash.mkdir()
    page.trash = lambda p: bool(shutil.move(str(p), trash / p.name))
    page.ask = lambda _t, _x: pytest.fail("a trashed profile needs no question")
    assert page.delete(a)
    assert (trash / "a.hwprof").exists() and page.model.rowCount() == 0
    assert page.list_stack.currentWidget() is page.empty


def test_profiles_from_other_machines_join_the_list(
    qtbot: QtBot, window: QtMainWindow, tmp_path: Path
) -> None:
    a, _b = two_profiles(window)
    listed(qtbot, window, 2)
    page = window.profiles_page
    other = load_snapshot(a)
    host = other.machine.host.model_copy(update={"hostname": "<b>gpu-box</b>"})
    other = other.model_copy(update={"machine": other.machine.model_copy(update={"host": host}),
                                     "title": ""})
    path = tmp_path / "from-gpu-box.hwprof"
    save_snapshot(other, path)
    assert page.add_file(path)
    assert page.model.rowCount() == 3
    row = next(r for r in range(page.proxy.rowCount())
               if page.proxy.index(r, 0).data(PATH_ROLE) == str(path.resolve()))
    assert page.proxy.index(row, 2).data() == "<b>gpu-box</b>"  # plain text, never markup
    assert page.proxy.index(row, 10).data() == "opened file"
    page.ask = lambda _t, _x: pytest.fail("an opened file is not deleted")
    assert page.delete(path.resolve())
    assert path.exists() and page.model.rowCount() == 2
    # a snapshot that is not a profile is refused with a message
    session_file = tmp_path / "session.hwprof"
    save_snapshot(Snapshot(app_version="1", machine=other.machine), session_file)
    assert not page.add_file(session_file)
    assert "not a profile" in page.note.text()


def test_the_deployment_checkbox_plans_the_section_and_the_view_shows_it(
        qtbot: QtBot, window: QtMainWindow) -> None:
    from hwprof.core.profile import DeploySection
    from hwprof.core.profile import TestOutcome as Outcome
    from hwprof.core.results import DeployedAccuracy
    from hwprof.gui.profile_views import QtProfileResult

    home = window.home_page
    before = home.duration.text()
    assert not home.deploy.isChecked()
    assert not any(t.startswith("MobileNet-V2 inference, TFLite") for t in column(home.tests, 0))
    home.deploy.setChecked(True)  # the planned tests' table and the ETA include it
    titles = column(home.tests, 0)
    assert "MobileNet-V2 inference, TFLite int8" in titles
    assert home.duration.text() != before
    # a profile with a deployment section: its rows, accuracy, and the sentence against TF
    acc = DeployedAccuracy(samples=16, max_relative_error=0.2, mean_relative_error=0.05,
                           top1_agreement=0.31)
    tf_test = outcome("transformer.infer")
    int8 = Outcome(test_id="tflite.mobilenet_v2.infer.int8", status="ok", unit="img/s",
                   value=2320.0, low=2300.0, high=2340.0, windows=6, precision="int8",
                   accuracy=acc, model_bytes=3_900_000)
    snap = profile_snapshot(window.session.machine.to_report(), [tf_test])
    assert snap.profile is not None
    record = snap.profile.model_copy(update={"deployment": DeploySection(tests=(int8,))})
    view = QtProfileResult()
    qtbot.addWidget(view)
    view.show_profile(record, None, None)
    assert column(view.table, 0)[-1] == "MobileNet-V2 inference, TFLite int8 (deployment)"
    assert "top-1 agreement 31%" in column(view.table, 5)[-1]
    text = view.deployment.text()
    assert view.deployment.isVisibleTo(view) and "hwprof-deploy/1" in text
    assert "no valid TensorFlow fp32 test (mobilenet_v2.infer)" in text
    view.show_profile(snap.profile, None, None)  # an old profile: no section
    assert not view.deployment.isVisibleTo(view)
