"""Every workload, both modes, a few real steps on the CPU (in this process, with tiny sizes).

The end-to-end path through a worker process is tested in test_runner.py; building every model here
keeps the suite fast on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from hwprof.core.catalog import WORKLOADS
from hwprof.core.spec import RunSpec

pytestmark = pytest.mark.tf

TINY_SIZE = {"matmul": 32, "conv": 8, "mlp": 16, "cifar10_cnn": 16, "resnet50": 32,
             "mobilenet_v2": 32, "lstm": 6, "transformer": 8, "bandwidth": 1}
CASES = [(w.name, m) for w in WORKLOADS for m in w.modes]


@pytest.fixture(scope="module")
def tf() -> Iterator[Any]:
    tf = pytest.importorskip("tensorflow")
    yield tf


@pytest.fixture(autouse=True)
def _fp32_policy(tf: Any) -> Iterator[None]:
    import keras

    yield
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_every_workload_runs_real_steps(tf: Any, name: str, mode: str) -> None:
    from hwprof.workloads.builders import build

    spec = RunSpec(workload=name, mode=mode, batch_size=2, size=TINY_SIZE[name], steps=2)
    with tf.device("/CPU:0"):
        built = build(tf, spec)
        values = [built.step().numpy() for _ in range(3)]
    assert all(np.all(np.isfinite(v)) for v in values)
    assert built.samples_per_step == (TINY_SIZE[name] * 1_000_000 if name == "bandwidth" else 2)
    assert built.flops_per_sample is not None and built.flops_per_sample > 0


def test_matmul_flops_are_exact(tf: Any) -> None:
    from hwprof.workloads.builders import build

    for mode, factor in (("infer", 2), ("train", 6)):
        spec = RunSpec(workload="matmul", mode=mode, size=64, batch_size=3, steps=1)
        built = build(tf, spec)
        assert built.flops_per_sample == factor * 64**3
        assert built.samples_per_step == 3


def test_training_flops_are_three_forward_passes(tf: Any) -> None:
    from hwprof.workloads.builders import build

    fwd = build(tf, RunSpec(workload="cifar10_cnn", mode="infer", batch_size=2, steps=1))
    train = build(tf, RunSpec(workload="cifar10_cnn", mode="train", batch_size=2, steps=1))
    assert fwd.flops_per_sample is not None and train.flops_per_sample is not None
    assert train.flops_per_sample == pytest.approx(3 * fwd.flops_per_sample)
    # the convnet's convolutions alone: 2 * (32*32*27*32 + 30*30*288*32 + 15*15*288*64
    # + 13*13*576*64) multiply-adds = about 37.6 MFLOP; cost analysis counts a little more
    assert 37e6 < fwd.flops_per_sample < 45e6


def test_flops_of_the_plain_forward_graph_equal_the_frozen_ones(tf: Any) -> None:
    """Training counts FLOPs on the plain forward graph: freezing takes seconds (ResNet-50)."""
    import keras
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from hwprof.workloads.builders import MODEL_PARTS, graph_flops

    spec = RunSpec(workload="mobilenet_v2", batch_size=2, size=32, steps=1)
    parts = MODEL_PARTS["mobilenet_v2"](tf, keras, tf.random.Generator.from_seed(0), spec)
    concrete = tf.function(lambda x: parts.model(x, training=False)).get_concrete_function(
        tf.TensorSpec(parts.x.shape, parts.x.dtype))
    plain = graph_flops(tf, concrete)
    assert plain is not None and plain > 0
    assert plain == graph_flops(tf, convert_variables_to_constants_v2(concrete))


@pytest.mark.parametrize(("name", "size"), [("transformer", 8), ("lstm", 6)])
def test_the_quick_freeze_computes_what_tensorflows_own_does(tf: Any, name: str,
                                                             size: int) -> None:
    """Inference imports the frozen GraphDef into its step (a loop's graph keeps TF's way)."""
    import keras
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    from hwprof.workloads.builders import MODEL_PARTS, first_output, frozen_forward

    spec = RunSpec(workload=name, mode="infer", batch_size=2, size=size, steps=1)
    parts = MODEL_PARTS[name](tf, keras, tf.random.Generator.from_seed(0), spec)
    concrete = tf.function(lambda x: parts.model(x, training=False)).get_concrete_function(
        tf.TensorSpec(parts.x.shape, parts.x.dtype))
    quick = frozen_forward(tf, concrete, parts.x)
    theirs = convert_variables_to_constants_v2(concrete)
    got = tf.function(lambda: first_output(quick()))().numpy()
    want = tf.function(lambda: first_output(theirs(parts.x)))().numpy()
    np.testing.assert_array_equal(got, want)


def test_each_build_sets_its_own_precision_policy(tf: Any) -> None:
    """A worker runs many tests: an fp32 model after a mixed one is fp32 again."""
    import keras

    from hwprof.workloads.builders import build

    mixed = build(tf, RunSpec(workload="mlp", batch_size=4, size=8, precision="mixed_bfloat16",
                              steps=1))
    assert mixed.model.layers[1].compute_dtype == "bfloat16"
    plain = build(tf, RunSpec(workload="mlp", batch_size=4, size=8, steps=1))
    assert keras.mixed_precision.global_policy().name == "float32"
    assert plain.model.layers[1].compute_dtype == "float32"


def test_the_fp32_reference_matches_an_fp32_model_and_bounds_bf16(tf: Any) -> None:
    """The numerics check's two sides, in this process: fp32 against itself, bf16 close."""
    import keras

    from hwprof.core.profile import NUMERICS_TOLERANCE, max_relative_error
    from hwprof.workloads.builders import MODEL_PARTS, build, fp32_reference

    for precision, tolerance in (("fp32", 1e-6), ("mixed_bfloat16",
                                                  NUMERICS_TOLERANCE["mixed_bfloat16"])):
        spec = RunSpec(workload="transformer", mode="infer", batch_size=2, size=8,
                       precision=precision, steps=1)
        built = build(tf, spec)
        device = built.step().numpy()  # an inference step's value: the model's output
        reference = fp32_reference(tf, spec, built).numpy()
        err = max_relative_error(device, reference)
        assert err is not None and err <= tolerance, (precision, err)
        if precision != "fp32":  # the model computing in float32 is its fp32 twin, exactly
            twin = MODEL_PARTS["transformer"](tf, keras, tf.random.Generator.from_seed(0), spec)
            twin.model.set_weights(built.model.get_weights())
            np.testing.assert_array_equal(twin.model(built.inputs, training=False), reference)
            assert built.model.layers[1].compute_dtype == "bfloat16"  # its policies restored


def test_mixed_precision_and_xla_build(tf: Any) -> None:
    from hwprof.workloads.builders import build

    for precision in ("mixed_bfloat16", "mixed_float16"):
        spec = RunSpec(workload="mlp", batch_size=4, size=8, precision=precision, xla=True,
                       steps=1)
        assert np.all(np.isfinite(build(tf, spec).step().numpy()))
