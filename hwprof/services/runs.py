"""One run with everything around it: device checks, telemetry, the peak, the summary.

Both front ends call :func:`execute_run`: the CLI on its main thread, the window on a worker
object's QThread. The workload runs in its own process (:mod:`hwprof.runner.run`); meanwhile a
sampler records the host, the GPUs and the worker's process tree on the same monotonic clock as the
worker's step timings.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hwprof.backends.cpu import detect_cpu
from hwprof.backends.nvml import NvmlBackend
from hwprof.core.devices import (
    INTEL_EXTENSION_HINT,
    METAL_PLUGIN_HINT,
    CpuInfo,
    GpuInfo,
    PeakEstimate,
    TpuInfo,
)
from hwprof.core.results import DeployedAccuracy, RunResult, TfliteInfo, WorkerReport, summarize
from hwprof.core.snapshot import SnapshotRun
from hwprof.core.spec import RunSpec
from hwprof.core.telemetry import TelemetryRecord
from hwprof.core.units import NA, fmt_bytes, fmt_seconds
from hwprof.runner.run import DEFAULT_STALL_SECONDS, EventCallback, WorkerRun
from hwprof.sampling.recorder import TelemetryRecorder
from hwprof.sampling.sampler import Sampler

DEFAULT_RUN_INTERVAL_S = 0.25  # telemetry while a run goes: fine enough for energy per sample


class DeviceError(ValueError):
    """The run's device does not exist on this machine."""


def machine_gpus(nvml: NvmlBackend | None = None) -> tuple[GpuInfo, ...]:
    """Every GPU here as ``gpu:N`` names it: NVIDIA's first, then AMD's, Intel's, Apple's.

    Never raises.
    """
    from hwprof.services.detect import (
        detect_amd_gpus,
        detect_apple_gpus,
        detect_gpus,
        detect_intel_gpus,
    )

    _, nvidia = detect_gpus(nvml)
    _, amd = detect_amd_gpus(None, len(nvidia))
    _, intel = detect_intel_gpus(None, len(nvidia) + len(amd))
    _, apple = detect_apple_gpus(None, len(nvidia) + len(amd) + len(intel))
    return nvidia + amd + intel + apple


def intel_extension_installed() -> bool:
    """Whether ``intel_extension_for_tensorflow`` is installed; finds it, imports nothing."""
    import importlib.util

    try:
        return importlib.util.find_spec("intel_extension_for_tensorflow") is not None
    except (ImportError, ValueError):
        return False


def metal_plugin_installed() -> bool:
    """Whether the ``tensorflow-metal`` plug-in is installed; finds it, imports nothing.

    Its wheel installs a ``tensorflow-plugins`` folder (the Metal library TensorFlow loads) and no
    module of its own, so its distribution is looked up; a ``tensorflow_metal`` module, where one
    exists, counts too.
    """
    import importlib.metadata as metadata
    import importlib.util

    with contextlib.suppress(metadata.PackageNotFoundError, ValueError):
        metadata.distribution("tensorflow-metal")
        return True
    try:
        return importlib.util.find_spec("tensorflow_metal") is not None
    except (ImportError, ValueError):
        return False


