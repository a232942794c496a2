"""hwprof's TFLite run against a bare interpreter loop on the same ``.tflite`` file.

Goal: hwprof's throughput is within 3% of the bare loop's (its overhead: the timed loop's clock
reads, the step's wrapper, the events sent twice a second). Runs ``hwprof run --runtime tflite``
in a real worker, then, in this process, loads the very file hwprof converted (from its cache) into
the same interpreter with the same thread count and times ``invoke()`` plus reading the output in a
plain loop for as long, and prints both and their ratio. The two alternate ``--rounds`` times so
that a machine's drift hits both.

    .venv/bin/python benchmarks/tflite_overhead.py [--workload mobilenet_v2] [--size 224]
        [--batch-size 50] [--precision fp32] [--threads N] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from hwprof.core.spec import TFLITE_PRECISIONS, RunSpec

GOAL_RATIO = 0.97


def hwprof_run(args: argparse.Namespace) -> float:
    """hwprof's throughput (samples/s) of one TFLite run."""
    cmd = [sys.executable, "-m", "hwprof", "run", args.workload, "--runtime", "tflite",
           "--precision", args.precision, "--batch-size", str(args.batch_size),
           "--duration", str(args.seconds), "--no-steady-stop", "--json"]
    if args.size:
        cmd += ["--size", str(args.size)]
    if args.threads:
        cmd += ["--intra-threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"hwprof run failed:\n{done.stderr[-2000:]}")
    return float(json.loads(done.stdout)["result"]["throughput_per_second"])


def bare_loop(path: Path, args: argparse.Namespace) -> float:
    """Samples/s of a plain invoke-and-read loop on ``path`` (3 warm-up invokes first)."""
    import numpy as np
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=args.threads)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]["index"]
    x = np.random.default_rng(0).normal(size=inp["shape"]).astype(inp["dtype"])
    interpreter.set_tensor(inp["index"], x)
    for _ in range(3):
        interpreter.invoke()
    steps, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < args.seconds:
        interpreter.invoke()
        interpreter.get_tensor(out)
        steps += 1
    return steps * args.batch_size / (time.perf_counter() - begin)


def main() -> None:
    """Run both, alternating, and print the ratio against the goal."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", default="mobilenet_v2")
    p.add_argument("--size", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--precision", choices=TFLITE_PRECISIONS, default="fp32")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from hwprof.workloads.tflite import cache_path

    spec = RunSpec(workload=args.workload, mode="infer", runtime="tflite", size=args.size,
                   precision=args.precision, batch_size=args.batch_size)
    ours, bare = [], []
    for r in range(args.rounds):
        ours.append(hwprof_run(args))  # the first round converts (or finds) the cached file
        bare.append(bare_loop(cache_path(spec, tf.__version__), args))
        print(f"round {r + 1}: hwprof {ours[-1]:,.1f}/s  bare loop {bare[-1]:,.1f}/s  "
              f"ratio {ours[-1] / bare[-1]:.3f}", flush=True)
    ratio = statistics.median(ours) / statistics.median(bare)
    verdict = "met" if ratio >= GOAL_RATIO else "MISSED"
    print(f"{spec.label()}: hwprof {statistics.median(ours):,.1f}/s, bare interpreter loop "
          f"{statistics.median(bare):,.1f}/s, ratio {ratio:.3f} (goal >= {GOAL_RATIO}: {verdict})")


if __name__ == "__main__":
    main()
