"""`hwprof detect`: what hardware this machine has, and what TensorFlow sees of it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hwprof.backends.apple import NOT_MACOS
from hwprof.cli.args import limit_seconds
from hwprof.cli.console import make_console, plain
from hwprof.core.devices import (
    INTEL_EXTENSION_HINT,
    METAL_PLUGIN_HINT,
    TPU_INSTALL_HINT,
    CpuInfo,
    DetectReport,
    GpuInfo,
    TensorFlowInfo,
    TpuInfo,
    rocm_install_hint,
)
from hwprof.core.units import NA, fmt_bytes, fmt_flops, fmt_hz, fmt_num
from hwprof.services.detect import detect_all


def register(sub: Any) -> None:
    """Add `detect` to the CLI."""
    p = sub.add_parser(
        "detect",
        help="list the CPUs and GPUs and what TensorFlow sees",
        description="List this machine's CPUs, GPUs (NVIDIA, AMD, Intel, Apple) and TPU chips "
        "with what matters for deep learning, "
        "and the devices TensorFlow sees (from a short probe process).",
    )
    p.add_argument(
        "--json", action="store_true", help="print the report as JSON (schema hwprof.detect/1)"
    )
    p.add_argument(
        "--no-tensorflow", action="store_true", help="skip the TensorFlow probe (faster)"
    )
    p.add_argument(
        "--probe-timeout",
        type=limit_seconds,
        default=None,
        metavar="S",
        help="seconds to wait for TensorFlow to answer (default 90)",
    )
    p.set_defaults(handler=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    """Detect and print."""
    err = make_console(stderr=True)
    with err.status("detecting hardware…") if err.is_terminal else _nullcontext():
        report = detect_all(
            with_tensorflow=not args.no_tensorflow, probe_timeout_seconds=args.probe_timeout
        )
    if args.json:
        print(json.dumps(report.to_json_dict(), indent=2))
        return 0
    render_report(report, make_console())
    return 0


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _KvTable(Table):
    """Two columns, field and value; every value is shown as text (it comes from the system)."""

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(plain(c) if isinstance(c, str) else c for c in cells), **kwargs)


def _kv_table(title: str) -> Table:
    t = _KvTable(title=plain(title), title_justify="left", show_header=False, box=None,
                 pad_edge=False)
    t.add_column("field", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    return t


def render_report(report: DetectReport, console: Console) -> None:
    """The human-readable report: host, CPUs, GPUs, TensorFlow."""
    h = report.host
    t = _kv_table("Host")
    t.add_row("hostname", h.hostname)
    t.add_row(
        "OS",
        " ".join(
            x for x in (h.os_release or h.os, f"(kernel {h.kernel})" if h.kernel else "") if x
        ),
    )
    t.add_row("architecture", h.machine)
    t.add_row("Python", h.python_version)
    t.add_row(
        "memory",
        f"{fmt_bytes(h.memory_total_bytes)} total, {fmt_bytes(h.memory_available_bytes)} available",
    )
    t.add_row("swap", fmt_bytes(h.swap_total_bytes))
    if h.virtualized:
        t.add_row("virtual machine", h.virtualized)
    console.print(t)
    for i, cpu in enumerate(report.cpus):
        console.print()
        console.print(_cpu_table(cpu, i))
    console.print()
    console.print(_gpu_section(report))
    if _show_amd(report):
        console.print()
        console.print(_amd_section(report))
        hint = _rocm_hint(report)
        if hint:
            console.print(plain(f"note: {hint}"))
    if _show_intel(report):
        console.print()
        console.print(_intel_section(report))
        if _intel_hint(report):
            console.print(plain(f"note: {INTEL_EXTENSION_HINT}"))
    if _show_apple(report):
        console.print()
        console.print(_apple_section(report))
        if any(g.tensorflow_missing_reason == METAL_PLUGIN_HINT for g in report.gpus):
            console.print(plain(f"note: {METAL_PLUGIN_HINT}"))
    if report.tpu is not None and report.tpu.available:
        console.print()
        console.print(_tpu_section(report))
        for note in _tpu_notes(report):
            console.print(plain(f"note: {note}"))
    console.print()
    console.print(_tf_table(report.tensorflow))
    console.print()
    console.print(_tflite_table(report.tensorflow))
    if report.detect_seconds is not None:
        console.print()
        console.print(Text(f"detected in {report.detect_seconds:.1f} s", style="dim"))


def _cpu_table(cpu: CpuInfo, i: int) -> Table:
    t = _kv_table(f"CPU {i}")
    t.add_row("model", cpu.model_name or NA)
    t.add_row("vendor", cpu.vendor or NA)
    t.add_row("architecture", cpu.architecture or NA)
    t.add_row("sockets", fmt_num(cpu.sockets))
    t.add_row("physical cores", fmt_num(cpu.physical_cores))
    t.add_row("logical CPUs", fmt_num(cpu.logical_cpus))
    t.add_row("threads per core", fmt_num(cpu.threads_per_core))
    t.add_row(
        "clock",
        f"base {fmt_hz(cpu.frequency_base_hz)}, max {fmt_hz(cpu.frequency_max_hz)}, "
        f"now {fmt_hz(cpu.frequency_current_hz)}",
    )
    caches = ", ".join(
        f"{c.label} {fmt_bytes(c.size_bytes)}" + (f" × {c.instances}" if c.instances > 1 else "")
        for c in cpu.caches
    )
    t.add_row("caches", caches or NA)
    t.add_row("NUMA nodes", fmt_num(cpu.numa_nodes))
    t.add_row("vector width", fmt_num(cpu.vector_width_bits, unit="bits"))
    t.add_row("DL extensions", " ".join(cpu.dl_extensions) or "none of note")
    if cpu.peak is not None:
        t.add_row(
            "peak (estimate)",
            f"fp32 {fmt_flops(cpu.peak.fp32_flops)}, bf16 {fmt_flops(cpu.peak.bf16_flops)}"
            f" at {fmt_hz(cpu.peak.clock_hz)} ({cpu.peak.clock_source})",
        )
        t.add_row("  formula", plain(cpu.peak.formula))
        if cpu.peak.basis:
            basis = f"{cpu.peak.basis}; source: {cpu.peak.basis_source}"
            t.add_row("  FLOP/cycle from", plain(basis))
        for note in cpu.peak.notes:
            t.add_row("  note", plain(note))
    else:
        t.add_row("peak (estimate)", NA)
    for note in cpu.notes:
        t.add_row("note", note)
    return t


def _nvidia(report: DetectReport) -> list[GpuInfo]:
    return [g for g in report.gpus if g.vendor == "nvidia"]


def _gpu_section(report: DetectReport) -> Table:
    """The NVIDIA GPUs (AMD ones have their own table, :func:`_amd_section`)."""
    if not report.nvml.available:
        t = _kv_table("NVIDIA GPUs")
        t.add_row("status", report.nvml.message or "NVML unavailable")
        return t
    n = report.nvml
    title = (
        f"NVIDIA GPUs ({len(_nvidia(report))}) — driver {n.driver_version or NA}, "
        f"CUDA driver {n.cuda_driver_version or NA}"
    )
    if not _nvidia(report):
        t = _kv_table(title)
        t.add_row("status", "NVML works but reports no GPUs")
        return t
    t = Table(title=plain(title), title_justify="left")
    for col in (
        "#",
        "name",
        "memory",
        "CC",
        "cores",
        "max SM/mem clock",
        "power limit",
        "PCIe",
        "MIG",
        "peak fp32 / fp16 (est.)",
        "TensorFlow",
    ):
        t.add_column(col, overflow="fold", no_wrap=col not in ("name", "TensorFlow"))
    for g in _nvidia(report):
        t.add_row(*_gpu_row(g))
    return t


def _show_amd(report: DetectReport) -> bool:
    """AMD's table shows when there is an AMD driver, or no GPU at all (then say why not)."""
    if report.amd is None:
        return False
    return report.amd.available or not (report.nvml.available or _apple_ok(report))