def tensorflow_rocm_support() -> tuple[bool, str | None]:
    """Whether the installed TensorFlow is a ROCm build, and its version, without importing it.

    TensorFlow's build writes ``python/platform/build_info.py`` (``('is_rocm_build', True)``):
    read as text it answers in a millisecond, where importing TensorFlow takes seconds. No
    TensorFlow, or a file that cannot be read: no ROCm support.
    """
    import importlib.metadata as metadata
    import importlib.util

    version: str | None = None
    for name in ("tensorflow-rocm", "tensorflow", "tensorflow-cpu"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            version = metadata.version(name)
            break
    try:
        found = importlib.util.find_spec("tensorflow")  # finds the package, imports nothing
        places = list(found.submodule_search_locations or ()) if found else []
    except (ImportError, ValueError):
        places = []
    for place in places:
        try:
            text = (Path(place) / "python" / "platform" / "build_info.py").read_text(
                encoding="utf-8", errors="replace")
        except OSError:
            continue
        return bool(re.search(r"""['"]is_rocm_build['"]\s*[,:]\s*True""", text)), version
    return False, version


def check_device(
    spec: RunSpec,
    nvml: NvmlBackend | None = None,
    *,
    gpus: tuple[GpuInfo, ...] | None = None,
    rocm: tuple[bool, str | None] | None = None,
    tpus: tuple[TpuInfo, ...] | None = None,
    libtpu: bool | None = None,
) -> RunSpec:
    """The spec planned for this machine, or DeviceError before anything is launched.

    ``gpu:N`` must be a GPU here (any vendor: NVIDIA's are numbered first, then AMD's); the
    returned spec names its vendor and its number within that vendor's numbering, which is what
    pins the worker (:func:`hwprof.runner.run.worker_env`). An AMD GPU needs TensorFlow's ROCm
    build: without it the run is refused with the line that says what to install. ``gpus`` and
    ``rocm`` (:func:`tensorflow_rocm_support`) are detected when not given.
    """
    if spec.is_tpu:
        return check_tpu(spec, tpus=tpus, libtpu=libtpu)
    if spec.delegate == "edgetpu":  # the device stays cpu: the Edge TPU is the CPU's delegate
        from hwprof.backends.tflite_delegates import edgetpu_problem

        problem = edgetpu_problem()  # only what is missing; a Coral device's absence shows at load
        if problem:
            raise DeviceError(f"--delegate edgetpu: {problem}")
        return spec
    if not spec.is_gpu:
        return spec
    found = machine_gpus(nvml) if gpus is None else gpus
    index = spec.gpu_index or 0
    count = spec.replicas or 1
    chosen = [next((g for g in found if g.index == index + i), None) for i in range(count)]
    if not found:
        reason = (nvml or NvmlBackend()).unavailable_reason() or "no GPU was found"
        raise DeviceError(  # the words a machine without any GPU has always had
            f"{spec.device}: no NVIDIA GPU can be used here ({reason}); "
            "run on the CPU with --device cpu"
        )
    if any(g is None for g in chosen):
        have = ", ".join(f"gpu:{g.index}" for g in found)
        what = "GPU" if len(found) == 1 else "GPUs"
        if count > 1:
            raise DeviceError(f"{spec.device} with {count} replicas: this machine has "
                              f"{len(found)} {what} ({have})")
        raise DeviceError(f"{spec.device}: this machine has {len(found)} {what} ({have})")
    gpu = chosen[0]
    assert gpu is not None
    if any(g is not None and g.vendor != gpu.vendor for g in chosen):
        raise DeviceError(f"{spec.device} with {count} replicas: the GPUs are of different "
                          "vendors, and one TensorFlow build uses one vendor's GPUs")
    if gpu.vendor == "amd":
        has_rocm, version = tensorflow_rocm_support() if rocm is None else rocm
        if not has_rocm:
            from hwprof.core.devices import TensorFlowInfo, rocm_install_hint
            from hwprof.services.detect import detect_amd_gpus

            tf = TensorFlowInfo(status="ok", version=version, built_with_rocm=False)
            status, _ = detect_amd_gpus()
            name = f" ({gpu.name})" if gpu.name else ""
            raise DeviceError(f"{spec.device}{name}: {rocm_install_hint(tf, status.rocm_version)}")
    if gpu.vendor == "intel" and not intel_extension_installed():
        name = f" ({gpu.name})" if gpu.name else ""
        raise DeviceError(f"{spec.device}{name}: {INTEL_EXTENSION_HINT}")
    if gpu.vendor == "apple" and not metal_plugin_installed():
        name = f" ({gpu.name})" if gpu.name else ""
        raise DeviceError(f"{spec.device}{name}: {METAL_PLUGIN_HINT}")
    return pin_gpu(spec, found)


def check_tpu(spec: RunSpec, *, tpus: tuple[TpuInfo, ...] | None = None,
              libtpu: bool | None = None) -> RunSpec:
    """A ``tpu:N`` run planned for this machine, or DeviceError before a worker starts.

    The chip must be here and TensorFlow must reach it: that needs libtpu (found, not loaded;
    ``libtpu`` overrides). One run uses one chip (its TensorCores are the replicas of a
    distributed run). ``tpus`` is detected when not given.
    """
    from hwprof.core.devices import TPU_INSTALL_HINT, libtpu_installed
    from hwprof.services.detect import detect_tpus

    status, found = detect_tpus() if tpus is None else (None, tpus)
    if not found:
        why = (status.message if status else None) or "no TPU chip was found"
        raise DeviceError(f"{spec.device}: {why}; run on the CPU with --device cpu")
    chip = next((t for t in found if t.index == spec.tpu_index), None)
    if chip is None:
        have = ", ".join(f"tpu:{t.index}" for t in found)
        what = "TPU chip" if len(found) == 1 else "TPU chips"
        raise DeviceError(f"{spec.device}: this machine has {len(found)} {what} ({have})")
    if spec.replicas not in (None, 1):
        raise DeviceError(f"{spec.device} with {spec.replicas} replicas: a run uses one TPU "
                          "chip (its TensorCores are the replicas); leave --replicas at 1")
    name = f" ({chip.name})" if chip.name else ""
    if chip.error:
        raise DeviceError(f"{spec.device}{name}: {chip.error}")
    if not (libtpu_installed() if libtpu is None else libtpu):
        raise DeviceError(f"{spec.device}{name}: {TPU_INSTALL_HINT}")
    return spec


def pin_gpu(spec: RunSpec, gpus: tuple[GpuInfo, ...]) -> RunSpec:
    """``spec`` with its GPU's vendor and number within that vendor, when ``gpus`` has it.

    What the worker's pinning reads (:func:`hwprof.runner.run.worker_env`); a CPU run, an
    already pinned one or a GPU not in ``gpus`` is returned as it is.
    """
    if not spec.is_gpu or spec.gpu_vendor is not None:
        return spec
    gpu = next((g for g in gpus if g.index == spec.gpu_index), None)
    if gpu is None:
        return spec
    vendor_index = gpu.vendor_index if gpu.vendor_index is not None else gpu.index
    return spec.model_copy(update={"gpu_vendor": gpu.vendor, "vendor_index": vendor_index})


def peak_for(spec: RunSpec, estimate: PeakEstimate | None, device: str) -> tuple[float | None, str]:
    """The peak FLOP/s estimate that fits the run's precision, and where it came from."""
    if estimate is None:
        return None, f"no peak estimate for {device}"
    value = {
        "fp32": estimate.fp32_flops,
        "mixed_bfloat16": estimate.bf16_flops,
        "mixed_float16": estimate.fp16_flops,
        "fp16": estimate.fp32_flops,  # TFLite's float16 weights compute in float32 on a CPU
    }.get(spec.precision)
    if value is None and spec.precision not in ("mixed_bfloat16", "mixed_float16"):
        return None, f"no {spec.precision} peak estimate for {device}"  # TFLite's int8
    kind = {"mixed_bfloat16": "bf16", "mixed_float16": "fp16"}.get(spec.precision, "fp32")
    clock = f", {estimate.clock_source}" if estimate.clock_source else ""
    return value, f"{device} {kind} peak estimate{clock}"


def device_peak(
    spec: RunSpec, *, cpu: CpuInfo | None = None, gpus: tuple[GpuInfo, ...] | None = None
) -> tuple[float | None, str]:
    """The run's device's peak estimate (detects the CPU, GPU or TPU chip when not given)."""
    if spec.is_tpu:  # Google's published per-chip figure
        from hwprof.services.detect import detect_tpus

        chip = next((t for t in detect_tpus()[1] if t.index == spec.tpu_index), None)
        return peak_for(spec, chip.peak if chip else None, spec.device)
    if spec.is_gpu:
        if gpus is None:
            gpus = machine_gpus()  # any vendor: an AMD GPU's peak comes from its GFX target
        gpu = next((g for g in gpus if g.index == spec.gpu_index), None)
        return peak_for(spec, gpu.peak if gpu else None, spec.device)
    cpu = cpu or detect_cpu()
    return peak_for(spec, cpu.peak, "CPU")


def device_ceiling(spec: RunSpec) -> tuple[float | None, str | None]:
    """The measured compute ceiling of the run's device in the run's precision, if cached.

    Measured by the roofline tab or a profile (:mod:`hwprof.services.studies`); None when that
    precision was never measured on this device: a bf16 run is never held against fp32's ceiling.
    """
    from hwprof.services.studies import cached_ceilings, ceiling_of  # studies imports this module

    return ceiling_of(cached_ceilings(spec.device), spec.precision)


def execute_run(
    spec: RunSpec,
    *,
    on_event: EventCallback | None = None,
    cancel: threading.Event | None = None,
    sampler: Sampler | None = None,
    peak: tuple[float | None, str] | None = None,
    timeout_s: float | None = None,
    stall_s: float = DEFAULT_STALL_SECONDS,
    env: Mapping[str, str] | None = None,
) -> SnapshotRun:
    """Run ``spec`` in a worker process, recording telemetry; never raises for a failed run.

    ``sampler``: a running sampler to record from (the window's); else one is made for the run.
    ``peak``: the device's peak FLOP/s and its source; else estimated while the worker starts.
    The measured ceiling, where one is cached, is read when the run ends.
    """
    if spec.is_gpu and spec.gpu_vendor is None:
        # not planned yet (the window, a study): pin the GPU by its vendor (the window offers
        # only the GPUs its TensorFlow probe said it can use)
        spec = pin_gpu(spec, machine_gpus())
    own = sampler is None
    live = sampler if sampler is not None else Sampler(DEFAULT_RUN_INTERVAL_S).start()
    t0 = time.monotonic()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="hwprof-peak") as pool:
            peak_future = pool.submit(device_peak, spec) if peak is None else None
            with TelemetryRecorder(live) as recorder:
                worker = WorkerRun(
                    spec,
                    on_event=on_event,
                    cancel=cancel,
                    timeout_s=timeout_s,
                    stall_s=stall_s,
                    env=env,
                )
                with watching(live, worker.pid):
                    outcome = worker.wait()
                telemetry = recorder.record()
            peak_flops, peak_source = peak_future.result() if peak_future else peak  # type: ignore[misc]
    finally:
        if own:
            live.stop()
    wall = time.monotonic() - t0
    result = finish(spec, outcome, peak_flops, peak_source, telemetry, wall,
                    ceiling=device_ceiling(spec))
    return SnapshotRun(spec=spec, result=result, telemetry=telemetry)


