"""Snapshot schema v2: round trip, atomic writes, kind errors for bad files, migration, fuzz."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwprof.core import snapshot_io
from hwprof.core.results import StepTimings, WorkerReport, summarize
from hwprof.core.snapshot import (
    Snapshot,
    SnapshotRun,
    append_run,
    json_schema_text,
    load_snapshot,
    new_snapshot,
    save_snapshot,
    snapshot_from_document,
)
from hwprof.core.snapshot_io import SnapshotError
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord, metric_infos
from hwprof.services.detect import detect_all

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def machine():  # type: ignore[no-untyped-def]
    return detect_all(with_tensorflow=False)


def a_run(spec: RunSpec | None = None) -> SnapshotRun:
    spec = spec or RunSpec(workload="resnet50", mode="infer", batch_size=8, size=64,
                           precision="mixed_bfloat16", xla=True, intra_op_threads=2,
                           inter_op_threads=1, steps=3, duration_seconds=None)
    rep = WorkerReport(tensorflow_version="2.21.0", tf_device="/CPU:0", batch_size=8,
                       samples_per_step=8, flops_per_sample=4.1e9, time_to_first_step_s=2.5,
                       warmup_steps=3, warmup_end_s=99.0,
                       steps=StepTimings(start_s=(100.0, 100.5, 101.0), seconds=(0.5, 0.5, 0.4)),
                       stop_reason="steps", peak_memory_bytes=3_000_000_000,
                       memory_source="rss", final_loss=None, notes=("a note",))
    tel = TelemetryRecord(interval_seconds=0.25, unix_offset_s=1.7e9,
                          metrics=metric_infos(["cpu.util_percent", "cpu.package_power_watts"]),
                          timestamps_s=(99.5, 100.0, 100.5, 101.0, 101.5),
                          values={"cpu.util_percent": (10.0, 99.0, None, 98.5, 97.0),
                                  "cpu.package_power_watts": (20.0, 60.0, 61.0, 60.5, 59.0)})
    result = summarize(spec, rep, peak_flops=1e11, peak_source="test", telemetry=tel,
                       wall_seconds=9.0)
    return SnapshotRun(spec=spec, result=result, telemetry=tel, tags=("fast",))


def test_round_trip_keeps_every_field(machine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    snap = new_snapshot(machine, title="workstation", tags=("a", "b"), note="before the upgrade")
    snap = snap.with_run(a_run()).with_run(a_run(RunSpec(workload="mlp", steps=1)))
    assert snap.runs[0].result.energy_per_sample_joules is not None
    for name in ("s.hwprof.json", "s.hwprof.json.gz"):
        path = save_snapshot(snap, tmp_path / name)
        back = load_snapshot(path)
        assert back == snap
        assert back.model_dump() == snap.model_dump()
    assert (tmp_path / "s.hwprof.json.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_the_schema_file_is_current() -> None:
    kept = REPO / "resources" / "schema" / "hwprof.snapshot.v2.json"
    assert kept.read_text() == json_schema_text(), (
        "the snapshot JSON Schema is stale: python -m hwprof.core.snapshot > "
        "resources/schema/hwprof.snapshot.v2.json"
    )


def test_new_files_are_shareable(machine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    old = os.umask(0o022)
    try:
        path = save_snapshot(new_snapshot(machine), tmp_path / "x.hwprof.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_crash_before_rename_keeps_the_old_snapshot(
    machine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    path = save_snapshot(new_snapshot(machine).with_run(a_run()), tmp_path / "s.hwprof.json")
    before = path.read_bytes()

    def crash(tmp_name: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshot_io, "_replace", crash)
    with pytest.raises(SnapshotError, match="No space left on device"):
        append_run(path, a_run(), lambda: machine)
    assert path.read_bytes() == before
    assert len(load_snapshot(path).runs) == 1
    # no temporary left; the lock file stays (deleting it would race with the next writer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".s.hwprof.json.lock", "s.hwprof.json"]


def test_append_makes_then_extends(machine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.hwprof.json.gz"
    append_run(path, a_run(), lambda: machine)
    append_run(path, a_run(), lambda: machine)
    assert len(load_snapshot(path).runs) == 2


def test_appending_to_a_damaged_file_changes_nothing(machine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.hwprof.json"
    path.write_text('{"format": "hwprof.snapshot", "schema_version": 1, "app_ver')
    with pytest.raises(SnapshotError, match="truncated"):
        append_run(path, a_run(), lambda: machine)
    assert path.read_text().endswith("app_ver")


def valid_doc(machine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return json.loads(new_snapshot(machine).with_run(a_run()).model_dump_json())


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty (0 bytes)"),
        (b"   \n", "is empty (only white space)"),
        (b'{"format": "hwprof.snapshot", "sch', "is truncated"),
        (b"[1, 2, 3]", "the JSON is a list, not an object"),
        (b'{"name": "my-package", "version": "1.0"}', 'no "format": "hwprof.snapshot"'),
        (b'{"format": "hwprof.snapshot", "schema_version": 7}', "newer hwprof (snapshot schema v7"),
        (b'{"format": "hwprof.snapshot", "schema_version": "1"}', "no valid schema_version"),
        (b'{"format": "hwprof.snapshot", "schema_version": 1}', "is damaged or incomplete"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not text"),
        (gzip.compress(b'{"format": "hwprof.snap', mtime=0)[:-6], "damaged or truncated gzip"),
    ],
)
def test_bad_files_get_one_clear_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "bad.hwprof.json"
    path.write_bytes(content)
    with pytest.raises(SnapshotError) as err:
        load_snapshot(path)
    assert problem in str(err.value)
    assert str(path) in str(err.value)
    assert path.read_bytes() == content


def test_v1_is_migrated_and_saved_as_v2(tmp_path: Path) -> None:
    """A file that hwprof wrote before v2 (commit c7d6cb7, a real run) opens as it was."""
    src = DATA / "snapshot-v1.hwprof.json"
    assert json.loads(src.read_text())["schema_version"] == 1
    snap = load_snapshot(src)
    assert snap.schema_version == 2 and snap.kind == "session" and snap.profile is None
    (run,) = snap.runs
    assert run.spec.workload == "mlp" and run.spec.gpu_vendor is None and run.result.ok
    save_snapshot(snap, tmp_path / "again.hwprof.json")
    assert json.loads((tmp_path / "again.hwprof.json").read_text())["schema_version"] == 2


def test_v0_is_migrated() -> None:
    snap = load_snapshot(DATA / "snapshot-v0.hwprof.json")
    assert snap.schema_version == 2
    assert snap.tags == ("prototype", "laptop")
    assert snap.environment_variables == {"OMP_NUM_THREADS": "2"}
    assert snap.title == "a v0 snapshot from the prototype"
    assert len(snap.runs) == 1 and snap.runs[0].spec.workload == "matmul"
    assert snap.runs[0].result.ok


def test_a_damaged_v0_file_is_refused_kindly(tmp_path: Path) -> None:
    path = tmp_path / "old.hwprof.json"
    path.write_text('{"hwprof_snapshot": 0, "host": 5}')
    with pytest.raises(SnapshotError, match="is damaged: it could not be upgraded from schema v0"):
        load_snapshot(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_bytes_only_raise_the_documented_error(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.hwprof.json"
        path.write_bytes(data)
        with pytest.raises(SnapshotError):
            load_snapshot(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_mutated_snapshots_only_raise_the_documented_error(  # type: ignore[no-untyped-def]
    machine, data: st.DataObject
) -> None:
    doc = valid_doc(machine)
    # replace one value somewhere in the document with an arbitrary JSON value
    node: object = doc
    path: list[object] = []
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(node.keys()) if isinstance(node, dict)
                                        else list(range(len(node)))))
        path.append(key)
        node = node[key]  # type: ignore[index]
    if path:
        parent: object = doc
        for key in path[:-1]:
            parent = parent[key]  # type: ignore[index]
        parent[path[-1]] = data.draw(json_values)  # type: ignore[index]
    else:
        doc = data.draw(json_values)  # type: ignore[assignment]
    try:
        snap = snapshot_from_document(doc, "fuzz.hwprof.json")
    except SnapshotError:
        return
    assert isinstance(snap, Snapshot)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinities_in_a_file_are_refused(machine, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                  literal: str) -> None:
    doc = valid_doc(machine)
    doc["runs"][0]["result"]["throughput_per_second"] = 12.5  # type: ignore[index]
    text = json.dumps(doc).replace("12.5", literal, 1)
    path = tmp_path / "nan.hwprof.json"
    path.write_text(text)
    with pytest.raises(SnapshotError, match="throughput_per_second: Input should be a finite"):
        load_snapshot(path)
    assert path.read_text() == text
