"""The session model's profiles, without Qt: events, saving, the list, rename/tag/delete, compare.

Profiles here come from :class:`profile_fakes.FakeProfile` (``run_profile``'s signature and
events, no TensorFlow); the window's tests run a real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gui_helpers import quick_functions
from profile_fakes import FakeProfile, outcome, profile_snapshot

from hwprof.core.paths import profiles_dir
from hwprof.core.profile import NumericsCheck
from hwprof.core.snapshot import load_snapshot, new_snapshot, save_snapshot
from hwprof.core.suite import SUITE_VERSION
from hwprof.services import profile as sp
from hwprof.services.profile_session import (
    ProfileEnded,
    ProfilesChanged,
    ProfileStarted,
    ProfileTestProgressed,
    comparison_names,
    differences,
)
from hwprof.services.session import Session, SessionError

ONLY = ["matmul.fp32", "mlp.train"]


@pytest.fixture
def session() -> Session:
    s = Session(detect_functions=quick_functions(), autosave=False)
    s.detect()  # the synchronous executor: detection is done when this returns
    assert s.machine.complete
    s.profiles.reference = None
    return s


def record_events(s: Session) -> list[Any]:
    seen: list[Any] = []
    s.subscribe(seen.append)
    return seen


def test_a_profile_forwards_its_events_and_lands_in_the_profiles_folder(session: Session) -> None:
    fake = FakeProfile(fail={"mlp.train": ("out_of_memory", "ResourceExhaustedError: OOM")})
    session.profiles.run_function = fake
    seen = record_events(session)
    active = session.profiles.start("cpu", only=ONLY, timed_seconds=1.0)
    assert fake.calls == [{"device": "cpu", "only": ONLY, "timed_seconds": 1.0,
                           "length": "quick"}]
    kinds = [type(e).__name__ for e in seen if not isinstance(e, ProfileTestProgressed)]
    assert kinds == ["ProfileStarted", "ProfilePlanned", "TestStarted", "TestFinished",
                     "TestStarted", "TestFinished", "ProfileEnded", "ProfilesChanged"]
    progressed = [e for e in seen if isinstance(e, ProfileTestProgressed)]
    assert progressed and progressed[-1].progress.points  # the live chart's throughput
    assert {e.worker.test_id for e in progressed} == set(ONLY)
    assert active.ended and not active.stopped and not session.profiles.busy
    assert [(t.test_id, t.state, t.reason) for t in active.tests] == [
        ("matmul.fp32", "done", None),
        ("mlp.train", "failed", "ResourceExhaustedError: OOM")]
    assert active.eta_now() == 0.0 and active.fraction() == 1.0
    # saved where profiles live, as a profile snapshot, and listed
    assert active.path is not None and active.path.parent == profiles_dir()
    saved = load_snapshot(active.path)
    assert saved.kind == "profile" and saved.profile == active.snapshot.profile  # type: ignore
    assert [e.path for e in session.profiles.entries] == [active.path.resolve()]
    changed = [e for e in seen if isinstance(e, ProfilesChanged)][-1]
    assert changed.entries[0].record.device == "cpu"


def test_a_stopped_profile_shows_what_it_measured_and_is_not_saved(session: Session) -> None:
    session.profiles.run_function = FakeProfile()
    seen = record_events(session)
    session.subscribe(lambda e: isinstance(e, sp.TestStarted) and session.profiles.stop())
    active = session.profiles.start("cpu", only=ONLY, timed_seconds=1.0)
    assert active.ended and active.stopped and active.path is None
    assert [t.state for t in active.tests] == ["cancelled", "cancelled"]
    assert not list(profiles_dir().iterdir())
    assert isinstance(seen[-1], ProfileEnded)


def test_a_profile_refuses_what_it_cannot_do(session: Session) -> None:
    session.profiles.run_function = FakeProfile()
    with pytest.raises(SessionError, match="no device gpu:3"):
        session.profiles.start("gpu:3")
    with pytest.raises(SessionError, match="unknown test"):
        session.profiles.start("cpu", only=["matmul.fp64"])
    fresh = Session(autosave=False)  # nothing detected yet
    with pytest.raises(SessionError, match="still being detected"):
        fresh.profiles.start("cpu")


def test_started_event_lists_the_plan_before_the_run_says_anything(session: Session) -> None:
    session.profiles.run_function = FakeProfile()
    seen = record_events(session)
    session.profiles.start("cpu", only=["matmul.fp32", "matmul.bf16", "mlp.train"],
                           timed_seconds=1.0)
    started = seen[0]
    assert isinstance(started, ProfileStarted)
    assert [t.test_id for t in started.profile.tests] == ["matmul.fp32", "matmul.bf16",
                                                          "mlp.train"]


def save_profile(machine: Any, folder: Path, name: str, scale: float = 1.0,
                 **kw: Any) -> Path:
    snap = profile_snapshot(machine, [outcome("matmul.fp32", scale=scale),
                                      outcome("mlp.train", scale=scale)], **kw)
    path = folder / name
    save_snapshot(snap, path)
    return path


def test_the_list_renames_tags_deletes_and_compares(session: Session, tmp_path: Path) -> None:
    machine = session.machine.to_report()
    folder = profiles_dir()
    a = save_profile(machine, folder, "a.hwprof", title="default threads",
                     created_at="2026-11-20T10:00:00+00:00")
    b = save_profile(machine, folder, "b.hwprof", scale=2.0, title="",
                     created_at="2026-11-21T10:00:00+00:00")
    save_snapshot(new_snapshot(machine, title="a session"), folder / "s.hwprof")  # not a profile
    (folder / "bad.hwprof").write_text("{not json")
    profiles = session.profiles
    profiles.refresh()
    assert [e.path.name for e in profiles.entries] == ["b.hwprof", "a.hwprof"]  # newest first
    assert [p.name for p, _ in profiles.unreadable] == ["bad.hwprof"]
    entry_b = profiles.entry(b.resolve())
    assert entry_b is not None and entry_b.name == "Test CPU on " + machine.host.hostname
    # rename and tag: the file changes (under its lock), and the list with it
    profiles.rename(a.resolve(), "  one   thread ")
    profiles.set_tags(a.resolve(), ("fast", "home"))
    on_disk = load_snapshot(a)
    assert on_disk.title == "one thread" and on_disk.tags == ("fast", "home")
    entry_a = profiles.entry(a.resolve())
    assert entry_a is not None and entry_a.name == "one thread" and entry_a.tags == ("fast", "home")
    # compare: b against a is twice as fast everywhere
    comparison, _entries = profiles.compare([a.resolve(), b.resolve()])
    assert comparison.names[0] == "one thread"
    overall = comparison.overall[0]
    assert overall is not None and overall.ratio == pytest.approx(2.0)
    assert overall.low is not None and overall.low > 1.0
    assert "wins" in comparison.wins[0]
    with pytest.raises(SessionError, match="two or more"):
        profiles.compare([a.resolve()])
    # a profile from another machine joins the list; deleting it only takes it off the list
    other = save_profile(machine, tmp_path, "other.hwprof", label="Other GPU")
    entry = profiles.open_file(other)
    assert entry.source == "opened" and len(profiles.all_entries()) == 3
    profiles.delete(entry.path)
    assert other.exists() and len(profiles.all_entries()) == 2
    # a session snapshot is not a profile
    with pytest.raises(SessionError, match="not a profile"):
        profiles.open_file(folder / "s.hwprof")
    # opening a profile through File ▸ Open puts it on the list too
    session.open_snapshot(other)
    assert any(e.path == other.resolve() for e in profiles.all_entries())
    # delete one of the profiles folder: the file goes
    profiles.delete(b.resolve())
    assert not b.exists() and profiles.entry(b.resolve()) is None


def test_names_and_differences_for_a_comparison(session: Session, tmp_path: Path) -> None:
    machine = session.machine.to_report()
    folder = profiles_dir()
    save_profile(machine, folder, "a.hwprof", title="same", created_at="2026-11-20T10:00:00+00:00")
    save_profile(machine, folder, "b.hwprof", title="same", created_at="2026-11-21T10:00:00+00:00")
    session.profiles.refresh()
    entries = session.profiles.entries
    names = comparison_names(entries)
    assert len(set(names)) == 2 and all(n.startswith("same (2026-11-2") for n in names)
    other = entries[1]
    changed = type(other)(**{**other.__dict__, "tensorflow_version": "2.0",
                             "environment": (("TF_ENABLE_ONEDNN_OPTS", "0"),)})
    lines = differences([entries[0], changed])
    assert any(line.startswith("TensorFlow: ") and line.endswith(" vs 2.0") for line in lines)
    assert any("TF_ENABLE_ONEDNN_OPTS=0" in line for line in lines)


def test_scores_need_a_reference_and_right_numerics(session: Session) -> None:
    machine = session.machine.to_report()
    ref = sp.Reference("ref", SUITE_VERSION, "a machine", {"matmul.fp32": 60.0,
                                                           "mlp.train": 12500.0})
    session.profiles.reference = ref
    save_profile(machine, profiles_dir(), "a.hwprof")
    wrong = NumericsCheck(max_relative_error=0.5, tolerance=0.02, passed=False, detail="wrong")
    snap = profile_snapshot(machine, [outcome("matmul.fp32"),
                                      outcome("mlp.train", numerics=wrong)])
    save_snapshot(snap, profiles_dir() / "b.hwprof")
    session.profiles.refresh()
    by_name = {e.path.name: e for e in session.profiles.entries}
    good = by_name["a.hwprof"].score
    assert good is not None and good.overall is not None
    assert good.overall.value == pytest.approx(2000.0)
    bad = by_name["b.hwprof"].score
    assert bad is not None and bad.overall is None and "numerics" in (bad.invalid_reason or "")
