"""How tests/data/trace/cifar10_cnn_train_b8.xplane.pb was made (run it to make it again).

A real capture of TensorFlow's profiler on this project's CPU-only CI machine (TensorFlow 2.21):
cifar10_cnn, train, batch 8, 3 warm-up steps, then 2 steps traced with the same options and step
markers as the worker (hwprof.workloads.tracing), then trimmed: the thread-pool and allocator
bookkeeping events (ThreadpoolListener::*, MemoryAllocation, MemoryDeallocation, ParallelFor) and
the lines left empty are dropped, which takes the file from about 80 kB to about 30 kB; every op
event, executor event and step marker is kept as recorded.

    PYTHONPATH=. python tests/data/trace/make_fixture.py
"""

from __future__ import annotations

import glob
import pathlib
import sys
import tempfile

DROP = ("ThreadpoolListener::", "MemoryAllocation", "MemoryDeallocation", "ParallelFor")
OUT = pathlib.Path(__file__).with_name("cifar10_cnn_train_b8.xplane.pb")


def main() -> int:
    """Capture, trim, write."""
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    from hwprof.core.spec import RunSpec
    from hwprof.workloads.builders import build

    spec = RunSpec(workload="cifar10_cnn", mode="train", batch_size=8, steps=2)
    with tf.device("/CPU:0"), tempfile.TemporaryDirectory() as logdir:
        built = build(tf, spec, None)
        for _ in range(3):
            built.step().numpy()
        options = tf.profiler.experimental.ProfilerOptions(
            host_tracer_level=2, device_tracer_level=1, python_tracer_level=0)
        tf.profiler.experimental.start(logdir, options=options)
        for i in range(2):
            with tf.profiler.experimental.Trace("train", step_num=i, _r=1):
                built.step().numpy()
        tf.profiler.experimental.stop()
        path = glob.glob(f"{logdir}/plugins/profile/*/*.xplane.pb")[0]
        space = xplane_pb2.XSpace.FromString(pathlib.Path(path).read_bytes())
    for plane in space.planes:
        for line in plane.lines:
            keep = [e for e in line.events
                    if not plane.event_metadata[e.metadata_id].name.startswith(DROP)]
            del line.events[:]
            line.events.extend(keep)
        lines = [ln for ln in plane.lines if len(ln.events)]
        del plane.lines[:]
        plane.lines.extend(lines)
        used = {e.metadata_id for ln in plane.lines for e in ln.events}
        for key in [k for k in plane.event_metadata if k not in used]:
            del plane.event_metadata[key]
    space.hostnames[:] = ["ci"]
    OUT.write_bytes(space.SerializeToString())
    print(OUT, OUT.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
