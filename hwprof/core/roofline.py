"""The roofline: a device's compute and memory-bandwidth ceilings, and where each run sits.

Attainable FLOP/s at arithmetic intensity I (FLOPs per byte moved) is min(peak, I x bandwidth).
The ceilings are measured on the device itself: peak FLOP/s by the ``matmul`` workload (large N,
where GEMM is compute-bound) in fp32 and in bf16 (a CPU with AMX or AVX-512 BF16, a tensor-core
GPU computes bf16 much faster), bandwidth by ``bandwidth`` (a read and a write of a large vector).

A run's intensity is algorithmic: its FLOPs over the least memory traffic its workload needs
(matmul: read A and B, write C; mlp: the weights once per step plus each layer's activations),
known for the raw-op workloads and ``mlp``/``conv``. A cache keeps some of that traffic on chip, so
a point can sit above the bandwidth line; for the Keras models the traffic is unknown and they are
shown by % of peak only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec

ITEM_BYTES = {"fp32": 4, "mixed_float16": 2, "mixed_bfloat16": 2}
TRAIN_TRAFFIC = 3.0  # forward, and the two gradient passes, each move about as much


def traffic_bytes_per_sample(spec: RunSpec) -> float | None:
    """The least bytes one sample moves to and from memory, where the workload makes it known."""
    item = ITEM_BYTES[spec.precision]
    n, batch = spec.effective_size, spec.effective_batch_size
    train = TRAIN_TRAFFIC if spec.mode == "train" else 1.0
    if spec.workload == "matmul":
        return 3.0 * n * n * item * train  # A and B in, C out (gradients: three more each)
    if spec.workload == "bandwidth":
        return 2.0 * item  # one read and one write per element
    if spec.workload == "mlp":
        weights = 784 * n + n * n + n * 10
        activations = 784 + 2 * n + 10
        return (weights / batch + 2.0 * activations) * item * train
    if spec.workload == "conv":
        weights = 3 * 3 * 64 * 64
        return (weights / batch + 2.0 * n * n * 64) * item * train
    return None


@dataclass(frozen=True)
class Ceilings:
    """One device's measured ceilings."""

    device_key: str  # which device (model, TensorFlow version): the cache's key
    device_label: str
    peak_flops: float
    bandwidth_bytes_per_second: float
    measured_at: str
    precision: str = "fp32"  # what peak_flops was measured in
    reduced_precision_flops: dict[str, float] = field(default_factory=dict)  # bf16/fp16 ceilings

    def peak_for(self, precision: str) -> float:
        """The compute ceiling for runs in ``precision`` (fp32's when that one was not measured)."""
        return self.reduced_precision_flops.get(precision, self.peak_flops)

    def measured_flops(self, precision: str) -> float | None:
        """The ceiling measured in exactly ``precision`` (None: that one was not measured).

        What % of peak is held against: a bf16 run above fp32's ceiling says nothing about it.
        """
        if precision == self.precision:
            return self.peak_flops
        return self.reduced_precision_flops.get(precision)

    @property
    def ridge_intensity(self) -> float:
        """FLOPs per byte where the bandwidth line meets the fp32 compute ceiling."""
        return self.peak_flops / self.bandwidth_bytes_per_second

    def attainable(self, intensity: float, precision: str = "fp32") -> float:
        """The roofline at ``intensity`` for ``precision``."""
        return min(self.peak_for(precision), intensity * self.bandwidth_bytes_per_second)


@dataclass(frozen=True)
class RooflinePoint:
    """A run on the roofline (intensity None: its traffic is unknown)."""

    label: str
    device: str
    intensity: float | None
    achieved_flops: float
    percent_of_roof: float | None  # of the attainable at its intensity
    bound: str | None  # "memory" or "compute": which ceiling is the nearer limit


def place(run: SnapshotRun, ceilings: Ceilings | None) -> RooflinePoint | None:
    """Where ``run`` sits (None when it measured no FLOP/s)."""
    r = run.result
    if not r.ok or not r.achieved_flops:
        return None
    rep = r.report
    traffic = traffic_bytes_per_sample(run.spec)
    intensity = None
    if traffic and rep is not None and rep.flops_per_sample:
        intensity = rep.flops_per_sample / traffic
    pct, bound = None, None
    precision = run.spec.precision
    # only against a ceiling measured in the run's own precision (never bf16 against fp32's)
    if ceilings is not None and intensity is not None and ceilings.measured_flops(precision):
        roof = ceilings.attainable(intensity, precision)
        pct = 100.0 * r.achieved_flops / roof
        ridge = ceilings.peak_for(precision) / ceilings.bandwidth_bytes_per_second
        bound = "memory" if intensity < ridge else "compute"
    return RooflinePoint(run.spec.label(), run.spec.device, intensity, r.achieved_flops, pct,
                         bound)
