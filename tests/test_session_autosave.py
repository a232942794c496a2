"""The session's autosave holds the snapshot lock: it drops only the runs the person removed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gui_helpers import quick_functions
from snapshot_helpers import fake_run, machine
from test_session_model import FakeRuns, spec

from hwprof.core.snapshot import append_run, load_snapshot
from hwprof.services.session import Session


@pytest.fixture
def session() -> Iterator[Any]:
    s = Session(run_function=FakeRuns(), detect_functions=quick_functions())
    yield s
    s.close()


def test_the_autosave_keeps_runs_another_process_added(session: Session) -> None:
    session.detect()
    session.enqueue([spec()])
    session.flush()
    path = session.autosave_path
    assert path is not None
    append_run(path, fake_run("hwprof run --append"), machine)  # another process, same file
    session.enqueue([spec("matmul")])
    session.flush()
    runs = load_snapshot(path).runs
    # before: the autosave rewrote the file from memory and the appended run was lost
    assert [r.run_id for r in runs][1] == "hwprof run --append"
    assert [r.spec.workload for r in runs] == ["mlp", "mlp", "matmul"]


def test_a_run_the_person_removes_leaves_the_file_and_the_others_stay(session: Session) -> None:
    session.detect()
    session.enqueue([spec(), spec("matmul")])
    session.flush()
    path = session.autosave_path
    assert path is not None
    append_run(path, fake_run("theirs"), machine)
    mine = [e.key for e in session.results if e.run.spec.workload == "mlp"]
    session.remove_results(mine)
    session.flush()
    runs = load_snapshot(path).runs
    assert [(r.spec.workload, r.run_id == "theirs") for r in runs] == [("matmul", False),
                                                                       ("mlp", True)]
