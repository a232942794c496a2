"""What a run is asked to do: one workload on one device with one set of settings.

A :class:`RunSpec` is validated when it is made, so a bad value (an unknown workload, batch 0, a
negative duration, a mode the workload does not have) is refused with a clear message before any
process is started. Whether ``gpu:N`` exists is a fact of the machine, checked by the front ends
against detection, not here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hwprof.core.catalog import Mode, WorkloadInfo, get_workload
from hwprof.core.devices import DeviceIdError, parse_device_id

Precision = Literal["fp32", "mixed_float16", "mixed_bfloat16", "fp16", "int8_dynamic", "int8"]
Runtime = Literal["tf", "tflite"]
Scenario = Literal["offline", "single-stream"]
# TensorFlow's precisions (Keras mixed precision) and TFLite's (what the converter stores)
DataSource = Literal["synthetic", "pipeline"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "mixed_float16", "mixed_bfloat16")
TFLITE_PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8_dynamic", "int8")
ALL_PRECISIONS: tuple[Precision, ...] = (*PRECISIONS, *TFLITE_PRECISIONS[1:])
RUNTIMES: tuple[Runtime, ...] = ("tf", "tflite")
SCENARIOS: tuple[Scenario, ...] = ("offline", "single-stream")
DATA_SOURCES: tuple[DataSource, ...] = ("synthetic", "pipeline")

DEFAULT_DURATION_SECONDS = 10.0
DEFAULT_WARMUP_STEPS = 3
DEFAULT_TRACE_STEPS = 5  # `--trace` with no number: enough steps for a median, a small capture
# A run ends early once throughput is steady: the coefficient of variation of the last
# STEADY_WINDOWS windows' throughput is under this.
DEFAULT_STEADY_CV = 0.02
STEADY_WINDOWS = 5


# Keras models that train data-parallel under tf.distribute (the raw-op workloads have no model)
DISTRIBUTED_WORKLOADS = ("mlp", "conv", "cifar10_cnn", "resnet50", "mobilenet_v2", "lstm",
                         "transformer")
# Keras models that convert to TensorFlow Lite (the raw-op workloads have no model)
TFLITE_WORKLOADS = DISTRIBUTED_WORKLOADS
# Conversions known to fail in a way the worker cannot report (the converter crashes the process)
TFLITE_REFUSED = {
    ("lstm", "int8"): "TensorFlow's converter crashes (a segmentation fault, TensorFlow 2.21) "
    "calibrating the LSTM for full-integer int8: use int8_dynamic",
}

# Workloads whose input is an image, which `data="pipeline"` decodes from JPEG (conv's input is a
# 64-channel feature map, not an image)
PIPELINE_WORKLOADS = ("cifar10_cnn", "resnet50", "mobilenet_v2")


class RunSpec(BaseModel):
    """One run's full settings. ``None`` means "the workload's default" where that applies."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    workload: str
    mode: Mode = "train"
    device: str = Field(default="cpu", description='"cpu", "gpu:N" (NVML/PCI bus order) or "tpu:N"')
    batch_size: int | None = Field(default=None, gt=0, le=1_000_000)
    size: int | None = Field(
        default=None, gt=0, le=1_000_000, description="the workload's size knob (see catalog)"
    )
    precision: Precision = Field(
        default="fp32",
        description="tf: fp32, mixed_float16, mixed_bfloat16; tflite: fp32, fp16 (float16 "
        "weights), int8_dynamic (dynamic-range int8 weights), int8 (full integer, calibrated)",
    )
    runtime: Runtime = Field(
        default="tf",
        description="tf: a frozen TensorFlow graph; tflite: the model converted to TensorFlow "
        "Lite and run by its interpreter (XNNPACK on the CPU), inference only",
    )
    delegate: Literal["xnnpack", "edgetpu"] = Field(
        default="xnnpack",
        description="tflite: the delegate; the Edge TPU (Coral) needs libedgetpu and "
        "edgetpu_compiler on this machine and a full-integer int8 model; the device stays cpu",
    )
    xla: bool = False
    intra_op_threads: int | None = Field(default=None, ge=1, le=4096)
    inter_op_threads: int | None = Field(default=None, ge=1, le=4096)
    duration_seconds: float | None = Field(
        default=DEFAULT_DURATION_SECONDS,
        gt=0,
        le=86_400,
        description="longest timed phase; the run ends sooner once throughput is steady",
    )
    steps: int | None = Field(
        default=None, gt=0, le=10_000_000, description="exactly this many timed steps"
    )
    warmup_steps: int = Field(default=DEFAULT_WARMUP_STEPS, ge=0, le=100_000)
    scenario: Scenario = "offline"
    steady_cv: float | None = Field(
        default=DEFAULT_STEADY_CV,
        gt=0,
        lt=1,
        description="end early once the throughput's coefficient of variation is under this; "
        "None runs the whole duration",
    )
    seed: int = 0
    replicas: int | None = Field(
        default=None, ge=1, le=1024,
        description="data-parallel replicas on this machine (tf.distribute.MirroredStrategy): "
        "N logical CPU devices, or GPUs N..N+replicas-1; batch_size is per replica",
    )
    cluster: tuple[str, ...] | None = Field(
        default=None,
        description="host:port of every worker, for tf.distribute.MultiWorkerMirroredStrategy",
    )
    task_index: int | None = Field(default=None, ge=0, description="this node's place in cluster")
    gpu_vendor: Literal["nvidia", "amd", "intel", "apple"] | None = Field(
        default=None,
        description="the GPU's vendor, filled in when the run is planned on this machine; None: "
        "a CPU run, or NVIDIA (runs saved before AMD support)",
    )
    vendor_index: int | None = Field(
        default=None, ge=0,
        description="the GPU's number in its vendor's numbering (HIP's for AMD), which pins the "
        "worker; None: the N of gpu:N",
    )

    trace_steps: int | None = Field(
        default=None, ge=1, le=1000,
        description="after the timed steps, trace this many more with TensorFlow's profiler "
        "(None: no trace); the timed results never include traced steps",
    )
    data: DataSource = Field(
        default="synthetic",
        description="synthetic: a fixed batch on the device; pipeline: a tf.data pipeline that "
        "decodes and augments JPEG images on the CPU every step",
    )
    pipeline_threads: int | None = Field(
        default=None, ge=1, le=4096,
        description="the pipeline's threads (map parallelism, tf.data's thread pool) and batches "
        "prefetched; None: tf.data.AUTOTUNE",
    )
    pipeline_source_size: int | None = Field(
        default=None, ge=1, le=8192,
        description="side of the pipeline's JPEG images (pixels), randomly cropped to the "
        "workload's image side; None: twice that side",
    )

    @field_validator("cluster")
    @classmethod
    def _cluster_form(cls, cluster: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if cluster is None:
            return None
        if len(cluster) < 1:
            raise ValueError("a cluster needs at least one host:port")
        for node in cluster:
            host, sep, port = node.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{node!r} is not host:port (e.g. 10.0.0.2:12345)")
        if len(set(cluster)) != len(cluster):
            raise ValueError("a host:port appears twice in the cluster")
        return cluster

    @field_validator("workload")
    @classmethod
    def _known_workload(cls, name: str) -> str:
        try:
            get_workload(name)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        return name

    @field_validator("device")
    @classmethod
    def _device_form(cls, device: str) -> str:
        try:
            return str(parse_device_id(device))
        except DeviceIdError as err:
            raise ValueError(str(err)) from None

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        info = self.info
        if self.mode not in info.modes:
            raise ValueError(
                f"{self.workload} has no {self.mode} mode (it has: {', '.join(info.modes)})"
            )
        if self.runtime == "tflite":
            self._tflite_consistent()
        elif self.delegate != "xnnpack":
            raise ValueError("a delegate is a TFLite setting: add --runtime tflite")
        elif self.precision not in PRECISIONS:
            raise ValueError(f"{self.precision} is a TFLite precision (--runtime tflite); "
                             f"TensorFlow runs {', '.join(PRECISIONS)}")
        if self.size is not None and self.size < info.min_size:
            raise ValueError(
                f"{self.workload}: size ({info.size_label}) must be at least {info.min_size}"
            )
        if self.scenario == "single-stream" and self.mode != "infer":
            raise ValueError("the single-stream scenario is for inference (--mode infer)")
        if self.scenario == "single-stream" and self.batch_size not in (None, 1):
            raise ValueError("the single-stream scenario runs batch 1: leave the batch size out")
        if self.duration_seconds is None and self.steps is None:
            raise ValueError("give a duration or a number of steps")
        if self.distributed:
            if self.mode != "train" or self.workload not in DISTRIBUTED_WORKLOADS:
                raise ValueError("distributed runs train a Keras model: "
                                 f"{', '.join(DISTRIBUTED_WORKLOADS)} in train mode")
            if self.xla:
                raise ValueError("distributed runs are measured without XLA")
        if (self.cluster is None) != (self.task_index is None):
            raise ValueError("a cluster run needs both the cluster and this node's task index")
        if self.cluster is not None and self.task_index is not None:
            if self.task_index >= len(self.cluster):
                raise ValueError(f"task index {self.task_index} is not in a cluster of "
                                 f"{len(self.cluster)} (0 to {len(self.cluster) - 1})")
            if self.replicas not in (None, 1):
                raise ValueError("a cluster run uses one device per node: leave replicas out")
        self._check_data()
        if not self.is_gpu and (self.gpu_vendor is not None or self.vendor_index is not None):
            raise ValueError("a CPU run has no GPU vendor or vendor index")
        return self

    def _tflite_consistent(self) -> None:
        """What a TFLite run cannot be, each refused with the reason."""
        if self.workload not in TFLITE_WORKLOADS:
            raise ValueError(f"TFLite runs a converted Keras model: {', '.join(TFLITE_WORKLOADS)}"
                             f" (not {self.workload})")
        if self.mode != "infer":
            raise ValueError("TFLite runs inference only: use --mode infer")
        if self.precision not in TFLITE_PRECISIONS:
            raise ValueError(f"{self.precision} is TensorFlow's mixed precision; TFLite's "
                             f"precisions are {', '.join(TFLITE_PRECISIONS)}")
        refused = TFLITE_REFUSED.get((self.workload, self.precision))
        if refused:
            raise ValueError(f"{self.workload} in TFLite {self.precision}: {refused}")
        if self.is_gpu:
            raise ValueError("TFLite on a GPU needs TFLite's GPU delegate (OpenCL/OpenGL on "
                             "Android and Linux, Metal on macOS), which TensorFlow's pip package "
                             "does not ship: run TFLite on cpu (XNNPACK)")
        if self.is_tpu:
            raise ValueError("a TPU runs TensorFlow graphs through libtpu, not TFLite models: "
                             "run TFLite on cpu (XNNPACK), or TensorFlow on the TPU")
        if self.delegate == "edgetpu" and self.precision != "int8":
            raise ValueError("the Edge TPU runs full-integer models only: use --precision int8")
        if self.xla:
            raise ValueError("XLA compiles TensorFlow graphs; a TFLite model runs in its "
                             "interpreter: leave --xla out")
        if self.distributed:
            raise ValueError("TFLite runs on one device: leave --replicas and --cluster out")
        if self.trace_steps is not None:
            raise ValueError("TensorFlow's profiler does not see inside the TFLite interpreter: "
                             "leave --trace out")
        if self.data != "synthetic":
            raise ValueError("the TFLite interpreter is fed its input from memory, not from a "
                             "tf.data pipeline: leave --data pipeline out")
    def _check_data(self) -> None:
        if self.data == "synthetic":
            if self.pipeline_threads is not None or self.pipeline_source_size is not None:
                raise ValueError("pipeline threads and source size go with the pipeline "
                                 "(--data pipeline)")
            return
        if self.workload not in PIPELINE_WORKLOADS:
            raise ValueError(f"{self.workload} has no image input for a pipeline to decode: "
                             f"--data pipeline is for {', '.join(PIPELINE_WORKLOADS)}")
        if self.distributed:
            raise ValueError("--data pipeline runs on one device: leave replicas and the "
                             "cluster out")
        if self.pipeline_source_size is not None and \
                self.pipeline_source_size < self.effective_size:
            raise ValueError(f"the pipeline's source images ({self.pipeline_source_size} px) "
                             f"must be at least the image side ({self.effective_size} px)")

    @property
    def effective_source_size(self) -> int:
        """The pipeline's JPEG side: as given, or twice the image side."""
        return self.pipeline_source_size or 2 * self.effective_size

    @property
    def distributed(self) -> bool:
        """Whether tf.distribute runs it (replicas on this machine, or a cluster)."""
        return self.replicas is not None or self.cluster is not None

    @property
    def replicas_in_sync(self) -> int:
        """How many replicas train together: local replicas, or one per cluster node."""
        if self.cluster is not None:
            return len(self.cluster)
        return self.replicas or 1

    @property
    def global_batch_size(self) -> int:
        """The batch of one step over every replica."""
        return self.effective_batch_size * self.replicas_in_sync

    @property
    def info(self) -> WorkloadInfo:
        """The workload's catalogue entry."""
        return get_workload(self.workload)

    @property
    def effective_batch_size(self) -> int:
        """The batch size that runs (single-stream is always 1)."""
        if self.scenario == "single-stream":
            return 1
        return self.batch_size or self.info.default_batch_size

    @property
    def effective_size(self) -> int:
        """The workload's size knob that runs."""
        return self.size or self.info.default_size

    @property
    def is_gpu(self) -> bool:
        """Whether the run targets a GPU."""
        return self.device.startswith("gpu")

    @property
    def gpu_index(self) -> int | None:
        """N of ``gpu:N`` (NVML/PCI bus order), else None."""
        return int(self.device.split(":")[1]) if self.is_gpu else None

    @property
    def is_tpu(self) -> bool:
        """Whether the run targets a TPU chip (``tpu:N``)."""
        return self.device.startswith("tpu")

    @property
    def tpu_index(self) -> int | None:
        """N of ``tpu:N`` (chip N of this host in PCI bus order), else None."""
        return int(self.device.split(":")[1]) if self.is_tpu else None

    def label(self) -> str:
        """A short human label: ``matmul train cpu b1 fp32``, with the non-default settings."""
        parts = [self.workload, self.mode, self.device, f"b{self.effective_batch_size}"]
        if self.size is not None:
            parts.append(f"size={self.size}")
        parts.append(self.precision)
        if self.runtime != "tf":
            parts.append(self.runtime)
        if self.delegate != "xnnpack":
            parts.append(self.delegate)
        if self.xla:
            parts.append("xla")
        if self.intra_op_threads is not None:
            parts.append(f"intra={self.intra_op_threads}")
        if self.inter_op_threads is not None:
            parts.append(f"inter={self.inter_op_threads}")
        if self.scenario != "offline":
            parts.append(self.scenario)
        if self.replicas is not None:
            parts.append(f"x{self.replicas} replicas")
        if self.trace_steps is not None:
            parts.append(f"trace={self.trace_steps}")
        if self.data != "synthetic":
            threads = self.pipeline_threads or "auto"
            parts.append(f"pipeline(threads={threads}, jpeg={self.effective_source_size})")
        if self.cluster is not None:
            parts.append(f"cluster of {len(self.cluster)} (task {self.task_index})")
        return " ".join(parts)


def validation_problems(err: ValidationError) -> list[tuple[str, str]]:
    """A pydantic error as (field, message) pairs in plain words; field is "" for the whole spec."""
    problems = []
    for e in err.errors():
        where = ".".join(str(x) for x in e.get("loc", ()))
        problems.append((where, str(e.get("msg", "invalid")).removeprefix("Value error, ")))
    return problems
