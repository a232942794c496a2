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

The Edge TPU (``delegate="edgetpu"``): the full-integer int8 model is compiled by
``edgetpu_compiler`` (cached beside the int8 file under a key of that file's bytes and the
compiler's version) and run with Coral's ``libedgetpu`` loaded as the interpreter's delegate. A
compiler failure, a model with no operation mapped to the Edge TPU, or a delegate that does not load
(no Coral device plugged in) fails the run with :class:`EdgeTpuError`'s one line.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwprof.core.edgetpu import (
    CompilerLog,
    edgetpu_library_name,
    find_edgetpu_compiler,
    find_edgetpu_library,
    parse_compiler_log,
)
from hwprof.core.paths import data_dir
from hwprof.core.results import DeployedAccuracy, TfliteInfo, deployed_accuracy
from hwprof.core.spec import RunSpec
from hwprof.workloads.builders import (
    BuiltWorkload,
    estimate_batch_norms,
    forward_graph,
    make_parts,
)

# Bumped when what a cache file holds changes (how hwprof converts), so old files miss
CACHE_FORMAT = 2  # 2: BatchNormalization statistics estimated at build
RUNTIME_ENV = "HWPROF_TFLITE_RUNTIME"
ACCURACY_SAMPLES = 16  # at least this many seeded samples, in whole batches of the model's
CALIBRATION_BATCHES = 4  # the int8 representative dataset: this many seeded batches
DELEGATE = "XNNPACK"
EDGETPU_DELEGATE = "Edge TPU"
COMPILE_TIMEOUT_S = 600.0  # MobileNet-size models compile in seconds; a hung compiler is cut off
VERSION_TIMEOUT_S = 30.0
TFLITE_MAGIC = b"TFL3"  # a flatbuffer's file identifier, bytes 4 to 8


class ConversionError(RuntimeError):
    """A model TFLite cannot convert; the message says which and why."""


class EdgeTpuError(RuntimeError):
    """The Edge TPU path failed (compiling, mapping, loading); the message says why, in a line."""


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


