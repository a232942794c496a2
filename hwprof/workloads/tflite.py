"""TensorFlow Lite runs: the Keras workload converted once, cached, run by the TFLite interpreter.

Only a worker process that runs a ``runtime="tflite"`` spec imports this. The Keras model is built
exactly as a TensorFlow run builds it (same seed, same weights, float32), its forward pass frozen
and converted to a ``.tflite`` flatbuffer in the run's precision:

- ``fp32``: as it is; ``fp16``: float16 weights (computed in float32 on the CPU);
- ``int8_dynamic``: dynamic-range quantization (int8 weights, activations quantized on the fly);
- ``int8``: full-integer quantization calibrated on a seeded synthetic representative dataset of
  the workload's inputs (the model's inputs and outputs stay float32, as a classifier is served).

A conversion is cached in hwprof's data folder under a key of the workload, its size, batch,
precision, seed, TensorFlow's version and :data:`CACHE_FORMAT`, so a new TensorFlow converts anew.

The interpreter: TensorFlow's own ``tf.lite.Interpreter`` by default, because it ships with the
TensorFlow that converted the model (every op the converter emits has a kernel of the same release)
and needs nothing more installed; ``ai_edge_litert`` (LiteRT, its successor package) is used when
``HWPROF_TFLITE_RUNTIME=ai_edge_litert`` asks for it, or when this TensorFlow no longer has
``tf.lite.Interpreter``. Both run XNNPACK on the CPU by default (their default delegate).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import os
import re
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwprof.core.paths import data_dir
from hwprof.core.results import DeployedAccuracy, TfliteInfo, deployed_accuracy
from hwprof.core.spec import RunSpec
from hwprof.workloads.builders import (
    MODEL_PARTS,
    BuiltWorkload,
    estimate_batch_norms,
    graph_flops,
    set_policy,
)

# Bumped when what a cache file holds changes (how hwprof converts), so old files miss
CACHE_FORMAT = 2  # 2: BatchNormalization statistics estimated at build
RUNTIME_ENV = "HWPROF_TFLITE_RUNTIME"
ACCURACY_SAMPLES = 16  # at least this many seeded samples, in whole batches of the model's
CALIBRATION_BATCHES = 4  # the int8 representative dataset: this many seeded batches
DELEGATE = "XNNPACK"


class ConversionError(RuntimeError):
    """A model TFLite cannot convert; the message says which and why."""


@dataclass
class CachedModel:
    """A converted model: its bytes, where it is, and what converting it cost."""

    content: bytes
    path: Path
    conversion_seconds: float  # 0 when it came from the cache
    cached: bool


def cache_dir() -> Path:
    """Where converted models are kept (the data folder's ``tflite``)."""
    path = data_dir() / "tflite"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(spec: RunSpec, tf_version: str) -> str:
    """The hash that names a conversion: everything that changes the converted file."""
    fields = {"format": CACHE_FORMAT, "workload": spec.workload, "size": spec.effective_size,
              "batch": spec.effective_batch_size, "precision": spec.precision,
              "seed": spec.seed, "tensorflow": tf_version}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


def cache_path(spec: RunSpec, tf_version: str, folder: Path | None = None) -> Path:
    """The cache file of ``spec``'s conversion under ``tf_version``."""
    name = (f"{spec.workload}-{spec.precision}-b{spec.effective_batch_size}-"
            f"s{spec.effective_size}-{cache_key(spec, tf_version)}.tflite")
    return (folder or cache_dir()) / name


def convert(tf: Any, frozen: Any, precision: str, calibration: Iterator[Any] | None) -> bytes:
    """Convert a frozen concrete function to a TFLite flatbuffer in ``precision``.

    ConversionError names what TFLite lacks (the converter's own first lines).
    """
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if precision != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if precision == "int8":
        if calibration is None:
            raise ValueError("full-integer int8 needs a representative dataset")
        batches = list(calibration)
        converter.representative_dataset = lambda: ([b] for b in batches)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecated-path notice: nothing to act on
            return bytes(converter.convert())
    except Exception as err:
        raise ConversionError(
            f"TFLite cannot convert this model to {precision}: {conversion_reason(err)}"
        ) from None


def conversion_reason(err: BaseException) -> str:
    """The converter's pages of MLIR, said in a line: the ops TFLite lacks, or its first error."""
    text = str(err).strip() or type(err).__name__
    missing = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", text)))
    if missing:
        return (f"TFLite's built-in ops lack {', '.join(missing)} (TensorFlow op"
                f"{'s' if len(missing) > 1 else ''} that only the Select TF ops (flex) delegate "
                "runs, which hwprof does not use)")
    errors = re.findall(r"error: ([^\n]+)", text)
    first = errors[0] if errors else text.splitlines()[0]
    return first.strip()[:600]


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def loads(runtime: Any, content: bytes) -> bool:
    """Whether ``content`` is a model the interpreter can load (a damaged cache file is not)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
            interpreter = runtime.Interpreter(model_content=content)
        interpreter.allocate_tensors()
    except Exception:
        return False
    return True


def cached_model(
    tf: Any, runtime: Any, spec: RunSpec, frozen: Any, calibration: Iterator[Any] | None,
    *, tf_version: str | None = None, folder: Path | None = None,
) -> CachedModel:
    """The converted model, from the cache when a loadable one is there, else converted now."""
    path = cache_path(spec, tf_version or tf.__version__, folder)
    if path.is_file():
        content = path.read_bytes()
        if content and loads(runtime, content):
            return CachedModel(content, path, 0.0, True)
    t0 = time.monotonic()
    content = convert(tf, frozen, spec.precision, calibration)
    seconds = time.monotonic() - t0
    write_atomically(path, content)
    return CachedModel(content, path, seconds, False)


@dataclass
class Runtime:
    """The TFLite interpreter package (a module with ``Interpreter``), its name and version."""

    module: Any
    name: str
    version: str | None


def choose_runtime(tf: Any) -> Runtime:
    """The interpreter to run: tf.lite by default (see the module's docstring for why).

    ai_edge_litert when HWPROF_TFLITE_RUNTIME asks for it or when tf.lite has no interpreter any
    more; RuntimeError says what to install when the one asked for is missing.
    """
    wanted = os.environ.get(RUNTIME_ENV, "").strip().lower()
    has_tf_lite = hasattr(getattr(tf, "lite", None), "Interpreter")
    if wanted in ("ai_edge_litert", "litert") or (not has_tf_lite and wanted != "tf"):
        try:
            litert = importlib.import_module("ai_edge_litert.interpreter")  # optional
        except ImportError:
            raise RuntimeError("the LiteRT interpreter (ai_edge_litert) is not installed: pip "
                               "install ai-edge-litert, or unset " + RUNTIME_ENV) from None
        from importlib.metadata import PackageNotFoundError, version

        try:
            litert_version: str | None = version("ai-edge-litert")
        except PackageNotFoundError:
            litert_version = None
        return Runtime(litert, "ai_edge_litert", litert_version)
    if not has_tf_lite:
        raise RuntimeError("this TensorFlow has no tf.lite.Interpreter: pip install ai-edge-litert")
    return Runtime(tf.lite, "tf.lite", tf.__version__)


class Output:
    """An interpreter step's output, shaped like a tensor for the timed loop (``.numpy()``)."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def numpy(self) -> np.ndarray:
        """The output array (already on the host)."""
        return self.value


def make_interpreter(runtime: Runtime, content: bytes, threads: int | None) -> Any:
    """An interpreter with its tensors allocated; ``threads`` None leaves the runtime's default."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = runtime.module.Interpreter(model_content=content, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def run_batches(interpreter: Any, batches: list[np.ndarray]) -> np.ndarray:
    """The model's output on each batch, stacked."""
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    outputs = []
    for batch in batches:
        interpreter.set_tensor(inp, batch)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(out))
    return np.concatenate(outputs)


def seeded_batches(tf: Any, like: Any, seed: int, count: int) -> list[np.ndarray]:
    """``count`` seeded batches shaped and typed like the workload's input ``like``."""
    gen = tf.random.Generator.from_seed(seed)
    batches = []
    for _ in range(count):
        if like.dtype.is_integer:  # token ids: the same range as the workload's
            top = int(tf.reduce_max(like)) + 1
            batch = gen.uniform(like.shape, 0, top, dtype=like.dtype)
        else:
            batch = tf.cast(gen.normal(like.shape), like.dtype)
        batches.append(batch.numpy())
    return batches


def accuracy(
    tf: Any, interpreter: Any, model: Any, like: Any, seed: int
) -> DeployedAccuracy:
    """The deployed model against the fp32 Keras model on the same seeded inputs."""
    count = math.ceil(ACCURACY_SAMPLES / int(like.shape[0]))
    batches = seeded_batches(tf, like, seed + 1, count)
    deployed = run_batches(interpreter, batches)
    with tf.device("/CPU:0"):
        reference = np.concatenate([np.asarray(model(b, training=False)) for b in batches])
    return deployed_accuracy(deployed, reference)


def build_tflite(tf: Any, spec: RunSpec) -> tuple[BuiltWorkload, TfliteInfo]:
    """Convert (or take from the cache) and load ``spec``'s model; the step invokes it once."""
    import keras
    from tensorflow.python.framework import convert_to_constants

    runtime = choose_runtime(tf)
    as_tf = spec.model_copy(update={"runtime": "tf", "precision": "fp32"})
    set_policy(keras, as_tf)
    keras.utils.set_random_seed(spec.seed)
    gen = tf.random.Generator.from_seed(spec.seed)
    parts = MODEL_PARTS[spec.workload](tf, keras, gen, as_tf)
    model, x = parts.model, parts.x
    batch = spec.effective_batch_size
    estimate_batch_norms(tf, keras, model, x)  # as a TensorFlow inference run does

    @tf.function
    def forward(inputs: Any) -> Any:
        return model(inputs, training=False)

    concrete = forward.get_concrete_function(tf.TensorSpec(x.shape, x.dtype))
    notes: list[str] = []
    flops = parts.forward_flops_per_sample
    if flops is None:
        total = graph_flops(tf, concrete)
        flops = total / batch if total else None
        if flops is None:
            notes.append("FLOPs unknown: TensorFlow's cost analysis gave none")
    frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
    calibration = (iter(seeded_batches(tf, x, spec.seed + 2, CALIBRATION_BATCHES))
                   if spec.precision == "int8" else None)
    converted = cached_model(tf, runtime.module, spec, frozen, calibration)
    interpreter = make_interpreter(runtime, converted.content, spec.intra_op_threads)
    found = accuracy(tf, interpreter, model, x, spec.seed)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    interpreter.set_tensor(inp, x.numpy())  # the input stays in the interpreter, as it is served
    invoke, get = interpreter.invoke, interpreter.get_tensor

    def step() -> Output:
        invoke()
        return Output(get(out))

    if spec.precision == "int8":
        notes.append("int8: weights and activations int8 (calibrated on "
                     f"{CALIBRATION_BATCHES} seeded batches); inputs and outputs float32")
    info = TfliteInfo(
        runtime_name=runtime.name, runtime_version=runtime.version, delegate=DELEGATE,
        num_threads=spec.intra_op_threads, model_bytes=len(converted.content),
        conversion_seconds=converted.conversion_seconds, cached=converted.cached,
        accuracy=found,
    )
    return BuiltWorkload(step, batch, flops, notes=notes, model=model, inputs=x), info
