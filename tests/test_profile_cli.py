"""`hwprof profile`, `hwprof profile --compare`, `hwprof compare` and `hwprof report` of profiles.

Real processes and real TensorFlow on the CPU, kept short (two cheap tests, one second each):
one profile saved into the profiles folder with --json, one with --intra-threads 1 saved
elsewhere with the table, one cancelled with SIGINT half way. The comparisons that need a
verdict use copies of a real profile with their values edited, so the verdict is known.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hwprof.core.profile import ProfileRecord
from hwprof.core.profile import TestOutcome as Outcome  # not a pytest class
from hwprof.core.snapshot import Snapshot, load_snapshot, new_snapshot, save_snapshot

REPO = Path(__file__).resolve().parent.parent
ONLY = ["--only", "matmul.fp32,mlp.train", "--seconds", "1"]
HOSTILE = "<script>alert('x')</script>[/bogus]\x1b[31m\u202e"


def hwprof(*args: str, data: Path, timeout: float = 300,
           columns: int = 110) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HWPROF_DATA_DIR": str(data), "KERAS_HOME": str(data / "keras"),
           "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two real profiles: A into the profiles folder (--json), B elsewhere (--intra-threads 1)."""
    data = tmp_path_factory.mktemp("data")
    a = hwprof("profile", *ONLY, "--json", data=data)
    assert a.returncode == 0, a.stderr
    b_path = tmp_path_factory.mktemp("elsewhere") / "b.hwprof.json"
    b = hwprof("profile", *ONLY, "--intra-threads", "1", "--save", str(b_path), data=data,
               columns=160)  # the score column makes the table wider than 110
    assert b.returncode == 0, b.stderr
    yield {"data": data, "a": a, "a_doc": json.loads(a.stdout), "b": b, "b_path": b_path}


@pytest.mark.tf
def test_a_profile_is_saved_into_the_profiles_folder_as_json_says(
        profiles: dict[str, Any]) -> None:
    doc = profiles["a_doc"]
    saved = list((profiles["data"] / "profiles").iterdir())
    assert [str(p) for p in saved if p.name.endswith(".hwprof")] == [doc["path"]]
    assert f"saved {doc['path']}" in profiles["a"].stderr
    snap = load_snapshot(doc["path"])
    assert snap.kind == "profile" and snap.profile is not None
    record = snap.profile
    assert [t.test_id for t in record.tests] == ["matmul.fp32", "mlp.train"]
    assert all(t.status == "ok" and t.value and t.value > 0 for t in record.tests)
    assert {t.run_id for t in record.tests} == {r.run_id for r in snap.runs}
    assert record.settings["timed seconds per test"] == "1"
    assert record.partial and record.overhead is not None
    # the JSON document: the record, the scores against the shipped reference, the split
    assert doc["record"]["tests"][0]["unit"] == "GFLOP/s"
    assert doc["reference"]["suite"] == "hwprof-suite/1" and doc["score_note"] is None
    assert doc["scores"]["groups"]["overall"]["value"] > 0
    assert doc["scores"]["groups"]["overall"]["tests"] == 2  # a partial profile: its two tests
    assert set(doc["scores"]["per_test"]) == {"matmul.fp32", "mlp.train"}
    assert {row["what"] for row in doc["overhead"]} >= {"timed", "warm-up"}
    # progress: each test's outcome as it ended, on stderr
    err = profiles["a"].stderr
    assert "[1/2] Matrix multiply, fp32: starting" in err
    assert "[2/2] MLP training:" in err and "samples/s" in err


@pytest.mark.tf
def test_the_table_and_save_elsewhere(profiles: dict[str, Any]) -> None:
    out, err = profiles["b"].stdout, profiles["b"].stderr
    for text in ("result (95% interval)", "% of ceiling", "numerics", "Matrix multiply, fp32",
                 "GFLOP/s", "MLP training", "samples/s", "scores (1000 = ", "  overall: ",
                 "where the time went", "outside measuring", "intra-op threads 1"):
        assert text in out, text
    assert f"saved {profiles['b_path']}" in err
    record = load_snapshot(profiles["b_path"]).profile
    assert record is not None and record.settings["intra-op threads"] == "1"