def one_line(text: str, limit: int = 300) -> str:
    """A program's or an error's output said in a line: its first error line, else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    errors = [line for line in lines if re.search(r"error|fail|invalid|unsupported", line, re.I)]
    line = (errors or lines)[0 if errors else -1]
    return line if len(line) <= limit else line[:limit] + "…"


def _decode(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def compiler_version(compiler: str) -> str:
    """``edgetpu_compiler --version``'s line ("Edge TPU Compiler version 16.0.384591198")."""
    try:
        done = subprocess.run([compiler, "--version"], capture_output=True, check=False,
                              timeout=VERSION_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EdgeTpuError(f"{compiler} --version did not answer in {VERSION_TIMEOUT_S:.0f} s; "
                           "reinstall edgetpu-compiler") from None
    except OSError as err:
        raise EdgeTpuError(f"{compiler} could not be run ({err.strerror or err}); reinstall "
                           "edgetpu-compiler") from None
    text = (_decode(done.stdout) + _decode(done.stderr)).strip()
    if done.returncode != 0 or not text:
        raise EdgeTpuError(f"{compiler} --version failed (exit {done.returncode}: "
                           f"{one_line(text)}); reinstall edgetpu-compiler")
    return text.splitlines()[0].strip()[:200]


@dataclass
class CompiledModel:
    """An int8 model compiled for the Edge TPU: its bytes, where it is, the compiler's log."""

    content: bytes
    path: Path
    compile_seconds: float  # 0 when it came from the cache
    cached: bool
    log: CompilerLog
    version: str


def edgetpu_path(model: CachedModel, version: str) -> Path:
    """The compiled model's cache file, beside the int8 one, keyed by its bytes and the compiler."""
    fields = {"format": CACHE_FORMAT, "compiler": version,
              "model": hashlib.sha256(model.content).hexdigest()}
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return model.path.with_name(f"{model.path.stem}-tpu{key}_edgetpu.tflite")


def _mapped_or_refused(log: CompilerLog, name: str) -> None:
    if log.on_edgetpu == 0:
        cpu = f" (all {log.on_cpu} run on the CPU)" if log.on_cpu else ""
        raise EdgeTpuError(f"edgetpu_compiler mapped none of {name}'s operations to the Edge "
                           f"TPU{cpu}: run it with --delegate xnnpack, or use a model whose ops "
                           "the Edge TPU supports (coral.ai/docs/edgetpu/models-intro)")


def compiled_model(
    compiler: str, model: CachedModel, *, timeout: float = COMPILE_TIMEOUT_S
) -> CompiledModel:
    """``model`` (full-integer int8, on disk) compiled for the Edge TPU, from the cache if there.

    EdgeTpuError when the compiler fails or times out, writes no model, or maps no operation.
    """
    version = compiler_version(compiler)
    path = edgetpu_path(model, version)
    log_path = path.with_suffix(".log")
    name = model.path.name
    if path.is_file() and log_path.is_file():
        content = path.read_bytes()
        log = parse_compiler_log(log_path.read_text(encoding="utf-8", errors="replace"))
        if content[4:8] == TFLITE_MAGIC and log.on_edgetpu != 0:
            return CompiledModel(content, path, 0.0, True, log, version)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".edgetpu-") as out:
        try:  # -s: the per-operator table; -o: our folder, so nothing lands beside the cache
            done = subprocess.run([compiler, "-s", "-o", out, str(model.path)], cwd=out,
                                  capture_output=True, check=False, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise EdgeTpuError(f"edgetpu_compiler did not finish compiling {name} in "
                               f"{timeout:.0f} s") from None
        except OSError as err:
            raise EdgeTpuError(f"{compiler} could not be run ({err.strerror or err}); reinstall "
                               "edgetpu-compiler") from None
        text = _decode(done.stdout) + "\n" + _decode(done.stderr)
        if done.returncode != 0:  # its own error lines are on stderr, a generic abort on stdout
            why = one_line(_decode(done.stderr) + "\n" + _decode(done.stdout))
            raise EdgeTpuError(f"edgetpu_compiler failed on {name} (exit {done.returncode}): "
                               f"{why}")
        produced = Path(out) / f"{model.path.stem}_edgetpu.tflite"
        if not produced.is_file():
            raise EdgeTpuError(f"edgetpu_compiler wrote no {produced.name} ({one_line(text)})")
        content = produced.read_bytes()
        operations = produced.with_suffix(".log")  # the compiler's operation log, when written
        if operations.is_file():
            text += "\n" + operations.read_text(encoding="utf-8", errors="replace")
    seconds = time.monotonic() - t0
    if content[4:8] != TFLITE_MAGIC:
        raise EdgeTpuError(f"edgetpu_compiler's {produced.name} is not a TFLite model")
    log = parse_compiler_log(text)
    _mapped_or_refused(log, name)
    write_atomically(path, content)
    write_atomically(log_path, text.encode("utf-8"))
    return CompiledModel(content, path, seconds, False, log, version)


def load_edgetpu_delegate(runtime: Runtime, library: str) -> Any:
    """Coral's delegate loaded from ``library``; EdgeTpuError says why it did not load."""
    loader = (runtime.module.experimental.load_delegate if runtime.name == "tf.lite"
              else runtime.module.load_delegate)
    hook = sys.unraisablehook
    # a failed load leaves a half-made Delegate whose __del__ raises (TensorFlow's bug): its
    # "Exception ignored" traceback on stderr says nothing the message below does not
    sys.unraisablehook = lambda _: None
    try:
        try:
            return loader(library)
        except Exception as err:  # libedgetpu raises when no Edge TPU answers, as for a bad file
            why = one_line(str(err) or type(err).__name__)
        gc.collect()  # the traceback that held the half-made delegate is gone: collect it now
    finally:
        sys.unraisablehook = hook
    raise EdgeTpuError(f"the Edge TPU delegate ({library}) did not load: {why}. Is a Coral Edge "
                       "TPU plugged in, and is the library Coral's runtime? --delegate xnnpack "
                       "runs the int8 model on the CPU")


def edgetpu_interpreter(
    runtime: Runtime, model: CachedModel, threads: int | None
) -> tuple[Any, CompiledModel]:
    """The model compiled for the Edge TPU, in an interpreter with Coral's delegate."""
    library = find_edgetpu_library()
    if library is None:
        raise EdgeTpuError(f"the Edge TPU delegate needs {edgetpu_library_name()}, which is not "
                           "on this machine: install Coral's Edge TPU runtime (libedgetpu1-std)")
    compiler = find_edgetpu_compiler()
    if compiler is None:
        raise EdgeTpuError("edgetpu_compiler is not on PATH: apt install edgetpu-compiler from "
                           "Coral's apt repository")
    compiled = compiled_model(compiler, model)
    delegate = load_edgetpu_delegate(runtime, library)
    try:
        interpreter = make_interpreter(runtime, compiled.content, threads, [delegate])
    except Exception as err:
        raise EdgeTpuError(f"the model compiled for the Edge TPU did not load with its delegate: "
                           f"{one_line(str(err) or type(err).__name__)}") from None
    return interpreter, compiled


class Output:
    """An interpreter step's output, shaped like a tensor for the timed loop (``.numpy()``)."""

    def __init__(self, value: np.ndarray) -> None:
        self.value = value

    def numpy(self) -> np.ndarray:
        """The output array (already on the host)."""
        return self.value


def interpreter_threads(spec: RunSpec) -> int:
    """The interpreter's threads: ``--intra-threads``, or every CPU this process may run on.

    Left to itself the interpreter (and XNNPACK in it) runs one thread: MobileNet-V2 at batch 50
    ran 105 images/s on one thread and 230 on two here, so a comparison with TensorFlow, which
    uses every core, would measure the default and not the runtime.
    """
    if spec.intra_op_threads is not None:
        return spec.intra_op_threads
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU
    return max(1, len(affinity(0)) if affinity else (os.cpu_count() or 1))


def make_interpreter(
    runtime: Runtime, content: bytes, threads: int | None, delegates: list[Any] | None = None
) -> Any:
    """An interpreter with its tensors allocated; ``threads`` None leaves the runtime's default.

    ``delegates``: loaded delegates (the Edge TPU's) the interpreter hands the graph to.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = runtime.module.Interpreter(model_content=content, num_threads=threads,
                                                 experimental_delegates=delegates)
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
    parts = make_parts(tf, keras, as_tf)
    model, x = parts.model, parts.x
    estimate_batch_norms(tf, keras, model, x)  # as a TensorFlow inference run does
    concrete, flops, notes = forward_graph(tf, parts, spec.effective_batch_size)
    frozen = convert_to_constants.convert_variables_to_constants_v2(concrete)
    calibration = (iter(seeded_batches(tf, x, spec.seed + 2, CALIBRATION_BATCHES))
                   if spec.precision == "int8" else None)
    converted = cached_model(tf, runtime.module, spec, frozen, calibration)
    compiled = None
    threads = interpreter_threads(spec)
    if spec.delegate == "edgetpu":
        interpreter, compiled = edgetpu_interpreter(runtime, converted, threads)
    else:
        interpreter = make_interpreter(runtime, converted.content, threads)
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
        num_threads=threads, model_bytes=len(converted.content),
        conversion_seconds=converted.conversion_seconds, cached=converted.cached,
        accuracy=found,
    )
    if compiled is not None:  # the file run is the compiled one; compiling counts as converting
        info = info.model_copy(update={
            "delegate": EDGETPU_DELEGATE, "model_bytes": len(compiled.content),
            "conversion_seconds": converted.conversion_seconds + compiled.compile_seconds,
            "cached": converted.cached and compiled.cached,
            "edgetpu_compiler": compiled.version, "ops_on_edgetpu": compiled.log.on_edgetpu,
            "ops_on_cpu": compiled.log.on_cpu})
        notes.append(f"Edge TPU: {compiled.version}; " + (
            f"{compiled.log.on_edgetpu} operations on the Edge TPU, {compiled.log.on_cpu} on the "
            "CPU" if compiled.log.on_edgetpu is not None else "its log did not say how many "
            "operations run on the Edge TPU"))
    return BuiltWorkload(step, spec.effective_batch_size, flops, notes=notes, model=model,
                         inputs=x), info