@contextlib.contextmanager
def watching(live: Sampler, pid: int | None) -> Iterator[None]:
    """The sampler reads worker ``pid``'s process tree while the block runs."""
    if pid is not None and live.process is not None:
        with contextlib.suppress(ProcessLookupError):  # ended at once: its outcome says why
            live.watch_process(pid)
    try:
        yield
    finally:
        if live.process is not None:
            live.unwatch_process()


def finish(
    spec: RunSpec,
    outcome: WorkerReport | RunResult,
    peak_flops: float | None,
    peak_source: str | None,
    record: TelemetryRecord | None,
    wall: float,
    *,
    ceiling: tuple[float | None, str | None] = (None, None),
) -> RunResult:
    """The run's result: summarised when it measured anything, even if it was cancelled.

    ``ceiling``: the device's measured ceiling in the run's precision and where it came from
    (:func:`device_ceiling`); % of peak is against it when known.
    """
    def summary(report: WorkerReport, wall_seconds: float | None) -> RunResult:
        return summarize(spec, report, peak_flops=peak_flops, peak_source=peak_source,
                         ceiling_flops=ceiling[0], ceiling_source=ceiling[1], telemetry=record,
                         wall_seconds=wall_seconds)

    if isinstance(outcome, WorkerReport):
        return summary(outcome, wall)
    if outcome.report is not None and outcome.report.steps.seconds:
        partial = summary(outcome.report, None)
        if partial.ok:
            return partial.model_copy(
                update={
                    "status": outcome.status,
                    "reason": outcome.reason,
                    "error_kind": outcome.error_kind,
                    "stderr_tail": outcome.stderr_tail,
                    "wall_seconds": wall,
                }
            )
    return outcome.model_copy(update={"wall_seconds": wall})


