"""The TensorFlow Lite runtime: the spec's rules, targets, conversion and its cache, accuracy, CLI.

The first tests are plain (no TensorFlow); those marked ``tf`` convert and run real models on the
CPU in this process (tiny sizes), and the last ones run the CLI in real worker processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from hwprof.core.results import deployed_accuracy
from hwprof.core.spec import TFLITE_PRECISIONS, RunSpec
from hwprof.core.study import study_targets
from hwprof.core.targets import Target, TargetError, parse_target

ROOT = Path(__file__).resolve().parent.parent


# -- the spec --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fields", "words"), [
    ({"mode": "train"}, "inference only"),
    ({"device": "gpu:0"}, "GPU delegate"),
    ({"device": "tpu:0"}, "libtpu, not TFLite"),
    ({"data": "pipeline"}, "leave --data pipeline out"),
    ({"precision": "mixed_float16"}, "TFLite's precisions are"),
    ({"xla": True}, "leave --xla out"),
    ({"replicas": 2}, "leave --replicas and --cluster out"),
    ({"trace_steps": 5}, "leave --trace out"),
    ({"workload": "matmul"}, "converted Keras model"),
    ({"workload": "lstm", "precision": "int8"}, "use int8_dynamic"),
])
def test_a_tflite_run_refuses_what_it_cannot_be(fields: dict[str, Any], words: str) -> None:
    base: dict[str, Any] = {"workload": "mlp", "mode": "infer", "runtime": "tflite"}
    with pytest.raises(ValidationError, match=words):
        RunSpec(**{**base, **fields})


def test_tensorflow_refuses_tflite_precisions_and_old_specs_load_unchanged() -> None:
    with pytest.raises(ValidationError, match="TFLite precision"):
        RunSpec(workload="mlp", mode="infer", precision="int8")
    old = RunSpec.model_validate_json('{"workload": "mlp", "mode": "infer", "precision": "fp32"}')
    assert old.runtime == "tf"
    for precision in TFLITE_PRECISIONS:
        spec = RunSpec(workload="mlp", mode="infer", runtime="tflite", precision=precision)
        assert spec.label().endswith(f"{precision} tflite")


# -- targets and studies ---------------------------------------------------------------------------
def test_targets_read_the_runtime_and_its_precision_words() -> None:
    assert parse_target("cpu runtime=tflite").settings == {"runtime": "tflite"}
    assert parse_target("cpu tflite int8").settings == {"runtime": "tflite", "precision": "int8"}
    assert parse_target("cpu runtime=tflite precision=int8-dynamic").settings["precision"] == (
        "int8_dynamic")
    # fp16 is float16 weights under TFLite, Keras mixed precision under TensorFlow
    assert parse_target("cpu tflite fp16").settings["precision"] == "fp16"
    assert parse_target("cpu fp16").settings["precision"] == "mixed_float16"
    with pytest.raises(TargetError, match="add runtime=tflite"):
        parse_target("cpu int8")
    with pytest.raises(TargetError, match="use tf or tflite"):
        parse_target("cpu runtime=onnx")
    again = parse_target(parse_target("cpu runtime=tflite precision=int8").label)
    assert again.settings == {"runtime": "tflite", "precision": "int8"}


def test_a_precision_sweep_of_a_tflite_target_runs_tflites_precisions() -> None:
    targets = study_targets("precision_xla", [Target("cpu", {"runtime": "tflite"})])
    assert [t.settings["precision"] for t in targets] == list(TFLITE_PRECISIONS)
    assert all("xla" not in t.settings for t in targets)
    base = RunSpec(workload="mlp", mode="infer")
    assert [t.apply(base).precision for t in targets] == list(TFLITE_PRECISIONS)


# -- accuracy figures ------------------------------------------------------------------------------
def test_accuracy_is_relative_to_each_samples_largest_reference_output() -> None:
    ref = np.array([[10.0, 2.0, -1.0], [0.5, -4.0, 1.0]])
    out = ref.copy()
    out[0, 1] += 0.5  # 0.5 / 10 = 5%
    out[1, 2] += 5.0  # 5 / 4 = 125%
    out[1, 0] += 10.0  # 10 / 4 = 250%, and the argmax moves from 2 to 0: a disagreement
    acc = deployed_accuracy(out, ref)
    assert acc.samples == 2
    assert acc.max_relative_error == pytest.approx(2.5)
    assert acc.mean_relative_error == pytest.approx((0.05 + 1.25 + 2.5) / 6)
    assert acc.top1_agreement == 0.5
    with pytest.raises(ValueError, match="NaN"):
        deployed_accuracy(np.array([[np.nan, 1.0]]), np.array([[0.0, 1.0]]))


# -- conversion, cache, precisions (real TensorFlow) -----------------------------------------------
@pytest.fixture(scope="module")
def tf() -> Iterator[Any]:
    tf = pytest.importorskip("tensorflow")
    yield tf


@pytest.fixture
def keras_reset(tf: Any) -> Iterator[None]:
    import keras

    yield
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


def _spec(workload: str = "mlp", precision: str = "fp32", size: int = 16) -> RunSpec:
    return RunSpec(workload=workload, mode="infer", runtime="tflite", precision=precision,
                   batch_size=4, size=size, steps=2)


@pytest.mark.tf
def test_conversion_is_cached_and_a_new_tensorflow_or_a_damaged_file_converts_anew(
    tf: Any, keras_reset: None
) -> None:
    from hwprof.workloads import tflite

    spec = _spec()
    built, first = tflite.build_tflite(tf, spec)
    assert not first.cached and first.conversion_seconds > 0
    assert np.all(np.isfinite(built.step().numpy()))
    _, second = tflite.build_tflite(tf, spec)
    assert second.cached and second.conversion_seconds == 0
    assert second.model_bytes == first.model_bytes
    files = list(tflite.cache_dir().glob("*.tflite"))
    assert len(files) == 1 and files[0] == tflite.cache_path(spec, tf.__version__)
    assert not list(tflite.cache_dir().glob(".*.tmp"))  # written through a renamed temp file

    # another TensorFlow version: another key, a miss
    assert tflite.cache_key(spec, "9.9.9") != tflite.cache_key(spec, tf.__version__)
    frozen = _frozen_mlp(tf)
    other = tflite.cached_model(tf, tf.lite, spec, frozen, None, tf_version="9.9.9")
    assert not other.cached and other.path != files[0]

    # a damaged cache file is converted anew and replaced
    files[0].write_bytes(b"TFL3 not a model")
    _, third = tflite.build_tflite(tf, spec)
    assert not third.cached and files[0].stat().st_size == third.model_bytes


def _frozen_mlp(tf: Any) -> Any:
    from tensorflow.python.framework import convert_to_constants

    w = tf.constant([[0.5, -0.25], [0.125, 1.0]])

    @tf.function
    def f(x: Any) -> Any:
        return tf.matmul(x, w)

    concrete = f.get_concrete_function(tf.TensorSpec((4, 2), tf.float32))
    return convert_to_constants.convert_variables_to_constants_v2(concrete)


@pytest.mark.tf
@pytest.mark.parametrize("workload", ["mlp", "conv", "cifar10_cnn"])
def test_every_precision_converts_and_runs_smaller(
    tf: Any, keras_reset: None, workload: str
) -> None:
    from hwprof.workloads import tflite

    size = {"mlp": 64, "conv": 8, "cifar10_cnn": 16}[workload]
    sizes = {}
    for precision in TFLITE_PRECISIONS:
        built, info = tflite.build_tflite(tf, _spec(workload, precision, size))
        out = built.step().numpy()
        assert out.shape == (4, 10) and np.all(np.isfinite(out))
        assert info.runtime_name == "tf.lite" and info.delegate == "XNNPACK"
        assert info.accuracy is not None and info.accuracy.samples == 16
        sizes[precision] = info.model_bytes
    # float16 weights halve the file; int8 weights quarter it
    assert sizes["fp16"] < 0.6 * sizes["fp32"]
    assert sizes["int8_dynamic"] < 0.6 * sizes["fp16"]
    assert sizes["int8"] < 0.6 * sizes["fp16"]


@pytest.mark.tf
def test_a_model_with_an_op_tflite_lacks_is_refused_with_the_op_named(tf: Any) -> None:
    from hwprof.workloads.tflite import ConversionError, convert

    @tf.function
    def singular_values(x: Any) -> Any:
        return tf.linalg.svd(x, compute_uv=False)

    concrete = singular_values.get_concrete_function(tf.TensorSpec((2, 4, 4), tf.float32))
    with pytest.raises(ConversionError, match="built-in ops lack Svd"):
        convert(tf, concrete, "fp32", None)


@pytest.mark.tf
def test_accuracy_on_a_model_with_known_weights(
    tf: Any, keras_reset: None, tmp_path: Path
) -> None:
    """Weights exact in float16 lose nothing; int8's error is bounded by its quantization steps."""
    import keras

    from hwprof.workloads import tflite

    weights = np.array([[1.0, -0.5, 0.25], [0.75, 1.0, -1.0], [-0.125, 0.5, 0.5],
                        [0.25, -0.75, 1.0]], dtype=np.float32)
    inp = keras.Input((4,), batch_size=4)
    model = keras.Model(inp, keras.layers.Dense(3, use_bias=False)(inp))
    model.layers[-1].set_weights([weights])
    frozen = _frozen(tf, model)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 4)), tf.float32)
    for precision, worst in (("fp32", 1e-6), ("fp16", 1e-6), ("int8_dynamic", 0.05),
                             ("int8", 0.1)):
        spec = _spec("mlp", precision)  # names the cache file only
        # calibrated on the very inputs compared (accuracy() draws them with seed + 1), so no
        # value is clipped and the error is the quantization steps' alone
        calibration = (iter(tflite.seeded_batches(tf, x, 1, 4)) if precision == "int8"
                       else None)
        model_file = tflite.cached_model(tf, tf.lite, spec, frozen, calibration,
                                         folder=tmp_path)
        interpreter = tflite.make_interpreter(tflite.choose_runtime(tf), model_file.content, 1)
        acc = tflite.accuracy(tf, interpreter, model, x, seed=0)
        assert acc.samples == 16
        assert acc.max_relative_error <= worst, precision
        if precision in ("fp32", "fp16"):
            assert acc.top1_agreement == 1.0