def _rocm_hint(report: DetectReport) -> str | None:
    """The install line, once, when an AMD GPU is there and this TensorFlow cannot use it."""
    hint = rocm_install_hint(report.tensorflow, report.amd.rocm_version if report.amd else None)
    amd = [g for g in report.gpus if g.vendor == "amd"]
    return hint if any(g.tensorflow_missing_reason == hint for g in amd) else None


def _amd_section(report: DetectReport) -> Table:
    amd = report.amd
    if amd is None or not amd.available:
        t = _kv_table("AMD GPUs")
        t.add_row("status", (amd.message if amd else None) or "not detected")
        return t
    gpus = [g for g in report.gpus if g.vendor == "amd"]
    title = (
        f"AMD GPUs ({len(gpus)}) — amdgpu driver {amd.driver_version or NA}, "
        f"ROCm {amd.rocm_version or 'not found'} (read from {amd.source or NA})"
    )
    if not gpus:
        t = _kv_table(title)
        t.add_row("status", "the amdgpu driver is loaded but shows no GPUs")
        return t
    t = Table(title=plain(title), title_justify="left")
    for col in (
        "#",
        "name",
        "memory",
        "GFX target",
        "CUs",
        "max engine/mem clock",
        "power cap",
        "PCIe",
        "peak fp32 / fp16 (est.)",
        "TensorFlow",
    ):
        # a narrow terminal folds the name and TensorFlow cells rather than hiding them
        wraps = col in ("name", "TensorFlow")
        t.add_column(col, overflow="fold", no_wrap=not wraps, min_width=12 if wraps else None)
    hint = _rocm_hint(report)
    for g in gpus:
        t.add_row(*_amd_row(g, hint))
    return t