# What TensorFlow prints on stderr on every start on a machine without a GPU (or with a CPU-only
# build): harmless, yet alarming next to a failure ("failed call to cuInit"). Shown to people only
# when they ask for the raw log.
TENSORFLOW_NOISE = (
    "cuInit",
    "CUDA_ERROR_NO_DEVICE",
    "Could not find cuda drivers",
    "Unable to register cu",
    "TF-TRT Warning",
    "oneDNN custom operations",
    "This TensorFlow binary is optimized",
    "To enable the following instructions",
    "computation placer already registered",
    "All log messages before absl::InitializeLog",
    "kernel driver does not appear to be running",
    "cuda_executor.cc",
    "cuda_diagnostics",
    "retrieving CUDA diagnostic information",
    "Attempting to register factory",
)


def stderr_for_people(result: RunResult) -> list[str]:
    """The worker's last stderr lines worth reading.

    None for a run the person cancelled; for a failed one, without TensorFlow's start-up noise.
    """
    if result.status == "cancelled" or result.error_kind == "cancelled":
        return []
    return [line for line in result.stderr_tail
            if not any(noise in line for noise in TENSORFLOW_NOISE)]


def accuracy_text(acc: DeployedAccuracy | None) -> str:
    """``top-1 agreement 100%, max rel. error 0.41%, mean 0.05% (16 samples)`` or n/a."""
    if acc is None:
        return NA
    return (f"top-1 agreement {acc.top1_agreement:.1%}, max rel. error "
            f"{acc.max_relative_error * 100:.3g}%, mean {acc.mean_relative_error * 100:.3g}% "
            f"({acc.samples} samples)")


