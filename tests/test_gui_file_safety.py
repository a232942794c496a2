"""The window's snapshots: the autosave drops nobody's runs; Save never replaces an open file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_helpers import quick_functions
from pytestqt.qtbot import QtBot
from snapshot_helpers import fake_run, machine, saved

from hwprof.core.snapshot import append_run, load_snapshot
from hwprof.gui.main_window import QtMainWindow
from hwprof.gui.snapshots import SessionSnapshot

pytestmark = pytest.mark.gui


def test_the_autosave_keeps_runs_another_process_added(tmp_path: Path) -> None:
    session = SessionSnapshot()
    try:
        session.path = tmp_path / "session.hwprof.json.gz"
        session.add(fake_run("first"), machine())
        session.flush()
        append_run(session.path, fake_run("hwprof run --append"), machine)
        session.add(fake_run("second"), machine())
        session.flush()
    finally:
        session.close()
    ids = [r.run_id for r in load_snapshot(tmp_path / "session.hwprof.json.gz").runs]
    assert ids == ["first", "hwprof run --append", "second"]  # before: the middle one was lost


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[QtMainWindow]:
    w = QtMainWindow(quick_functions())
    w.confirm_close = lambda: True
    qtbot.addWidget(w)
    yield w
    w.close()


def test_save_and_export_never_replace_an_open_snapshot(
    window: QtMainWindow, tmp_path: Path
) -> None:
    opened = saved(tmp_path / "opened.hwprof.json", 4)
    before = opened.read_bytes()
    assert window.open_snapshot(opened)
    window.session.add(fake_run("mine"), machine())
    window.session.flush()
    assert not window.save_session(opened)
    assert "opened.hwprof.json is a snapshot this window has open" in window.status_label.text()
    assert not window.export_report(opened)
    assert window.session.path is not None
    autosave = window.session.path.read_bytes()
    assert not window.export_report(window.session.path)  # nor the session's own file
    assert opened.read_bytes() == before and window.session.path.read_bytes() == autosave
    other = tmp_path / "other.hwprof.json"
    assert window.save_session(other)
    assert [r.run_id for r in load_snapshot(other).runs] == ["mine"]