@pytest.mark.tf
def test_the_data_folder_listing_shows_profiles(profiles: dict[str, Any]) -> None:
    done = hwprof("snapshots", "--json", data=profiles["data"])
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    row = next(r for r in rows if r["path"] == profiles["a_doc"]["path"])
    assert row["kind"] == "profile"
    assert row["profile"]["device"] == "cpu" and row["profile"]["score"]["value"] > 0
    table = hwprof("snapshots", data=profiles["data"], columns=200).stdout
    assert "profile of" in table  # the cell wraps with its score: the JSON above has it


@pytest.mark.tf
def test_two_real_profiles_compare(profiles: dict[str, Any], tmp_path: Path) -> None:
    a = profiles["a_doc"]["path"]
    done = hwprof("profile", "--compare", a, str(profiles["b_path"]), data=profiles["data"])
    assert done.returncode == 0, done.stderr
    assert "intra-op threads" in done.stdout  # what differs between the profiles
    assert "each test against" in done.stdout and "overall" in done.stdout
    doc = json.loads(hwprof("compare", a, str(profiles["b_path"]), "--json",
                            data=profiles["data"]).stdout)
    assert [t["test_id"] for t in doc["tests"]] == ["matmul.fp32", "mlp.train"]
    assert doc["tests"][0]["profiles"][1]["speedup"]["ratio"] > 0
    assert doc["overall"][0]["speedup"]["ratio"] > 0 and doc["wins"]
    assert {"fact": "intra-op threads", "values": ["default", "1"]} in doc["profile_diff"]


def _scaled(snap: Snapshot, factor: float, spread: float = 0.02) -> Snapshot:
    """The profile with every value times ``factor`` (latency divided) and a tight interval."""
    assert snap.profile is not None
    tests = []
    for t in snap.profile.tests:
        if t.value is None:
            tests.append(t)
            continue
        v = t.value * factor if t.test.higher_is_better else t.value / factor
        tests.append(t.model_copy(update={"value": v, "low": v * (1 - spread),
                                          "high": v * (1 + spread), "windows": 5}))
    record = snap.profile.model_copy(update={"tests": tuple(tests)})
    return snap.model_copy(update={"profile": record})


@pytest.fixture
def edited(profiles: dict[str, Any], tmp_path: Path) -> tuple[Path, Path]:
    snap = load_snapshot(profiles["a_doc"]["path"])
    base, fast = tmp_path / "base.hwprof.json", tmp_path / "fast.hwprof.json"
    save_snapshot(_scaled(snap, 1.0), base)
    save_snapshot(_scaled(snap, 2.0), fast)
    return base, fast


@pytest.mark.tf
def test_a_known_speedup_gets_its_verdict(profiles: dict[str, Any],
                                          edited: tuple[Path, Path]) -> None:
    base, fast = edited
    done = hwprof("profile", "--compare", str(base), str(fast), data=profiles["data"])
    assert done.returncode == 0, done.stderr
    assert "fast.hwprof.json is 2× faster (significant)" in done.stdout
    assert "fast.hwprof.json wins every test that differs" in done.stdout
    doc = json.loads(hwprof("compare", str(fast), str(base), "--json",
                            data=profiles["data"]).stdout)
    mm = doc["tests"][0]["profiles"][1]
    assert mm["speedup"]["ratio"] == pytest.approx(0.5)
    assert mm["speedup"]["significant"] is True
    assert mm["verdict"] == "fast.hwprof.json is 2× faster (significant)"
    overall = doc["overall"][0]["speedup"]
    assert overall["ratio"] == pytest.approx(0.5) and overall["high"] < 1
    doc = json.loads(hwprof("profile", "--compare", str(base), str(fast), "--only", "mlp.train",
                            "--json", data=profiles["data"]).stdout)
    assert [t["test_id"] for t in doc["tests"]] == ["mlp.train"]


@pytest.mark.tf
def test_a_profile_and_a_session_snapshot_are_not_mixed(profiles: dict[str, Any],
                                                        tmp_path: Path) -> None:
    from hwprof.services.detect import detect_all

    session = tmp_path / "session.hwprof.json"
    save_snapshot(new_snapshot(detect_all(with_tensorflow=False)), session)
    a = profiles["a_doc"]["path"]
    for argv in (["profile", "--compare", a, str(session)], ["compare", str(session), a]):
        done = hwprof(*argv, data=profiles["data"])
        assert done.returncode == 2, done.stderr
        assert "is a profile and session.hwprof.json is a session snapshot" in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.tf
