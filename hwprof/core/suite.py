"""The profile suite: a fixed, versioned list of tests that means the same on every device.

``hwprof profile`` runs this suite on one device. Every test fixes what it runs (workload, mode,
batch, size, precision, XLA off, scenario), so a profile made on a laptop CPU and one made on an
H100 compare test by test. The suite's name carries its version (:data:`SUITE_VERSION`): a change to
any test's settings is a new version, and profiles of different versions are not scored against
each other.

Plain data and pure logic: which tests a device runs (and why one is skipped), their run specs, and
how long they should take. Running them is :mod:`hwprof.services.profile`'s work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from hwprof.core.catalog import Mode
from hwprof.core.spec import Precision, RunSpec, Runtime, Scenario

SUITE_VERSION = "hwprof-suite/1"
# The deployment section: TFLite tests on the CPU, a set of its own with its own version, so that
# the scored suite (and the reference profile measured for it) stays as it is
DEPLOY_VERSION = "hwprof-deploy/1"

Category = Literal["ceiling", "train", "infer", "latency"]
# "mixed": the device's own mixed precision (bf16 on CPUs that have it, fp16 on GPUs); "fp16" and
# "bf16": that precision or the test is skipped
# "int8": TFLite's full-integer model (the deployment section only)
TestPrecision = Literal["fp32", "mixed", "fp16", "bf16", "int8"]
Length = Literal["quick", "full"]
LENGTHS: tuple[Length, ...] = ("quick", "full")

CATEGORY_TITLE: dict[Category, str] = {
    "ceiling": "ceilings",
    "train": "training",
    "infer": "inference, offline throughput",
    "latency": "inference, single-stream latency",
}
# the latency percentile a single-stream test is scored by (MLPerf's single-stream uses p90)
LATENCY_SCORE_PERCENTILE = "p90"


@dataclass(frozen=True)
class LengthSettings:
    """How long each test of a profile measures."""

    name: Length
    timed_scale: float  # x each test's quick timed seconds
    warmup_steps: int
    steady_cv: float | None  # end a test early once its throughput is this steady; None: never
    description: str


LENGTH_SETTINGS: dict[Length, LengthSettings] = {
    "quick": LengthSettings(
        "quick", 1.0, 2, 0.02,
        "each test measures a few seconds, or less once its throughput is steady"),
    "full": LengthSettings(
        "full", 4.0, 5, None,
        "each test measures four times longer and never ends early: tighter intervals"),
}


@dataclass(frozen=True)
class DeviceCaps:
    """What the suite needs to know of a device to plan it (from detection)."""

    kind: Literal["cpu", "gpu"]
    cpu_flags: frozenset[str] = frozenset()
    compute_capability: tuple[int, int] | None = None  # NVIDIA GPUs


@dataclass(frozen=True)
class SuiteTest:
    """One test of the suite: what it runs, fixed, and how it is judged."""

    test_id: str
    title: str
    category: Category
    workload: str
    mode: Mode
    precision: TestPrecision = "fp32"
    batch_size: int | None = None
    size: int | None = None
    scenario: Scenario = "offline"
    quick_seconds: float = 4.0  # the longest timed phase of a quick profile
    setup_seconds: float = 2.0  # building and the first step, here (2-core Xeon): for the ETA
    gpu_only: bool = False
    runtime: Runtime = "tf"
    baseline: str | None = None  # deployment: the suite's TensorFlow test it is set against

    @property
    def in_score(self) -> bool:
        """Whether the overall score counts it: the fp32 TensorFlow tests every device runs."""
        return self.precision == "fp32" and not self.deployment

    @property
    def deployment(self) -> bool:
        """Whether it is a test of the deployment section (:data:`DEPLOY_SUITE`)."""
        return self.runtime == "tflite"

    @property
    def is_model(self) -> bool:
        """Whether it runs a model (and so has a numerics check)."""
        return self.workload not in ("matmul", "bandwidth")

    @property
    def higher_is_better(self) -> bool:
        """Throughput: higher is better; latency: lower is."""
        return self.category != "latency"

    def describe(self) -> str:
        """The fixed settings in words, for ``hwprof profile --list``."""
        parts: list[str] = [self.mode]
        if self.scenario == "single-stream":
            parts.append("batch 1, single-stream")
        elif self.batch_size is not None:
            parts.append(f"batch {self.batch_size}")
        if self.size is not None:
            parts.append(f"size {self.size}")
        parts.append({"fp32": "fp32", "mixed": "mixed precision (bf16 on CPUs, fp16 on GPUs)",
                      "fp16": "fp16", "bf16": "bf16",
                      "int8": "full-integer int8"}[self.precision])
        if self.deployment:
            parts.append("TFLite (XNNPACK) on the CPU")
        if self.gpu_only:
            parts.append("GPUs only")
        return ", ".join(parts)


def _t(test_id: str, title: str, category: Category, workload: str, mode: Mode,
       **kw: object) -> SuiteTest:
    return SuiteTest(test_id, title, category, workload, mode, **kw)  # type: ignore[arg-type]


# The suite. Sizes are chosen so that a 2-core CPU runs the quick profile in a few minutes and a
# GPU still measures something real: the ceilings are large enough to leave the caches (a 2048
# GEMM, 64 M elements = 256 MB for bandwidth), the models are the standard ones at their usual
# batch sizes, and training uses smaller images (128 px) so a CPU gets several steps a second.
SUITE: tuple[SuiteTest, ...] = (
    _t("matmul.fp32", "Matrix multiply, fp32", "ceiling", "matmul", "infer",
       batch_size=1, size=2048, quick_seconds=3.0, setup_seconds=0.5),
    _t("matmul.bf16", "Matrix multiply, bf16", "ceiling", "matmul", "infer", precision="bf16",
       batch_size=1, size=2048, quick_seconds=3.0, setup_seconds=0.5),
    _t("matmul.fp16", "Matrix multiply, fp16", "ceiling", "matmul", "infer", precision="fp16",
       batch_size=1, size=2048, quick_seconds=3.0, setup_seconds=0.5, gpu_only=True),
    _t("bandwidth", "Memory bandwidth", "ceiling", "bandwidth", "infer",
       batch_size=1, size=64, quick_seconds=3.0, setup_seconds=0.5),
    _t("mlp.train", "MLP training", "train", "mlp", "train",
       batch_size=256, size=512, quick_seconds=3.0, setup_seconds=1.0),
    _t("cifar10_cnn.train", "CIFAR-10 CNN training", "train", "cifar10_cnn", "train",
       batch_size=128, size=32, quick_seconds=4.0, setup_seconds=1.5),
    _t("mobilenet_v2.train", "MobileNet-V2 training", "train", "mobilenet_v2", "train",
       batch_size=16, size=128, quick_seconds=6.0, setup_seconds=11.0),
    _t("resnet50.train", "ResNet-50 training", "train", "resnet50", "train",
       batch_size=8, size=128, quick_seconds=6.0, setup_seconds=16.0),
    _t("lstm.train", "LSTM training", "train", "lstm", "train",
       batch_size=32, size=100, quick_seconds=4.0, setup_seconds=1.5),
    _t("transformer.train", "Transformer training", "train", "transformer", "train",
       batch_size=16, size=128, quick_seconds=4.0, setup_seconds=1.5),
    _t("mobilenet_v2.infer", "MobileNet-V2 inference", "infer", "mobilenet_v2", "infer",
       batch_size=32, size=224, quick_seconds=5.0, setup_seconds=3.0),
    _t("resnet50.infer", "ResNet-50 inference", "infer", "resnet50", "infer",
       batch_size=16, size=224, quick_seconds=6.0, setup_seconds=8.0),
    _t("transformer.infer", "Transformer inference", "infer", "transformer", "infer",
       batch_size=32, size=128, quick_seconds=3.0, setup_seconds=0.8),
    _t("mobilenet_v2.latency", "MobileNet-V2 latency", "latency", "mobilenet_v2", "infer",
       scenario="single-stream", size=224, quick_seconds=4.0, setup_seconds=2.5),
    _t("transformer.latency", "Transformer latency", "latency", "transformer", "infer",
       scenario="single-stream", size=128, quick_seconds=3.0, setup_seconds=0.6),
    _t("transformer.train.mixed", "Transformer training, mixed precision", "train",
       "transformer", "train", precision="mixed", batch_size=16, size=128, quick_seconds=4.0,
       setup_seconds=1.5),
    _t("mobilenet_v2.infer.mixed", "MobileNet-V2 inference, mixed precision", "infer",
       "mobilenet_v2", "infer", precision="mixed", batch_size=32, size=224, quick_seconds=5.0,
       setup_seconds=3.0),
)


# The deployment section: MobileNet-V2 as a model is shipped to a CPU, converted to TFLite and run
# by its interpreter (XNNPACK), at the sizes of the suite's own MobileNet-V2 tests, so that each is
# set against the device's TensorFlow fp32 test (its ``baseline``) rather than a reference score.
# The setup seconds are a first profile's here (2-core Xeon): the conversion, and for int8 its
# calibration, each cached by shapes in the data folder (batch 1 is a model of its own).
DEPLOY_SUITE: tuple[SuiteTest, ...] = (
    _t("tflite.mobilenet_v2.infer.fp32", "MobileNet-V2 inference, TFLite fp32", "infer",
       "mobilenet_v2", "infer", runtime="tflite", batch_size=32, size=224, quick_seconds=5.0,
       setup_seconds=6.0, baseline="mobilenet_v2.infer"),
    _t("tflite.mobilenet_v2.infer.int8", "MobileNet-V2 inference, TFLite int8", "infer",
       "mobilenet_v2", "infer", runtime="tflite", precision="int8", batch_size=32, size=224,
       quick_seconds=5.0, setup_seconds=21.0, baseline="mobilenet_v2.infer"),
    _t("tflite.mobilenet_v2.latency.int8", "MobileNet-V2 latency, TFLite int8", "latency",
       "mobilenet_v2", "infer", runtime="tflite", precision="int8", scenario="single-stream",
       size=224, quick_seconds=4.0, setup_seconds=16.0, baseline="mobilenet_v2.latency"),
)
DEPLOY_SKIP_REASON = ("TFLite here runs on the CPU (XNNPACK); the GPU delegate is not shipped "
                      "with TensorFlow: profile the cpu for the deployment section")


def suite_test(test_id: str) -> SuiteTest:
    """The test named ``test_id`` (of the suite or its deployment section); KeyError if none."""
    for t in (*SUITE, *DEPLOY_SUITE):
        if t.test_id == test_id:
            return t
    raise KeyError(f"no test {test_id!r} in {SUITE_VERSION} or {DEPLOY_VERSION} (they have: "
                   f"{', '.join(t.test_id for t in (*SUITE, *DEPLOY_SUITE))})")


CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16", "svebf16"})


def native_precision(test: SuiteTest, caps: DeviceCaps) -> tuple[Precision | None, str]:
    """The precision ``test`` runs in on this device, or None and why it is skipped."""
    if test.deployment:
        if caps.kind != "cpu":
            return None, DEPLOY_SKIP_REASON
        return ("int8" if test.precision == "int8" else "fp32"), ""
    if test.gpu_only and caps.kind != "gpu":
        return None, "a GPU-only test"
    if test.precision == "fp32":
        return "fp32", ""
    cc = caps.compute_capability
    if caps.kind == "gpu":
        if test.precision == "bf16" and cc is not None and cc < (8, 0):
            return None, (f"this GPU (compute capability {cc[0]}.{cc[1]}) has no bf16 "
                          "arithmetic; bf16 arrived with compute capability 8.0")
        if test.precision == "bf16":
            return "mixed_bfloat16", ""
        if cc is not None and cc < (7, 0):
            return None, (f"this GPU (compute capability {cc[0]}.{cc[1]}) has no tensor cores "
                          "(7.0 and later): fp16 would measure nothing useful")
        return "mixed_float16", ""
    # a CPU: bf16 only where the silicon has it; emulated bf16 is slower than fp32 and says
    # nothing about the hardware
    if test.precision == "fp16":
        return None, "fp16 is measured on GPUs only"
    if caps.cpu_flags & CPU_BF16_FLAGS:
        return "mixed_bfloat16", ""
    return None, ("this CPU has no native bf16 (AVX512_BF16, AMX-BF16 or Arm BF16): TensorFlow "
                  "would emulate it, slower than fp32")


@dataclass(frozen=True)
class PlannedTest:
    """A test of a profile: the run it makes, or why it is skipped."""

    test: SuiteTest
    spec: RunSpec | None
    skip_reason: str | None = None

    @property
    def expected_seconds(self) -> float:
        """About how long it takes here: setup and the longest timed phase (0 when skipped)."""
        if self.spec is None:
            return 0.0
        timed = self.spec.duration_seconds or 0.0
        return self.test.setup_seconds + timed + 0.15 * timed  # the warm-up steps, roughly


def check_only(only: Iterable[str]) -> list[str]:
    """The test names of ``--only``, each checked; ValueError names the unknown ones."""
    names = [n.strip() for n in only if n.strip()]
    known = {t.test_id for t in (*SUITE, *DEPLOY_SUITE)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown test{'s' if len(unknown) > 1 else ''}: "
                         f"{', '.join(unknown)} (see hwprof profile --list)")
    return names


def plan(
    device: str,
    caps: DeviceCaps,
    length: Length = "quick",
    *,
    intra_op_threads: int | None = None,
    inter_op_threads: int | None = None,
    only: Sequence[str] | None = None,
    timed_seconds: float | None = None,
    deploy: bool = False,
) -> list[PlannedTest]:
    """The tests a profile of ``device`` runs, in order, each with its spec or its skip reason.

    ``only``: run just these tests (a partial profile; its score covers those tests).
    ``timed_seconds``: every test's longest timed phase (tests use this to stay short).
    ``deploy``: the deployment section (:data:`DEPLOY_SUITE`) too, after the suite; a
    deployment test named in ``only`` is run without it.
    """
    settings = LENGTH_SETTINGS[length]
    chosen = set(check_only(only)) if only else None
    planned: list[PlannedTest] = []
    tests = (*SUITE, *DEPLOY_SUITE)
    for test in tests:
        if chosen is not None and test.test_id not in chosen:
            continue
        if test.deployment and not deploy and chosen is None:
            continue
        if test.gpu_only and caps.kind != "gpu":
            continue  # not listed at all on a CPU: it is not a test a CPU could pass
        precision, why = native_precision(test, caps)
        if precision is None:
            planned.append(PlannedTest(test, None, why))
            continue
        seconds = timed_seconds or test.quick_seconds * settings.timed_scale
        spec = RunSpec(
            workload=test.workload,
            mode=test.mode,
            runtime=test.runtime,
            device=device,
            batch_size=None if test.scenario == "single-stream" else test.batch_size,
            size=test.size,
            precision=precision,
            xla=False,
            intra_op_threads=intra_op_threads,
            inter_op_threads=inter_op_threads,
            duration_seconds=seconds,
            warmup_steps=settings.warmup_steps,
            scenario=test.scenario,
            steady_cv=settings.steady_cv,
            seed=0,
        )
        planned.append(PlannedTest(test, spec))
    return planned