def _show_intel(report: DetectReport) -> bool:
    """Intel's table shows when i915/xe is there, or no GPU at all (then say why not)."""
    if report.intel is None:
        return False
    amd_ok = report.amd is not None and report.amd.available
    return report.intel.available or not (report.nvml.available or amd_ok or _apple_ok(report))


def _apple_ok(report: DetectReport) -> bool:
    """Whether this is an Apple silicon Mac (where no AMD or Intel driver is worth a table)."""
    return report.apple is not None and report.apple.available


def _intel_hint(report: DetectReport) -> bool:
    """Whether an Intel GPU is there that TensorFlow cannot use for want of the extension."""
    return any(g.vendor == "intel" and g.tensorflow_missing_reason == INTEL_EXTENSION_HINT
               for g in report.gpus)


def _intel_section(report: DetectReport) -> Table:
    intel = report.intel
    if intel is None or not intel.available:
        t = _kv_table("Intel GPUs")
        t.add_row("status", (intel.message if intel else None) or "not detected")
        return t
    gpus = [g for g in report.gpus if g.vendor == "intel"]
    drivers = " + ".join(intel.drivers) or NA
    title = f"Intel GPUs ({len(gpus)}) — {drivers} driver (read from sysfs)"
    if not gpus:
        t = _kv_table(title)
        t.add_row("status", "the i915/xe driver is loaded but shows no GPUs")
        return t
    t = Table(title=plain(title), title_justify="left",
              caption=plain(intel.busy_note) if intel.busy_note else None, caption_justify="left")
    for col in ("#", "name", "memory", "architecture", "Xe-cores", "max GT clock", "power cap",
                "PCIe", "peak fp32 / fp16 (est.)", "TensorFlow"):
        wraps = col in ("name", "TensorFlow")
        t.add_column(col, overflow="fold", no_wrap=not wraps, min_width=12 if wraps else None)
    hint = _intel_hint(report)
    for g in gpus:
        t.add_row(*_intel_row(g, hint))
    return t


def _show_apple(report: DetectReport) -> bool:
    """Apple's table shows on a Mac (an Apple GPU, or why there is none); off macOS, never."""
    return report.apple is not None and (report.apple.available
                                         or report.apple.message != NOT_MACOS)


def _apple_section(report: DetectReport) -> Table:
    apple = report.apple
    gpus = [g for g in report.gpus if g.vendor == "apple"]
    if apple is None or not apple.available or not gpus:
        t = _kv_table("Apple GPU")
        t.add_row("status", (apple.message if apple else None) or "not detected")
        return t
    cores = (f"{apple.performance_cores} performance + {apple.efficiency_cores} efficiency"
             if apple.performance_cores is not None and apple.efficiency_cores is not None
             else NA)
    title = f"Apple GPU — {apple.chip or NA}, CPU {cores} cores, {apple.metal_support or NA}"
    # one line: plain() shows a newline from the notes as \x0a, as it does any control code
    notes = ". ".join(n[0].upper() + n[1:] for n in (apple.memory_note, apple.power_note) if n)
    t = Table(title=plain(title), title_justify="left", caption=plain(notes) if notes else None,
              caption_justify="left")
    for col in ("#", "chip", "GPU cores", "unified memory", "peak fp32 / fp16 (est.)",
                "TensorFlow"):
        wraps = col in ("chip", "TensorFlow")
        t.add_column(col, overflow="fold", no_wrap=not wraps, min_width=12 if wraps else None)
    for g in gpus:
        tf = _tf_cell(g, METAL_PLUGIN_HINT, "no tensorflow-metal")
        t.add_row(*[plain(c) for c in (str(g.index), g.name or NA, fmt_num(g.compute_units),
                                        fmt_bytes(g.memory_total_bytes), _peak_cell(g), tf)])
    return t


