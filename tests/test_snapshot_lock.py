"""Snapshots written by several processes at once, through links, and never over a file unasked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from snapshot_helpers import REPO, fake_run, hwprof, machine, saved, snapshot_with_runs

from hwprof.core.snapshot import (
    append_run,
    load_snapshot,
    save_snapshot,
    update_snapshot,
)
from hwprof.core.snapshot_io import LOCK_TIMEOUT_ENV, SnapshotError, lock_path
from hwprof.services.snapshots import find_snapshots, list_snapshots

WRITERS, APPENDS = 8, 5

# A writer process: waits for the start signal, then appends its runs as fast as it can.
WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hwprof.core.snapshot import SnapshotRun, append_run
    target, template, go, me, count = sys.argv[1:6]
    run = SnapshotRun.model_validate_json(Path(template).read_text())
    while not Path(go).exists():
        time.sleep(0.005)
    for k in range(int(count)):
        def no_machine():
            raise AssertionError("the snapshot exists: no new one is made")
        append_run(target, run.model_copy(update={"run_id": f"{me}-{k}"}), no_machine)
""")

# Holds a snapshot's lock until its stdin closes.
HOLDER = textwrap.dedent("""
    import sys
    from filelock import FileLock
    with FileLock(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
""")


def python(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, text=True, **kw)


def test_many_processes_appending_at_once_lose_no_run(tmp_path: Path) -> None:
    target = saved(tmp_path / "same.hwprof.json", 1)
    template, go = tmp_path / "run.json", tmp_path / "go"
    template.write_text(fake_run().model_dump_json())
    procs = [python("-c", WRITER, str(target), str(template), str(go), f"p{i}", str(APPENDS),
                    stderr=subprocess.PIPE) for i in range(WRITERS)]
    try:
        time.sleep(1.0)  # let them import, so they start together
        go.touch()
        errors = [p.communicate(timeout=120)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * WRITERS, errors
    ids = [r.run_id for r in load_snapshot(target).runs]
    assert len(ids) == 1 + WRITERS * APPENDS  # 41: before the lock, about 10 survived
    assert set(ids[1:]) == {f"p{i}-{k}" for i in range(WRITERS) for k in range(APPENDS)}
    for i in range(WRITERS):  # each writer's runs in its own order
        mine = [x for x in ids if x.startswith(f"p{i}-")]
        assert mine == [f"p{i}-{k}" for k in range(APPENDS)]
    # no temporary file is left, and the hidden lock file is not taken for a snapshot
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".same.hwprof.json.lock", "go", "run.json", "same.hwprof.json"]
    assert find_snapshots(tmp_path) == [target]
    assert [r["runs"] for r in list_snapshots(tmp_path)] == [41]


def test_a_writer_that_holds_the_lock_too_long_gets_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = saved(tmp_path / "held.hwprof.json", 2)
    before = target.read_bytes()
    holder = python("-c", HOLDER, str(lock_path(target)), stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
        t0 = time.monotonic()
        with pytest.raises(SnapshotError) as err:
            append_run(target, fake_run(), machine)
        waited = time.monotonic() - t0
        message = str(err.value)
        assert str(target) in message
        assert "another hwprof process has been writing this file for more than 0.5 s" in message
        assert ".held.hwprof.json.lock" in message and "try again" in message
        assert 0.4 < waited < 10
        with pytest.raises(SnapshotError, match="another hwprof process"):  # a save waits too
            save_snapshot(snapshot_with_runs(1), target)
        assert target.read_bytes() == before
    finally:
        holder.communicate(input="", timeout=30)
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "30")
    assert len(append_run(target, fake_run(), machine).runs) == 3  # free again


def test_save_refuses_an_existing_file_unless_asked(tmp_path: Path) -> None:
    keep = saved(tmp_path / "keep.hwprof.json", 4)
    before = keep.read_bytes()
    with pytest.raises(SnapshotError, match=r"exists already.*--force"):
        save_snapshot(snapshot_with_runs(1), keep, overwrite=False)
    assert keep.read_bytes() == before and len(load_snapshot(keep).runs) == 4
    save_snapshot(snapshot_with_runs(1), keep, overwrite=True)
    assert len(load_snapshot(keep).runs) == 1


