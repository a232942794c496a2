"""`hwprof compare --workload`, `hwprof sweep` and `hwprof roofline`, end to end with real runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwprof.core.snapshot import load_snapshot
from hwprof.core.study import tag_value
from hwprof.workloads.worker import FAULT_ENV

pytestmark = pytest.mark.tf


def hwprof(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


def test_compare_threads_end_to_end(tmp_path: Path) -> None:
    png, snap = tmp_path / "cmp.png", tmp_path / "cmp.hwprof.json"
    done = hwprof("compare", "--workload", "mlp", "--mode", "infer", "--size", "16",
                  "--target", "cpu threads=1", "--target", "cpu threads=2", "--trials", "2",
                  "--duration", "1.6", "--warmup", "1", "--json", "--png", str(png),
                  "--save", str(snap))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = doc["analysis"]["rows"]
    assert [r["target"] for r in rows] == ["cpu threads=1", "cpu threads=2"]
    assert all(r["ok_trials"] == 2 and r["throughput_per_second"] > 0 for r in rows)
    assert rows[1]["speedup"] > 0 and rows[1]["latency_p50_s"] > 0
    verdict = doc["analysis"]["verdicts"][0]
    assert "cpu threads=2" in verdict and "cpu threads=1" in verdict
    assert ("faster" in verdict or "slower" in verdict or "no significant" in verdict)
    assert png.read_bytes()[:4] == b"\x89PNG"
    runs = load_snapshot(snap).runs
    assert len(runs) == 4 and {tag_value(r, "target") for r in runs} == {"cpu threads=1",
                                                                          "cpu threads=2"}
    assert {r.spec.intra_op_threads for r in runs} == {1, 2}
    assert "[4/4] cpu threads=1, trial 2" in done.stderr  # rotated: the second round starts with 2


def test_a_batch_sweep_ends_at_the_memory_limit(tmp_path: Path) -> None:
    done = hwprof("sweep", "mlp", "--mode", "infer", "--size", "16", "--over", "batch",
                  "--target", "cpu", "--values", "1,2,4,8", "--duration", "0.4", "--warmup", "1",
                  "--json", env={FAULT_ENV: "oom_above_batch=2"})
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    series = doc["analysis"]["series"]["cpu"]
    assert doc["analysis"]["x"] == [1.0, 2.0, 4.0]  # batch 8 never ran
    assert series[0]["mean"] > 0 and series[1]["mean"] > 0 and series[2] is None
    assert doc["notes"] == ["cpu: out of memory at batch size 4; its sweep ends there"]
    assert [r["status"] for r in doc["runs"]] == ["ok", "ok", "failed"]


def test_bad_study_input_is_refused_before_anything_runs() -> None:
    cases = [
        (["compare", "--workload", "mlp", "--target", "cpu"], "two targets or more"),
        (["compare", "--workload", "mlp", "--target", "cpu", "--target", "cpu turbo=1"],
         "unknown setting 'turbo'"),
        (["compare", "--workload", "nope", "--target", "cpu", "--target", "cpu bf16"],
         "unknown workload"),
        (["compare", "--target", "cpu"], "--target goes with --workload"),
        (["compare", "a.hwprof.json", "--png", "x.png", "--save", "y.hwprof.json"],
         "--png, --save go with --workload"),
        (["sweep", "resnet50", "--over", "size", "--target", "cpu"], "size sweep is for"),
        (["sweep", "mlp", "--over", "batch", "--target", "cpu", "--values", "1,x"],
         "numbers separated by commas"),
        (["compare", "--workload", "mlp", "--target", "cpu", "--target", "cpu bf16",
          "--baseline", "gpu:3"], "not one of the targets"),
        (["compare", "a.hwprof.json", "--data", "pipeline"], "--data goes with --workload"),
        (["compare", "--workload", "mlp", "--data", "pipeline", "--target", "cpu", "--target",
          "cpu xla"], "no image input"),
        (["compare", "--workload", "cifar10_cnn", "--target", "cpu pipeline_threads=0",
          "--target", "cpu"], "at least 1"),
    ]
    for args, says in cases:
        done = hwprof(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr, (args, done.stderr)


def test_roofline_measures_caches_and_places_runs(tmp_path: Path) -> None:
    done = hwprof("roofline", "--seconds", "0.5", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    c = doc["ceilings"]
    assert c["peak_flops"] > 1e9 and c["bandwidth_bytes_per_second"] > 1e8
    assert Path(doc["cache"]).is_file()
    # the second time comes from the cache, and places a snapshot's matmul run
    snap = tmp_path / "m.hwprof.json"
    run = hwprof("run", "matmul", "--mode", "infer", "--size", "128", "--steps", "10",
                 "--save", str(snap))
    assert run.returncode == 0, run.stderr
    again = hwprof("roofline", str(snap), "--json", "--png", str(tmp_path / "roof.png"))
    assert again.returncode == 0, again.stderr
    doc2 = json.loads(again.stdout)
    assert doc2["ceilings"] == c and "measuring" not in again.stderr
    (point,) = doc2["runs"]
    assert point["intensity"] == pytest.approx(2 * 128 / 12)
    assert point["bound"] in ("compute", "memory") and point["percent_of_roof"] > 0
    assert (tmp_path / "roof.png").stat().st_size > 5_000


def test_compare_the_input_pipelines_threads_end_to_end(tmp_path: Path) -> None:
    # the form an input-bound verdict's command takes: the run's pipeline as base flags, the
    # threads (or synthetic data) as targets
    snap = tmp_path / "pipe.hwprof.json"
    done = hwprof("compare", "--workload", "cifar10_cnn", "--mode", "infer", "--batch-size", "4",
                  "--data", "pipeline", "--pipeline-source-size", "40",
                  "--target", "cpu pipeline_threads=1", "--target", "cpu synthetic",
                  "--trials", "1", "--duration", "0.5", "--warmup", "1", "--json",
                  "--save", str(snap))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert [r["target"] for r in doc["analysis"]["rows"]] == ["cpu pipeline_threads=1",
                                                              "cpu synthetic"]
    assert [r["status"] for r in doc["runs"]] == ["ok", "ok"]
    specs = {tag_value(r, "target"): r.spec for r in load_snapshot(snap).runs}
    piped, synthetic = specs["cpu pipeline_threads=1"], specs["cpu synthetic"]
    assert (piped.data, piped.pipeline_threads, piped.pipeline_source_size) == ("pipeline", 1, 40)
    assert (synthetic.data, synthetic.pipeline_source_size) == ("synthetic", None)
    assert piped.batch_size == synthetic.batch_size == 4
