"""Ask TensorFlow what it sees, from a short child process with a time limit.

The calling process never imports TensorFlow: importing it takes seconds, starts thread pools and,
on a GPU machine, can create a CUDA context. A TensorFlow that is missing, fails to import or hangs
is reported as such; nothing else is affected.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping

from hwprof.core.devices import TensorFlowInfo, TfDevice
from hwprof.runner.launch import start_child, stop_child

DEFAULT_TIMEOUT_SECONDS = float(os.environ.get("HWPROF_PROBE_TIMEOUT", "90"))


def probe_tensorflow(
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    env: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
) -> TensorFlowInfo:
    """TensorFlow's version, CUDA/cuDNN build and physical devices, or why they are unknown.

    Setting ``cancel`` ends the probe child at once (the window does this when it closes).
    """
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hwprof-probe-") as tmp:
        err_path = os.path.join(tmp, "stderr.txt")
        try:
            proc = start_child(["probe"], env=env, stderr_path=err_path)
        except OSError as err:
            return TensorFlowInfo(status="error", message=f"could not start the probe: {err}")
        deadline = t0 + timeout_seconds
        out = ""
        while True:
            try:
                # short waits so a cancel is seen quickly; the probe's output is one small line,
                # so the pipe cannot fill up while we wait
                out, _ = proc.communicate(timeout=0.1 if cancel is not None else timeout_seconds)
                break
            except subprocess.TimeoutExpired:
                cancelled = cancel is not None and cancel.is_set()
                if cancelled or time.monotonic() >= deadline:
                    stop_child(proc, grace_seconds=1.0)
                    proc.communicate()
                    if cancelled:
                        return TensorFlowInfo(status="error", message="probe cancelled")
                    return TensorFlowInfo(
                        status="timeout",
                        message=f"TensorFlow did not answer within {timeout_seconds:g} s "
                        "(import hung?)",
                        probe_seconds=round(time.monotonic() - t0, 3),
                    )
        stderr = _tail(err_path)
    elapsed = round(time.monotonic() - t0, 3)
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        detail = f": {stderr[-1]}" if stderr else ""
        return TensorFlowInfo(
            status="error",
            message=f"the TensorFlow probe exited with code {proc.returncode}{detail}",
            probe_seconds=elapsed,
        )
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return TensorFlowInfo(
            status="error", message="the TensorFlow probe answered garbage", probe_seconds=elapsed
        )
    return parse_probe(data, stderr, elapsed)


def parse_probe(data: dict[str, object], stderr: list[str], elapsed: float) -> TensorFlowInfo:
    """Turn the probe child's JSON into a TensorFlowInfo."""
    status = str(data.get("status", "error"))
    libtpu = data.get("libtpu")
    libtpu = bool(libtpu) if isinstance(libtpu, bool) else None
    if status != "ok":
        return TensorFlowInfo(
            status=status if status in ("not_installed", "import_failed") else "error",
            message=str(data.get("message") or "unknown failure"),
            probe_seconds=elapsed,
            libtpu=libtpu,
        )
    devices = []
    for d in data.get("devices") or []:  # type: ignore[attr-defined]
        cc = d.get("compute_capability")
        devices.append(
            TfDevice(
                name=str(d["name"]),
                device_type=str(d["device_type"]),
                index=int(d["index"]),
                details={str(k): str(v) for k, v in (d.get("details") or {}).items()},
                compute_capability=(int(cc[0]), int(cc[1])) if cc else None,
            )
        )
    message = None
    if any("Cannot dlopen some GPU libraries" in ln for ln in stderr):
        message = (
            "TensorFlow could not load the CUDA libraries (Cannot dlopen some GPU libraries): "
            "install TensorFlow's CUDA packages (pip install 'tensorflow[and-cuda]')"
        )
    return TensorFlowInfo(
        status="ok",
        message=message,
        version=str(data.get("version")),
        built_with_cuda=bool(data.get("built_with_cuda")),
        built_with_rocm=bool(data.get("built_with_rocm")),
        cuda_version=_opt_str(data.get("cuda_version")),
        cudnn_version=_opt_str(data.get("cudnn_version")),
        devices=tuple(devices),
        probe_seconds=elapsed,
        libtpu=libtpu,
        tflite_runtimes=tuple(
            str(r) for r in data.get("tflite_runtimes") or []  # type: ignore[attr-defined]
        ),
    )


def _opt_str(value: object) -> str | None:
    return str(value) if value else None


def _tail(path: str, lines: int = 40) -> list[str]:
    try:
        with open(path, errors="replace") as fh:
            return [ln.rstrip("\n") for ln in fh.readlines()[-lines:]]
    except OSError:
        return []