def test_profiles_of_other_suite_versions_are_refused(profiles: dict[str, Any],
                                                      tmp_path: Path) -> None:
    snap = load_snapshot(profiles["a_doc"]["path"])
    assert snap.profile is not None
    other = tmp_path / "other.hwprof.json"
    save_snapshot(snap.model_copy(update={
        "profile": snap.profile.model_copy(update={"suite": "hwprof-suite/2"})}), other)
    done = hwprof("profile", "--compare", profiles["a_doc"]["path"], str(other),
                  data=profiles["data"])
    assert done.returncode == 2
    assert "of hwprof-suite/1 and other.hwprof.json of hwprof-suite/2" in done.stderr
    done = hwprof("compare", str(other), str(other), data=profiles["data"])
    assert done.returncode == 2
    assert "a suite this hwprof does not know" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.tf
def test_the_report_of_a_profile(profiles: dict[str, Any], tmp_path: Path) -> None:
    snap = load_snapshot(profiles["a_doc"]["path"])
    assert snap.profile is not None
    hostile = tmp_path / "hostile.hwprof.json"
    record = snap.profile.model_copy(update={"device_label": HOSTILE,
                                             "settings": {HOSTILE: HOSTILE}})
    save_snapshot(snap.model_copy(update={"title": HOSTILE, "profile": record}), hostile)
    page = tmp_path / "r.html"
    done = hwprof("report", str(hostile), "--html", str(page), data=profiles["data"])
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    for text in ("<h2>Score</h2>", "class='card'", "overall score",
                 "<h2>Tests</h2>", "Matrix multiply, fp32", "MLP training", "GFLOP/s",
                 "<h2>Numerics</h2>", "<h2>Where the time went</h2>", "outside measuring",
                 "<h2>Environment</h2>", "<svg"):
        assert text in html, text
    assert "<script>" not in html and "\x1b" not in html and "\u202e" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;[/bogus]\\x1b[31m\\u202e" in html


# -- without TensorFlow: the suite, bad input, scores against a reference -------------------------
def test_list_shows_the_suite_and_what_is_skipped_here(tmp_path: Path) -> None:
    done = hwprof("profile", "--list", data=tmp_path, columns=250)
    assert done.returncode == 0, done.stderr
    for text in ("hwprof-suite/1", "matmul.fp32", "resnet50.train", "mobilenet_v2.latency",
                 "batch 1, single-stream", "a GPU-only test", "--full"):
        assert text in done.stdout, text
    doc = json.loads(hwprof("profile", "--list", "--json", data=tmp_path).stdout)
    tests = {t["test_id"]: t for t in doc["tests"]}
    assert doc["suite"] == "hwprof-suite/1" and doc["devices"][0] == "cpu"
    assert tests["matmul.fp16"]["devices"]["cpu"]["skip_reason"] == "a GPU-only test"
    assert tests["mlp.train"]["devices"]["cpu"]["precision"] == "fp32"
    assert tests["mlp.train"]["category"] == "train" and tests["mlp.train"]["settings"]
    doc = json.loads(hwprof("profile", "--list", "--only", "bandwidth", "--json",
                            data=tmp_path).stdout)
    assert [t["test_id"] for t in doc["tests"]] == ["bandwidth"]


@pytest.mark.parametrize(("args", "message"), [
    (["--only", "matmul.fp32,nope.test"], "--only: unknown test: nope.test"),
    (["--only", ","], "--only needs test ids"),
    (["--seconds", "nan"], "argument --seconds: 'nan' is not a finite number"),
    (["--seconds", "inf"], "argument --seconds: 'inf' is not a finite number"),
    (["--seconds", "-1"], "argument --seconds: -1 must be more than 0"),
    (["--device", "gpu:0"], "gpu:0: no NVIDIA GPU can be used here"),
    (["--device", "npu"], "--device: "),
    (["--intra-threads", "0"], "--intra-threads: "),
    (["--save", "{tmp}/x.txt"], "a snapshot file name ends in"),
    (["--save", "{tmp}/nodir/x.hwprof"], "does not exist"),
    (["--save", "{tmp}/existing.hwprof.json"], "exists"),
    (["--force"], "--force goes with --save FILE"),
    (["--compare", "{tmp}/existing.hwprof.json"], "name two or more profiles"),
    (["--list", "--seconds", "2"], "--seconds goes with a profile run, not with --list"),
    (["--list", "--only", "nope"], "--only: unknown test: nope"),
])
def test_bad_input_is_refused_before_anything_runs(args: list[str], message: str,
                                                   tmp_path: Path) -> None:
    existing = tmp_path / "existing.hwprof.json"
    existing.write_text("keep me")
    data = tmp_path / "data"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = hwprof("profile", *argv, data=data, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert existing.read_text() == "keep me"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "data")
    assert left == ["existing.hwprof.json"]
    assert not (data / "profiles").exists() or not any((data / "profiles").iterdir())


def _a_profile(values: dict[str, tuple[float, float, float]]) -> Snapshot:
    from hwprof.services.detect import detect_all

    tests = tuple(Outcome(test_id=t, status="ok", unit="u", value=v, low=lo, high=hi,
                              windows=5) for t, (v, lo, hi) in values.items())
    record = ProfileRecord(device="cpu", device_label="a CPU", tests=tests)
    snap = new_snapshot(detect_all(with_tensorflow=False), title="scored")
    return snap.model_copy(update={"kind": "profile", "profile": record})


def test_scores_against_a_reference_in_the_table_and_the_report() -> None:
    import io

    from hwprof.cli.console import SafeConsole
    from hwprof.cli.profile import print_profile
    from hwprof.services.profile import Reference
    from hwprof.services.profile_view import view
    from hwprof.services.report import html_report

    ref = Reference("ref-1", "hwprof-suite/1", "a 2-core Xeon, TensorFlow 2.x",
                    {"matmul.fp32": 100.0, "mlp.train": 1000.0})
    snap = _a_profile({"matmul.fp32": (200.0, 190.0, 210.0), "mlp.train": (2000.0, 1900.0, 2100.0)})
    buf = io.StringIO()
    print_profile(SafeConsole(file=buf, width=140), view(snap, ref))
    out = buf.getvalue()
    assert "scores (1000 = ref-1: a 2-core Xeon, TensorFlow 2.x):" in out
    assert "overall: 2000 (95%:" in out and "training: 2000" in out
    assert "mixed precision: n/a" in out

    import hwprof.services.profile_view as pv

    original = pv.load_reference
    pv.load_reference = lambda path=None: ref  # the report reads the shipped reference
    try:
        page = html_report(snap)
    finally:
        pv.load_reference = original
    assert "<div class='big'>2000</div>" in page
    assert "1000 = the reference profile ref-1" in page
    assert "score per test" in page


def test_wrong_numerics_withhold_the_overall_score() -> None:
    from hwprof.core.profile import NumericsCheck
    from hwprof.core.profile_text import numerics_text
    from hwprof.services.profile import Reference
    from hwprof.services.profile_view import view

    snap = _a_profile({"mlp.train": (2000.0, 1900.0, 2100.0)})
    assert snap.profile is not None
    bad = NumericsCheck(max_relative_error=0.5, tolerance=0.02, passed=False, detail="wrong")
    t = snap.profile.tests[0].model_copy(update={"numerics": bad})
    snap = snap.model_copy(update={"profile": snap.profile.model_copy(update={"tests": (t,)})})
    v = view(snap, Reference("r", "hwprof-suite/1", "m", {"mlp.train": 1000.0}))
    assert v.group("overall") is None
    assert v.note is not None and "numerics check failed on mlp.train" in v.note
    assert numerics_text(t) == "FAILED (error 50%, limit 2%): wrong"


@pytest.mark.tf
def test_ctrl_c_saves_the_tests_done_and_exits_130(tmp_path: Path) -> None:
    target = tmp_path / "partial.hwprof.json"
    env = {**os.environ, "HWPROF_DATA_DIR": str(tmp_path / "data"),
           "KERAS_HOME": str(tmp_path / "keras")}
    proc = subprocess.Popen([sys.executable, "-m", "hwprof", "profile", *ONLY, "--save",
                             str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=REPO, env=env)
    seen = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            seen.append(line)
            if "[2/2] MLP training: starting" in line:
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert "cancelled: saved the 1 test(s) done as a partial profile" in err
    record = load_snapshot(target).profile
    assert record is not None
    assert [(t.test_id, t.status) for t in record.tests] == [("matmul.fp32", "ok"),
                                                             ("mlp.train", "cancelled")]
    assert "cancelled" in out  # the table shows what happened to the rest