def _frozen(tf: Any, model: Any) -> Any:
    from tensorflow.python.framework import convert_to_constants

    @tf.function
    def forward(x: Any) -> Any:
        return model(x, training=False)

    concrete = forward.get_concrete_function(tf.TensorSpec((4, 4), tf.float32))
    return convert_to_constants.convert_variables_to_constants_v2(concrete)


@pytest.mark.tf
def test_litert_asked_for_but_missing_says_what_to_install(
    tf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwprof.workloads import tflite

    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("ai_edge_litert is installed here")
    monkeypatch.setenv(tflite.RUNTIME_ENV, "ai_edge_litert")
    with pytest.raises(RuntimeError, match="pip install ai-edge-litert"):
        tflite.choose_runtime(tf)
    monkeypatch.delenv(tflite.RUNTIME_ENV)
    assert tflite.choose_runtime(tf).name == "tf.lite"


# -- the CLI, in real worker processes -------------------------------------------------------------
def _hwprof(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "hwprof", *args], capture_output=True,
                          text=True, env=env, timeout=600, cwd=ROOT)


@pytest.mark.tf
def test_hwprof_run_tflite_reports_the_model_runtime_and_accuracy() -> None:
    done = _hwprof("run", "mlp", "--runtime", "tflite", "--precision", "int8-dynamic",
                   "--size", "32", "--batch-size", "8", "--steps", "20", "--intra-threads",
                   "1", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    assert doc["spec"]["runtime"] == "tflite" and doc["spec"]["mode"] == "infer"
    info = doc["result"]["report"]["tflite"]
    assert info["runtime_name"] == "tf.lite" and info["num_threads"] == 1
    assert info["model_bytes"] > 0 and info["accuracy"]["samples"] == 16
    assert doc["result"]["latency_s"]["p50"] > 0
    refused = _hwprof("run", "mlp", "--runtime", "tflite", "--mode", "train")
    assert refused.returncode == 2 and "inference only" in refused.stderr


@pytest.mark.tf
def test_compare_tf_tflite_and_int8_side_by_side() -> None:
    done = _hwprof("compare", "--workload", "mlp", "--mode", "infer", "--size", "32",
                   "--batch-size", "8", "--duration", "0.3", "--trials", "1",
                   "--target", "cpu", "--target", "cpu runtime=tflite",
                   "--target", "cpu runtime=tflite precision=int8")
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for words in ("model", "top-1 agreement", "max rel. error", "cpu tflite int8"):
        assert words in out, out
    rows = [line for line in out.splitlines() if line.startswith("│ cpu")]
    assert len(rows) == 3 and "KiB" in rows[1] and "KiB" in rows[2] and "KiB" not in rows[0]


# -- delegates -------------------------------------------------------------------------------------
def test_delegates_are_found_without_loading_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwprof.backends import tflite_delegates as d

    name = d.EDGETPU_NAMES["linux"]
    monkeypatch.setattr("hwprof.core.edgetpu._platform", lambda: "linux")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert "apt install libedgetpu1-std" in d.edgetpu_problem([tmp_path])
    (tmp_path / name).write_bytes(b"not even a library: it is never loaded")
    found = {x.name: x for x in d.tflite_delegates([tmp_path])}
    assert found["XNNPACK"].available and found["Edge TPU"].available
    assert str(tmp_path / name) in found["Edge TPU"].detail
    assert not found["edgetpu_compiler"].available
    assert "edgetpu_compiler is not on PATH" in d.edgetpu_problem([tmp_path])
    (tmp_path / "bin").mkdir()
    compiler = tmp_path / "bin" / "edgetpu_compiler"
    compiler.write_text("#!/bin/sh\n")
    compiler.chmod(0o755)
    assert d.edgetpu_problem([tmp_path]) == ""


def test_an_edge_tpu_run_is_refused_with_the_reason() -> None:
    from hwprof.backends.tflite_delegates import find_edgetpu_library
    from hwprof.services.runs import DeviceError, check_device

    with pytest.raises(ValidationError, match="full-integer models only"):
        RunSpec(workload="mlp", mode="infer", runtime="tflite", delegate="edgetpu")
    with pytest.raises(ValidationError, match="add --runtime tflite"):
        RunSpec(workload="mlp", mode="infer", delegate="edgetpu")
    spec = RunSpec(workload="mlp", mode="infer", runtime="tflite", precision="int8",
                   delegate="edgetpu")
    if find_edgetpu_library() is not None:
        pytest.skip("this machine has the Edge TPU runtime")
    with pytest.raises(DeviceError, match="Edge TPU delegate needs"):
        check_device(spec)
    done = _hwprof("run", "mlp", "--runtime", "tflite", "--precision", "int8", "--delegate",
                   "edgetpu")
    assert done.returncode == 2 and "Edge TPU runtime" in done.stderr and not done.stdout


# edgetpu_compiler's output as Coral's docs show it (version 2.0's summary lines, and the
# per-operator table that -s adds)
COMPILER_LOG = """Edge TPU Compiler version 16.0.384591198

Model compiled successfully in 231 ms.

Input model: {model}
Input size: 4.02KiB
Output model: {out}
Output size: 64.47KiB
On-chip memory used for caching model parameters: 3.50KiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: {total}
Operation log: {log}
Number of operations that will run on Edge TPU: {tpu}
Number of operations that will run on CPU: {cpu}

Operator                       Count      Status

QUANTIZE                       2          Mapped to Edge TPU
FULLY_CONNECTED                3          Mapped to Edge TPU
"""
COMPILER_TABLE_ONLY = """Edge TPU Compiler version 16.0.384591198
Input: m.tflite

Operator                       Count      Status

QUANTIZE                       1          Mapped to Edge TPU
FULLY_CONNECTED                2          Mapped to Edge TPU
SOFTMAX                        1          Operation is otherwise supported, but not mapped due \
to some unspecified limitation
DEQUANTIZE                     1          Operation is working on an unsupported data type
"""


def _fake_compiler(folder: Path, *, fails: bool = False, tpu: int = 5, cpu: int = 0) -> Path:
    """An edgetpu_compiler on PATH that copies the model and prints Coral's log (or fails)."""
    folder.mkdir(parents=True, exist_ok=True)
    log = COMPILER_LOG.format(model="$model", out="${base}_edgetpu.tflite", total=tpu + cpu,
                              log="${base}_edgetpu.log", tpu=tpu, cpu=cpu)
    body = ('echo "ERROR: Didn\'t find op for builtin opcode \'FULLY_CONNECTED\' version \'9\'"'
            ' >&2\necho "Internal compiler error. Aborting!"\nexit 1' if fails else
            f'cp "$model" "$out/${{base}}_edgetpu.tflite"\ncat <<EOF\n{log}EOF')
    script = folder / "edgetpu_compiler"
    script.write_text(f"""#!/bin/sh
echo "$*" >> "{folder}/calls"
if [ "$1" = "--version" ]; then echo "Edge TPU Compiler version 16.0.384591198"; exit 0; fi
[ "$1" = "-s" ] && [ "$2" = "-o" ] || {{ echo "usage: bad arguments" >&2; exit 2; }}
out="$3"; model="$4"; base=$(basename "$model" .tflite)
{body}
""")
    script.chmod(0o755)
    return script


def test_the_compiler_log_gives_the_operations_on_the_edge_tpu_and_the_cpu() -> None:
    from hwprof.core.edgetpu import parse_compiler_log

    log = parse_compiler_log(COMPILER_LOG.format(model="m.tflite", out="o", total=9, log="l",
                                                 tpu=7, cpu=2))
    assert (log.on_edgetpu, log.on_cpu) == (7, 2)  # the summary lines win over the table
    table = parse_compiler_log(COMPILER_TABLE_ONLY)
    assert (table.on_edgetpu, table.on_cpu) == (3, 2)
    assert parse_compiler_log("Edge TPU Compiler version 16\nsomething else\n").on_edgetpu is None
    assert parse_compiler_log("").on_cpu is None


def test_an_edge_tpu_run_is_allowed_once_the_runtime_and_the_compiler_are_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hwprof.backends import tflite_delegates as d
    from hwprof.services.runs import check_device

    spec = RunSpec(workload="mlp", mode="infer", runtime="tflite", precision="int8",
                   delegate="edgetpu")
    library = tmp_path / d.EDGETPU_NAMES["linux"]
    library.write_bytes(b"never loaded here")
    monkeypatch.setattr(d, "find_edgetpu_library", lambda dirs=None: str(library))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(Exception, match="edgetpu_compiler is not on PATH: apt install"):
        check_device(spec)
    _fake_compiler(tmp_path / "bin")
    assert check_device(spec) == spec


def test_an_edge_tpu_runs_facts_say_how_much_of_the_model_is_on_the_edge_tpu() -> None:
    from hwprof.core.results import TfliteInfo
    from hwprof.services.runs import tflite_rows

    info = TfliteInfo(runtime_name="tf.lite", runtime_version="2.21.0", delegate="Edge TPU",
                      model_bytes=4096, conversion_seconds=1.5,
                      edgetpu_compiler="Edge TPU Compiler version 16.0.384591198",
                      ops_on_edgetpu=65, ops_on_cpu=1)
    rows = dict(tflite_rows(info))
    assert rows["runtime"].startswith("tf.lite 2.21.0, Edge TPU delegate")
    assert rows["Edge TPU"] == ("65 operations on the Edge TPU, 1 on the CPU (Edge TPU Compiler "
                                "version 16.0.384591198)")
    unsaid = info.model_copy(update={"ops_on_edgetpu": None, "ops_on_cpu": None})
    assert "its log did not say" in dict(tflite_rows(unsaid))["Edge TPU"]
    assert "Edge TPU" not in dict(tflite_rows(info.model_copy(update={"edgetpu_compiler": None})))


@pytest.fixture
def int8_mlp(tf: Any, tmp_path: Path) -> Any:
    """A real full-integer int8 model on disk (TensorFlow's converter, on the CPU)."""
    from hwprof.workloads import tflite

    x = tf.zeros((4, 2), tf.float32)
    calibration = iter(tflite.seeded_batches(tf, x, 1, 4))
    (tmp_path / "cache").mkdir()
    return tflite.cached_model(tf, tf.lite, _spec("mlp", "int8"), _frozen_mlp(tf), calibration,
                               folder=tmp_path / "cache")


@pytest.mark.tf
def test_edge_tpu_compilation_is_cached_by_the_compilers_version(
    tmp_path: Path, int8_mlp: Any
) -> None:
    from hwprof.workloads import tflite

    compiler = _fake_compiler(tmp_path / "bin")
    first = tflite.compiled_model(str(compiler), int8_mlp)
    assert not first.cached and first.content == int8_mlp.content
    assert (first.log.on_edgetpu, first.log.on_cpu) == (5, 0)
    assert first.version == "Edge TPU Compiler version 16.0.384591198"
    assert first.path.parent == int8_mlp.path.parent and first.path.name.endswith("_edgetpu.tflite")
    assert first.path.name.startswith(int8_mlp.path.stem)
    second = tflite.compiled_model(str(compiler), int8_mlp)
    assert second.cached and second.path == first.path and second.log == first.log
    calls = (tmp_path / "bin" / "calls").read_text().splitlines()
    assert [c for c in calls if c.startswith("-s -o")] == calls[1:2]  # compiled once
    # another compiler version: another key, compiled anew
    text = compiler.read_text().replace("version 16.0.384591198", "version 16.0.999")
    compiler.write_text(text)
    third = tflite.compiled_model(str(compiler), int8_mlp)
    assert not third.cached and third.path != first.path
    assert not list(int8_mlp.path.parent.glob(".edgetpu-*"))  # its scratch folder is gone


@pytest.mark.tf
@pytest.mark.parametrize(("kind", "words"), [
    ("fails", r"edgetpu_compiler failed on mlp-int8-\S+ \(exit 1\): ERROR: Didn't find op"),
    ("maps none", "mapped none of mlp-int8-.*'s operations to the Edge TPU \\(all 3 run on the "
     "CPU\\): run it with --delegate xnnpack"),
])
def test_a_compiler_failure_or_a_model_it_maps_nothing_of_is_a_clear_reason(
    tmp_path: Path, int8_mlp: Any, kind: str, words: str
) -> None:
    from hwprof.workloads import tflite

    compiler = _fake_compiler(tmp_path / "bin", fails=kind == "fails", tpu=0, cpu=3)
    with pytest.raises(tflite.EdgeTpuError, match=words) as caught:
        tflite.compiled_model(str(compiler), int8_mlp)
    assert "\n" not in str(caught.value)
    assert not list(int8_mlp.path.parent.glob("*_edgetpu.*"))  # nothing cached


@pytest.mark.tf
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_edge_tpu_run_without_a_loadable_delegate_fails_with_the_reason(
    tf: Any, keras_reset: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole worker path, the delegate's load real: libedgetpu is a file that is no library."""
    from hwprof.workloads import tflite

    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    _fake_compiler(tmp_path / "bin")
    library = tmp_path / "libedgetpu.so.1"
    library.write_bytes(b"not a shared library")
    monkeypatch.setattr(tflite, "find_edgetpu_library", lambda: str(library))
    spec = RunSpec(workload="mlp", mode="infer", runtime="tflite", precision="int8",
                   delegate="edgetpu", batch_size=4, size=16, steps=2)
    with pytest.raises(tflite.EdgeTpuError, match=r"Edge TPU delegate \(.*libedgetpu.so.1\) did "
                       "not load: .*Is a Coral Edge TPU plugged in") as caught:
        tflite.build_tflite(tf, spec)
    assert "\n" not in str(caught.value)
    compiled = list(tflite.cache_dir().glob("*_edgetpu.tflite"))
    assert len(compiled) == 1  # compiled (and cached) before the delegate was loaded
    monkeypatch.setattr(tflite, "find_edgetpu_library", lambda: None)
    with pytest.raises(tflite.EdgeTpuError, match=r"needs libedgetpu\.so\.1.*libedgetpu1-std"):
        tflite.build_tflite(tf, spec)


def test_snapshot_comparisons_never_match_a_tflite_run_with_a_tensorflow_run() -> None:
    from hwprof.core.compare import settings_key

    tf_run = RunSpec(workload="mlp", mode="infer")
    tflite_run = tf_run.model_copy(update={"runtime": "tflite"})
    assert settings_key(tf_run) != settings_key(tflite_run)
    old = RunSpec.model_validate_json('{"workload": "mlp", "mode": "infer"}')
    assert settings_key(old) == settings_key(tf_run)


# -- BatchNormalization statistics: logits that mean something ---------------------------------
@pytest.mark.tf
def test_inference_estimates_batch_norm_statistics_so_logits_keep_their_scale() -> None:
    import tensorflow as tf

    from hwprof.workloads.builders import build_keras

    spec = RunSpec(workload="mobilenet_v2", mode="infer", size=32, batch_size=4)
    built = build_keras(tf, spec)
    logits = np.asarray(built.step())
    # the untrained model with Keras' initial statistics gives about 1e-17: nothing to compare
    assert 0.05 < float(np.std(logits)) < 100, float(np.std(logits))
    # the timed (frozen) graph and the model itself agree: both serve the same statistics
    from hwprof.core.profile import NUMERICS_TOLERANCE, max_relative_error

    eager = np.asarray(built.model(built.inputs, training=False))
    # (not to the last bit: the frozen graph folds each BatchNormalization into its convolution)
    assert (max_relative_error(logits, eager) or 1) < NUMERICS_TOLERANCE["fp32"]
    # training keeps Keras' own statistics (a training step uses the batch's anyway)
    train = build_keras(tf, spec.model_copy(update={"mode": "train"}))
    bn = next(v for v in train.model.non_trainable_variables if "moving_variance" in v.path)
    assert np.allclose(bn.numpy(), 1.0)


@pytest.mark.tf
def test_tflite_int8_top1_agreement_on_mobilenet_is_a_real_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tensorflow as tf

    from hwprof.workloads import tflite

    monkeypatch.setattr(tflite, "cache_dir", lambda: tmp_path)
    spec = RunSpec(workload="mobilenet_v2", mode="infer", size=32, batch_size=8,
                   runtime="tflite", precision="int8")
    _, info = tflite.build_tflite(tf, spec)
    acc = info.accuracy
    assert acc is not None
    # before the statistics were estimated: 0% (the logits were rounding noise)
    assert acc.top1_agreement >= 0.25, acc
    assert acc.mean_relative_error < 0.5, acc


# -- what the outputs carry ------------------------------------------------------------------------
def _tflite_run() -> Any:
    from fakes.snapshots import a_run

    from hwprof.core.results import DeployedAccuracy, TfliteInfo

    spec = RunSpec(workload="mlp", mode="infer", size=16, steps=4, duration_seconds=None,
                   runtime="tflite", precision="int8")
    run = a_run(spec)
    info = TfliteInfo(runtime_name="tf.lite", runtime_version="2.21.0", delegate="XNNPACK",
                      num_threads=2, model_bytes=12_345, conversion_seconds=1.25, cached=False,
                      accuracy=DeployedAccuracy(samples=16, max_relative_error=0.02,
                                                mean_relative_error=0.005, top1_agreement=0.9375))
    report = run.result.report.model_copy(update={"tflite": info})
    return run.model_copy(update={"result": run.result.model_copy(update={"report": report})})


def test_report_csv_and_html_carry_the_runtime_delegate_and_deployed_model(tmp_path: Path) -> None:
    import csv

    from fakes.snapshots import a_run, machine

    from hwprof.core.snapshot import new_snapshot
    from hwprof.services.report import html_report, write_csv

    snap = new_snapshot(machine()).with_run(a_run()).with_run(_tflite_run())
    write_csv(snap, tmp_path)
    with open(tmp_path / "runs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    tf_row, lite = rows
    assert (tf_row["runtime"], tf_row["delegate"], tf_row["model_bytes"]) == ("tf", "", "")
    assert (lite["runtime"], lite["delegate"], lite["tflite_runtime"]) == (
        "tflite", "xnnpack", "tf.lite")
    assert lite["model_bytes"] == "12345" and lite["conversion_cached"] == "False"
    assert float(lite["top1_agreement"]) == 0.9375
    assert float(lite["max_relative_error"]) == 0.02
    page = html_report(snap)
    assert "XNNPACK delegate" in page and "top-1 agreement 93.8%" in page
    assert "converted in" in page


def test_detect_json_lists_the_tflite_delegates() -> None:
    done = _hwprof("detect", "--json", "--no-tensorflow")
    assert done.returncode == 0, done.stderr[-2000:]
    delegates = {d["name"]: d for d in json.loads(done.stdout)["tflite_delegates"]}
    assert delegates["XNNPACK"]["available"] is True
    assert "Edge TPU" in delegates and delegates["Edge TPU"]["detail"]


def test_a_target_that_switches_the_runtime_drops_what_only_the_other_one_has() -> None:
    """The Compare tab's base run is the Run tab's: a TFLite int8 base must not make "cpu
    runtime=tf" a refused TensorFlow int8 run, nor an XLA, traced or pipeline base a refused
    TFLite one."""
    tflite_base = RunSpec(workload="cifar10_cnn", mode="infer", runtime="tflite", precision="int8")
    tf_run = parse_target("cpu runtime=tf").apply(tflite_base)
    assert (tf_run.runtime, tf_run.precision, tf_run.delegate) == ("tf", "fp32", "xnnpack")
    assert parse_target("cpu runtime=tf bf16").apply(tflite_base).precision == "mixed_bfloat16"
    assert parse_target("cpu tflite").apply(tflite_base).precision == "int8"  # same runtime

    tf_base = RunSpec(workload="cifar10_cnn", mode="infer", xla=True, trace_steps=3,
                      precision="mixed_bfloat16", data="pipeline", pipeline_threads=1)
    lite = parse_target("cpu tflite").apply(tf_base)
    assert (lite.precision, lite.xla, lite.trace_steps, lite.data, lite.pipeline_threads) == \
        ("fp32", False, None, "synthetic", None)
    with pytest.raises(TargetError, match="leave --xla out"):
        parse_target("cpu tflite xla").apply(tf_base)  # asked for: refused, not dropped


def test_the_interpreter_uses_every_cpu_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """Left alone, TFLite's interpreter runs one thread while TensorFlow uses every core: a
    comparison of the two would measure that default, not the runtime."""
    import os

    from hwprof.workloads.tflite import interpreter_threads

    spec = RunSpec(workload="mlp", mode="infer", runtime="tflite")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert interpreter_threads(spec) == 3
    assert interpreter_threads(spec.model_copy(update={"intra_op_threads": 1})) == 1
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)  # Windows, macOS
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert interpreter_threads(spec) == 8
