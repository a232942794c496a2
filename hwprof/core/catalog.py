"""The workloads hwprof can run: names, one-line descriptions, modes and defaults.

This is plain data so that the front ends can list, describe and validate workloads without
importing TensorFlow; the TensorFlow code behind each name lives in ``hwprof.workloads`` and only
ever runs inside a worker process. A test keeps the two in step.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["train", "infer"]
ThroughputUnit = Literal["samples", "bytes"]


class WorkloadInfo(BaseModel):
    """What a workload is, for people and for validation."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    description: str = Field(description="one line, shown by `hwprof run --list` and the window")
    modes: tuple[Mode, ...] = ("train", "infer")
    default_batch_size: int = Field(gt=0)
    size_label: str = Field(description="what the size option means for this workload")
    default_size: int = Field(gt=0)
    min_size: int = Field(default=1, gt=0)
    sample_label: str = Field(default="samples", description='what one sample is ("img", "seq")')
    throughput_unit: ThroughputUnit = "samples"
    flops_source: str = Field(description="how FLOPs per sample are known: analytic or measured")


WORKLOADS: tuple[WorkloadInfo, ...] = (
    WorkloadInfo(
        name="matmul",
        description="Dense fp32/bf16 GEMM C = A x B of N x N matrices: the device's raw matrix "
        "throughput (FLOPs = 2N^3 per product; train adds both gradients, 6N^3)",
        default_batch_size=1,
        size_label="N (matrix side)",
        default_size=1024,
        min_size=8,
        sample_label="GEMMs",
        flops_source="analytic: 2N^3 per product (6N^3 with gradients)",
    ),
    WorkloadInfo(
        name="conv",
        description="One 3x3 conv2d layer, 64 -> 64 channels on 56 x 56 feature maps "
        "(ResNet's first stage): cuDNN's and oneDNN's bread and butter",
        default_batch_size=32,
        size_label="feature-map side (pixels)",
        default_size=56,
        min_size=4,
        sample_label="img",
        flops_source="analytic: 2 x H x W x K^2 x Cin x Cout (x3 for training)",
    ),
    WorkloadInfo(
        name="mlp",
        description="A small dense network (784 -> W -> W -> 10, ReLU): where CPUs do well",
        default_batch_size=256,
        size_label="hidden width W",
        default_size=512,
        min_size=1,
        flops_source="analytic: 2 x sum(in x out) per layer (x3 for training)",
    ),
    WorkloadInfo(
        name="cifar10_cnn",
        description="The classic Keras CIFAR-10 convnet (4 conv, 2 dense layers) on 32 x 32 x 3 "
        "images",
        default_batch_size=128,
        size_label="image side (pixels)",
        default_size=32,
        min_size=8,
        sample_label="img",
        flops_source="measured: TensorFlow's cost analysis of the forward graph (x3 for training)",
    ),
    WorkloadInfo(
        name="resnet50",
        description="ResNet-50 (keras.applications, weights=None, 1000 classes): the standard "
        "image-classification benchmark",
        default_batch_size=32,
        size_label="image side (pixels)",
        default_size=224,
        min_size=32,
        sample_label="img",
        flops_source="measured: TensorFlow's cost analysis of the forward graph (x3 for training)",
    ),
    WorkloadInfo(
        name="mobilenet_v2",
        description="MobileNet-V2 (keras.applications, weights=None): a depthwise-separable "
        "network built for phones and CPUs",
        default_batch_size=32,
        size_label="image side (pixels)",
        default_size=224,
        min_size=32,
        sample_label="img",
        flops_source="measured: TensorFlow's cost analysis of the forward graph (x3 for training)",
    ),
    WorkloadInfo(
        name="lstm",
        description="Sequence classification: embedding, one LSTM layer (256 units) over 100 "
        "tokens, dense classifier",
        default_batch_size=64,
        size_label="sequence length (tokens)",
        default_size=100,
        min_size=1,
        sample_label="seq",
        flops_source="measured: TensorFlow's cost analysis of the forward graph (x3 for training)",
    ),
    WorkloadInfo(
        name="transformer",
        description="One transformer encoder block (8-head self-attention, d_model 256, FFN "
        "1024) over 128 tokens",
        default_batch_size=32,
        size_label="sequence length (tokens)",
        default_size=128,
        min_size=1,
        sample_label="seq",
        flops_source="measured: TensorFlow's cost analysis of the forward graph (x3 for training)",
    ),
    WorkloadInfo(
        name="bandwidth",
        description="Memory-bound elementwise work (y = a*x + b over a large fp32 vector): the "
        "device's memory bandwidth, in bytes/s",
        modes=("infer",),
        default_batch_size=1,
        size_label="vector length (millions of elements)",
        default_size=32,
        min_size=1,
        sample_label="B",
        throughput_unit="bytes",
        flops_source="analytic: 2 FLOPs and 8 bytes moved per element",
    ),
)

_BY_NAME = {w.name: w for w in WORKLOADS}


def workload_names() -> tuple[str, ...]:
    """Every workload's name, in the order they are listed."""
    return tuple(_BY_NAME)


def get_workload(name: str) -> WorkloadInfo:
    """The workload called ``name``; KeyError with the known names when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise KeyError(f"unknown workload {name!r} (known: {known})") from None