def test_run_save_onto_an_existing_snapshot_is_refused_before_running(tmp_path: Path) -> None:
    keep = saved(tmp_path / "keep.hwprof.json", 4)
    before = keep.read_bytes()
    done = hwprof("run", "matmul", "--size", "64", "--steps", "5", "--warmup", "1",
                  "--save", str(keep), timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"--save {keep}: the file exists" in done.stderr and "--force" in done.stderr
    assert "TensorFlow" not in done.stderr and done.stdout == ""  # nothing ran
    assert keep.read_bytes() == before
    assert len(load_snapshot(keep).runs) == 4


def test_append_through_a_link_writes_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    real = saved(tmp_path / "real.hwprof.json", 1)
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "link.hwprof.json"
    link.symlink_to(real)
    append_run(link, fake_run("through"), machine)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert [r.run_id for r in load_snapshot(real).runs] == ["run0", "through"]
    save_snapshot(snapshot_with_runs(2), link)
    assert link.is_symlink() and len(load_snapshot(real).runs) == 2
    # the lock is the target's, whichever name a writer uses
    assert (tmp_path / ".real.hwprof.json.lock").exists()
    assert not (tmp_path / "links" / ".link.hwprof.json.lock").exists()


def test_dangling_links_and_loops_are_refused(tmp_path: Path) -> None:
    dangling = tmp_path / "d.hwprof.json"
    dangling.symlink_to(tmp_path / "gone" / "x.hwprof.json")
    a, b = tmp_path / "a.hwprof.json", tmp_path / "b.hwprof.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(SnapshotError, match="which does not exist"):
        append_run(dangling, fake_run(), machine)
    with pytest.raises(SnapshotError, match="loop"):
        append_run(a, fake_run(), machine)
    with pytest.raises(SnapshotError, match="loop"):
        save_snapshot(snapshot_with_runs(1), b)
    assert dangling.is_symlink() and a.is_symlink() and b.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.hwprof.json", "b.hwprof.json", "d.hwprof.json"]  # nothing made anywhere
    # the command line refuses them before it runs anything
    for path, problem in ((dangling, "does not exist"), (a, "loop")):
        done = hwprof("run", "matmul", "--size", "64", "--steps", "5", "--append", str(path),
                      timeout=120)
        assert done.returncode == 2 and problem in done.stderr, done.stderr


def test_run_append_refuses_a_damaged_snapshot_before_running(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hwprof.json"
    bad.write_text('{"format": "hwprof.snapshot", "schema_version": 1, "app_ver')
    done = hwprof("run", "matmul", "--size", "64", "--steps", "5", "--append", str(bad),
                  timeout=120)
    assert done.returncode == 2
    assert f"--append {bad}: is truncated" in done.stderr and "nothing was run" in done.stderr
    assert bad.read_text().endswith("app_ver")


def test_update_keeps_what_another_writer_added(tmp_path: Path) -> None:
    """What the window's autosave does: add the session's runs the file lacks, drop nothing."""
    path = tmp_path / "session.hwprof.json.gz"
    session = snapshot_with_runs(1)

    def merge(on_disk):  # type: ignore[no-untyped-def]
        return session if on_disk is None else on_disk.with_new_runs(session.runs)

    update_snapshot(path, merge)
    append_run(path, fake_run("from-the-cli"), machine)
    session = session.with_run(fake_run("second"))
    update_snapshot(path, merge)
    update_snapshot(path, merge)  # saving again adds nothing twice
    assert [r.run_id for r in load_snapshot(path).runs] == ["run0", "from-the-cli", "second"]


def test_the_cluster_chief_appends_with_append_and_refuses_with_save(tmp_path: Path) -> None:
    from hwprof.core.snapshot import ClusterNode
    from hwprof.services.cluster import ClusterOutcome, NodeResult, store_outcome

    cluster = ("10.0.0.1:2222", "10.0.0.2:2222")

    def outcome(own: str, worker: str = "worker") -> ClusterOutcome:
        return ClusterOutcome(own=fake_run(own), nodes=(NodeResult(1, fake_run(worker),
                                                                   machine()),),
                              missing=(), problems=(), cluster=cluster)

    old = saved(tmp_path / "old.hwprof.json", 3)
    node = ClusterNode(task_index=1, address="10.0.0.2:2222", machine=machine())
    snap = store_outcome(outcome("chief"), old, machine(), append=True, force=False)
    on_disk = load_snapshot(old)
    assert on_disk == snap
    assert [r.run_id for r in on_disk.runs] == ["run0", "run1", "run2", "chief", "worker"]
    assert on_disk.cluster_nodes == (node,)
    again = store_outcome(outcome("chief2", "worker2"), old, machine(), append=True,
                          force=False)
    assert len(again.runs) == 7 and again.cluster_nodes == (node,)  # the same node once
    before = old.read_bytes()
    with pytest.raises(SnapshotError, match="exists already"):
        store_outcome(outcome("chief"), old, machine(), append=False, force=False)
    assert old.read_bytes() == before
    new = tmp_path / "new.hwprof.json"
    store_outcome(outcome("chief"), new, machine(), append=False, force=False)
    assert [r.run_id for r in load_snapshot(new).runs] == ["chief", "worker"]


@pytest.mark.tf
def test_two_cli_runs_appending_at_once_both_land(tmp_path: Path) -> None:
    same = tmp_path / "same.hwprof.json"
    cmd = [sys.executable, "-m", "hwprof", "run", "matmul", "--size", "64", "--steps", "5",
           "--warmup", "1", "--append", str(same)]
    procs = [python(*cmd[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        outs = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0], [e for _o, e in outs]
    assert all("hwprof run: added to" in e for _o, e in outs)
    runs = load_snapshot(same).runs
    assert len(runs) == 2 and runs[0].run_id != runs[1].run_id


@pytest.mark.tf
def test_cli_append_says_when_another_process_holds_the_file(tmp_path: Path) -> None:
    target = saved(tmp_path / "held.hwprof.json", 1)
    before = target.read_bytes()
    holder = python("-c", HOLDER, str(lock_path(target)), stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        done = hwprof("run", "matmul", "--size", "64", "--steps", "5", "--warmup", "1",
                      "--append", str(target), env={LOCK_TIMEOUT_ENV: "1"}, timeout=240)
    finally:
        holder.communicate(input="", timeout=30)
    assert done.returncode == 1
    assert "another hwprof process has been writing this file for more than 1 s" in done.stderr
    assert "nothing was overwritten" in done.stderr and "throughput" in done.stdout
    assert target.read_bytes() == before
    assert not os.environ.get(LOCK_TIMEOUT_ENV)


# Holds a snapshot's lock, and when its stdin closes adds a run to the file before letting go.
APPENDING_HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from filelock import FileLock
    from hwprof.core.snapshot import SnapshotRun, load_snapshot, snapshot_json
    from hwprof.core.snapshot_io import write_json
    target, lock, template = sys.argv[1:4]
    with FileLock(lock):
        print("held", flush=True)
        sys.stdin.read()
        run = SnapshotRun.model_validate_json(Path(template).read_text())
        write_json(Path(target), snapshot_json(load_snapshot(target).with_run(run)))
""")


def test_tagging_a_snapshot_keeps_what_another_process_wrote_meanwhile(tmp_path: Path) -> None:
    import threading

    from hwprof.services.snapshots import set_snapshot_tags

    target = saved(tmp_path / "tagged.hwprof.json", 2)
    template = tmp_path / "run.json"
    template.write_text(fake_run("theirs").model_dump_json())
    holder = python("-c", APPENDING_HOLDER, str(target), str(lock_path(target)), str(template),
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    tagger = threading.Thread(target=set_snapshot_tags, args=(target, ("mine",)))
    tagger.start()
    time.sleep(0.5)  # the tagger is waiting for the lock now
    holder.communicate(input="", timeout=30)  # the other process adds its run and lets go
    tagger.join(30)
    after = load_snapshot(target)
    assert after.tags == ("mine",)
    assert [r.run_id for r in after.runs] == ["run0", "run1", "theirs"]  # nothing lost