def _intel_row(g: GpuInfo, hint: bool) -> list[Text]:
    if g.error:
        return [plain(g.index), plain(g.error, style="red"), *([plain("")] * 8)]
    tf = _tf_cell(g, INTEL_EXTENSION_HINT if hint else None,
                  "no Intel Extension for TensorFlow")
    return [plain(cell) for cell in (
        str(g.index),
        g.name or NA,
        fmt_bytes(g.memory_total_bytes),
        g.architecture or NA,
        fmt_num(g.compute_units),
        f"{fmt_num(g.sm_clock_max_mhz)} MHz",
        _power_cap_cell(g),
        _pcie_text(g),
        _peak_cell(g),
        tf,
    )]


def _tpu_notes(report: DetectReport) -> list[str]:
    """What to install for TensorFlow (libtpu) and for live readings (tpu-info), each once."""
    notes = []
    if any(t.tensorflow_missing_reason == TPU_INSTALL_HINT for t in report.tpus):
        notes.append(TPU_INSTALL_HINT)
    if report.tpu is not None and report.tpu.telemetry_note:
        notes.append(f"live TPU readings (duty cycle, HBM in use): {report.tpu.telemetry_note}")
    return notes


def _tpu_section(report: DetectReport) -> Table:
    chips = report.tpus
    t = Table(title=f"TPU chips ({len(chips)}) — tpu:N, read from PCI sysfs", title_justify="left")
    for col in ("#", "name", "HBM", "TensorCores", "PCI", "device", "peak bf16", "TensorFlow"):
        wraps = col in ("name", "TensorFlow")
        t.add_column(col, overflow="fold", no_wrap=not wraps, min_width=12 if wraps else None)
    for chip in chips:
        t.add_row(*_tpu_row(chip))
    return t


def _tpu_row(c: TpuInfo) -> list[Text]:
    if c.error:
        return [plain(f"tpu:{c.index}"), plain(c.error, style="red"), *([plain("")] * 6)]
    if c.tensorflow_missing_reason == TPU_INSTALL_HINT:
        tf = "not usable: no libtpu (see the note)"
    elif c.tensorflow_missing_reason:
        tf = c.tensorflow_missing_reason
    else:
        tf = "libtpu installed (TPUStrategy)"
    return [plain(cell) for cell in (
        f"tpu:{c.index}",
        c.name or NA,
        fmt_bytes(c.memory_total_bytes),
        fmt_num(c.tensor_cores),
        c.pci_bus_id or NA,
        c.device_path or NA,
        fmt_flops(c.peak.bf16_flops) if c.peak else NA,
        tf,
    )]


def _pcie_text(g: GpuInfo) -> str:
    if g.pcie and g.pcie.generation_current is not None:
        pcie = f"gen{g.pcie.generation_current} x{fmt_num(g.pcie.width_current)}"
        if g.pcie.generation_max and g.pcie.generation_max != g.pcie.generation_current:
            pcie += f" (max gen{g.pcie.generation_max})"
        return pcie
    return NA


def _amd_row(g: GpuInfo, hint: str | None) -> list[Text]:
    if g.error:
        return [plain(g.index), plain(g.error, style="red"), *([plain("")] * 8)]
    clocks = f"{fmt_num(g.sm_clock_max_mhz)} / {fmt_num(g.memory_clock_max_mhz)} MHz"
    return [plain(cell) for cell in (
        str(g.index),
        g.name or NA,
        fmt_bytes(g.memory_total_bytes),
        g.gfx_target or NA,
        fmt_num(g.compute_units),
        clocks,
        _power_cap_cell(g),
        _pcie_text(g),
        _peak_cell(g),
        _tf_cell(g, hint, "no ROCm TensorFlow"),
    )]


