"""hwprof's MobileNet-V2 inference on this CPU against AI Benchmark's own TF1 graph, side by side.

The peer reference: AI Benchmark 0.1.2 (Andrey Ignatov, ETH Zurich) times MobileNet-V2 inference
as a TF1 graph from its wheel (``ai_benchmark/models/mobilenet_v2.meta``, input ``input:0``,
output ``output:0``, 224x224x3, 1001 classes) run with ``Session.run`` at batch 50. This script
fetches that wheel with pip into a cache folder (once; the benchmark's only network use, never
hwprof's), reads the graph from it and times it with a plain loop written here (none of AI
Benchmark's code is run or copied), while hwprof runs MobileNet-V2 inference at the same batch
and size, each pinned to its own CPU so both meet the same seconds of a shared machine (CPUs
swapped every round).

Goals (issue 19): hwprof's best runtime at least 1.3x the TF1 graph at batch 50 and at batch 1
(images per second against the graph's at batch 50), and hwprof's TensorFlow runtime at least 1.0x.

    .venv/bin/python benchmarks/aibench_peer.py [--rounds 2] [--seconds 10]
        [--case tf-b50 ...] [--cache DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import zipfile
from pathlib import Path
from typing import Any

from hwprof.core.spec import RunSpec
from hwprof.services.runs import execute_run

WHEEL = "ai-benchmark==0.1.2"
GRAPH = "ai_benchmark/models/mobilenet_v2.meta"
BATCH, SIDE = 50, 224

# The peer: AI Benchmark's graph imported and run with Session.run on fresh inputs each step, as
# AI Benchmark does (it feeds a new batch per iteration; the feed is timed there as here).
PEER = """
import time, numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
graph_file, batch, side, seconds = {graph!r}, {batch}, {side}, {seconds}
config = tf.compat.v1.ConfigProto(device_count={{"GPU": 0}})
with tf.Graph().as_default() as g, tf.compat.v1.Session(config=config) as sess:
    tf.compat.v1.train.import_meta_graph(graph_file, clear_devices=True)
    x, y = g.get_tensor_by_name("input:0"), g.get_tensor_by_name("output:0")
    sess.run(tf.compat.v1.global_variables_initializer())
    data = np.random.default_rng(0).random((batch, side, side, 3), dtype=np.float32)
    for _ in range(3):
        sess.run(y, feed_dict={{x: data}})
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sess.run(y, feed_dict={{x: data}}); steps += 1
    print(steps * batch / (time.perf_counter() - t0))
"""

# case -> hwprof's settings (every case is measured against the peer at batch 50)
CASES: dict[str, dict[str, Any]] = {
    "tf-b50": {"batch_size": BATCH},
    "tf-b1": {"batch_size": 1, "scenario": "single-stream"},
    "tflite-fp32-b50": {"batch_size": BATCH, "runtime": "tflite"},
    "tflite-int8-b50": {"batch_size": BATCH, "runtime": "tflite", "precision": "int8"},
    "tflite-int8-b1": {"batch_size": 1, "runtime": "tflite", "precision": "int8",
                       "scenario": "single-stream"},
}
GOALS = {"tf-b50": 1.0, "tf-b1": 1.0}  # the rest: 1.3 (hwprof's best runtime)


def peer_graph(cache: Path) -> Path:
    """AI Benchmark's MobileNet-V2 graph, from its wheel fetched once into ``cache``."""
    graph = cache / "mobilenet_v2.meta"
    if graph.is_file():
        return graph
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp,
                        WHEEL], check=True)
        wheel = next(Path(tmp).glob("ai_benchmark-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            part = cache / "mobilenet_v2.meta.part"
            part.write_bytes(zf.read(GRAPH))
            os.replace(part, graph)
    return graph


def peer(graph: Path, seconds: float, cpu: int) -> float:
    """The peer graph's images per second at batch 50, pinned to ``cpu``."""
    code = textwrap.dedent(PEER).format(graph=str(graph), batch=BATCH, side=SIDE,
                                        seconds=seconds)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
                                          "PATH": "/usr/bin:/bin"},
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    return float(out.stdout.strip().splitlines()[-1])


def hwprof(case: str, seconds: float) -> float:
    """hwprof's images per second for ``case`` (MobileNet-V2 inference, 224 px)."""
    spec = RunSpec(workload="mobilenet_v2", mode="infer", size=SIDE, duration_seconds=seconds,
                   steady_cv=None, warmup_steps=3, **CASES[case])
    result = execute_run(spec).result
    if not result.ok or result.throughput_per_second is None:
        raise SystemExit(f"hwprof run {case} failed: {result.reason}")
    return result.throughput_per_second


def side_by_side(case: str, graph: Path, seconds: float, swap: bool) -> tuple[float, float]:
    """hwprof and the peer at once, each pinned to its own CPU (``swap`` exchanges them)."""
    mine, theirs = (1, 0) if swap else (0, 1)
    rate: dict[str, float] = {}

    def run_hwprof() -> None:
        os.sched_setaffinity(0, {mine})  # this thread; the worker and the sampler inherit it
        rate["hwprof"] = hwprof(case, seconds)

    thread = threading.Thread(target=run_hwprof)
    thread.start()
    rate["peer"] = peer(graph, seconds, cpu=theirs)
    thread.join()
    return rate["hwprof"], rate["peer"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--case", choices=list(CASES), action="append",
                        help="a case to run (repeatable; default: every case)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "hwprof-bench" / "ai-benchmark")
    args = parser.parse_args()
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("this benchmark pins the two sides to two CPUs (Linux, 2 CPUs or more)")
    graph = peer_graph(args.cache)
    for case in args.case or list(CASES):
        ratios = []
        for i in range(args.rounds):
            a, b = side_by_side(case, graph, args.seconds, swap=bool(i % 2))
            ratios.append(a / b)
            print(f"{case:16} round {i + 1}: hwprof {a:8.2f} img/s   AI Benchmark graph "
                  f"(batch 50) {b:8.2f} img/s   ratio {a / b:.3f}", flush=True)
        med, goal = statistics.median(ratios), GOALS.get(case, 1.3)
        print(f"{case:16} median ratio {med:.3f} ({'meets' if med >= goal else 'MISSES'} the "
              f"{goal:g}x goal)\n", flush=True)


if __name__ == "__main__":
    main()