def tflite_rows(info: TfliteInfo) -> list[tuple[str, str]]:
    """A TFLite run's model and runtime, one fact a row."""
    threads = f", {info.num_threads} threads" if info.num_threads else ""
    made = ("from the cache" if info.cached
            else f"converted in {fmt_seconds(info.conversion_seconds)} (not timed)")
    return [
        ("runtime", f"{info.runtime_name} {info.runtime_version or NA}, {info.delegate} "
                    f"delegate{threads}"),
        ("model", f"{fmt_bytes(info.model_bytes)} .tflite, {made}"),
        ("accuracy", f"{accuracy_text(info.accuracy)} against the fp32 TensorFlow model"),
    ] + ([("Edge TPU", edgetpu_text(info))] if info.edgetpu_compiler else [])


def edgetpu_text(info: TfliteInfo) -> str:
    """How much of an Edge TPU run's model the compiler mapped to the Edge TPU."""
    if info.ops_on_edgetpu is None:
        return f"{info.edgetpu_compiler}; its log did not say how many operations it mapped"
    cpu = NA if info.ops_on_cpu is None else str(info.ops_on_cpu)
    return (f"{info.ops_on_edgetpu} operations on the Edge TPU, {cpu} on the CPU "
            f"({info.edgetpu_compiler})")