def _tf_cell(g: GpuInfo, hint: str | None, missing: str) -> str:
    """A vendor GPU's TensorFlow device, or why TensorFlow cannot see it.

    A GPU whose reason is ``hint`` (printed once as a note under the table) says ``missing``.
    """
    if g.tensorflow_device:
        return g.tensorflow_device
    if hint and g.tensorflow_missing_reason == hint:
        return f"not visible: {missing} (see the note)"
    return f"not visible: {g.tensorflow_missing_reason or 'unknown'}"


def _peak_cell(g: GpuInfo) -> str:
    return f"{fmt_flops(g.peak.fp32_flops)} / {fmt_flops(g.peak.fp16_flops)}" if g.peak else NA


def _power_cap_cell(g: GpuInfo) -> str:
    if g.power_limit_enforced_watts is None:
        return NA
    return f"{fmt_num(g.power_limit_enforced_watts, '{:.0f}')} W"


def _gpu_row(g: GpuInfo) -> list[Text]:
    if g.error:
        return [plain(g.index), plain(g.error, style="red"), *([plain("")] * 9)]
    cc = f"{g.compute_capability[0]}.{g.compute_capability[1]}" if g.compute_capability else NA
    clocks = f"{fmt_num(g.sm_clock_max_mhz)} / {fmt_num(g.memory_clock_max_mhz)} MHz"
    power = (
        f"{fmt_num(g.power_limit_enforced_watts, '{:.0f}')} W"
        if g.power_limit_enforced_watts is not None
        else NA
    )
    if g.pcie and g.pcie.generation_current is not None:
        pcie = f"gen{g.pcie.generation_current} x{fmt_num(g.pcie.width_current)}"
        if g.pcie.generation_max and g.pcie.generation_max != g.pcie.generation_current:
            pcie += f" (max gen{g.pcie.generation_max})"
    else:
        pcie = NA
    mig = NA if g.mig_mode_current is None else ("on" if g.mig_mode_current else "off")
    peak = f"{fmt_flops(g.peak.fp32_flops)} / {fmt_flops(g.peak.fp16_flops)}" if g.peak else NA
    tf = g.tensorflow_device or f"not visible: {g.tensorflow_missing_reason or 'unknown'}"
    return [plain(cell) for cell in (
        str(g.index),
        g.name or NA,
        fmt_bytes(g.memory_total_bytes),
        cc,
        fmt_num(g.cuda_cores),
        clocks,
        power,
        pcie,
        mig,
        peak,
        tf,
    )]


def _tflite_table(tf: TensorFlowInfo) -> Table:
    """TFLite's interpreters (from the probe) and the delegates this machine has (looked for)."""
    from hwprof.backends.tflite_delegates import tflite_delegates

    t = _kv_table("TensorFlow Lite")
    if tf.status == "ok":
        t.add_row("runtime", ", ".join(tf.tflite_runtimes) or "none (pip install ai-edge-litert)")
    for d in tflite_delegates():
        t.add_row(f"delegate {d.name}" if d.name != "edgetpu_compiler" else d.name,
                  plain(("yes: " if d.available else "no: ") + d.detail))
    return t


def _tf_table(tf: TensorFlowInfo) -> Table:
    t = _kv_table("TensorFlow")
    if tf.status != "ok":
        t.add_row("status", f"{tf.status}: {tf.message or ''}".rstrip(": "))
        return t
    t.add_row("version", tf.version or NA)
    t.add_row(
        "built with CUDA",
        "yes" if tf.built_with_cuda else "no",
    )
    if tf.built_with_rocm:
        t.add_row("built with ROCm", "yes")
    if tf.built_with_cuda:
        t.add_row("CUDA / cuDNN (build)", f"{tf.cuda_version or NA} / {tf.cudnn_version or NA}")
    for d in tf.devices:
        extra = ""
        if d.details.get("device_name"):
            extra = f" — {d.details['device_name']}"
        if d.nvml_index is not None:
            extra += f" (NVML GPU {d.nvml_index}, {d.pci_bus_id})"
        elif d.pci_bus_id:
            extra += f" ({d.pci_bus_id})"
        t.add_row("device", f"{d.name}{extra}")
    if tf.message:
        t.add_row("note", tf.message)
    if tf.probe_seconds is not None:
        t.add_row("probe time", f"{tf.probe_seconds:.1f} s")
    return t
