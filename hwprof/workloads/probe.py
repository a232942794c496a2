"""The TensorFlow probe, run in a short child process: what TensorFlow is and which devices it sees.

Prints one JSON object on stdout. The parent (``hwprof.runner.probe``) gives it a time limit.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any


def probe() -> dict[str, Any]:
    """Import TensorFlow and describe it."""
    t0 = time.monotonic()
    try:
        import tensorflow as tf
    except ModuleNotFoundError as err:
        if err.name == "tensorflow":
            return {"status": "not_installed", "message": "TensorFlow is not installed"}
        return {"status": "import_failed", "message": f"TensorFlow failed to import: {err}"}
    except Exception as err:  # a broken install fails in many ways
        return {"status": "import_failed", "message": f"TensorFlow failed to import: {err!r}"}
    build = dict(tf.sysconfig.get_build_info())
    devices = []
    for kind_index, dev in _indexed(tf.config.list_physical_devices()):
        details: dict[str, str] = {}
        cc = None
        try:
            raw = tf.config.experimental.get_device_details(dev) or {}
        except Exception:  # details are optional; some pluggable devices refuse
            raw = {}
        for key, value in raw.items():
            if key == "compute_capability" and isinstance(value, (tuple, list)):
                cc = [int(value[0]), int(value[1])]
            details[str(key)] = str(value)
        devices.append(
            {
                "name": dev.name,
                "device_type": dev.device_type,
                "index": kind_index,
                "details": details,
                "compute_capability": cc,
            }
        )
    return {
        "status": "ok",
        "version": tf.__version__,
        "built_with_cuda": bool(build.get("is_cuda_build", False)),
        "built_with_rocm": bool(build.get("is_rocm_build", False)),
        "cuda_version": build.get("cuda_version") or None,
        "cudnn_version": build.get("cudnn_version") or None,
        "devices": devices,
        "tflite_runtimes": tflite_runtimes(tf),
        "import_seconds": round(time.monotonic() - t0, 3),
    }


def tflite_runtimes(tf: Any) -> list[str]:
    """The TFLite interpreters here: TensorFlow's own, and LiteRT's package when installed."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    if hasattr(getattr(tf, "lite", None), "Interpreter"):
        found.append(f"tf.lite {tf.__version__}")
    # the package's metadata: importing it is not needed to know it is there
    with contextlib.suppress(PackageNotFoundError):
        found.append(f"ai_edge_litert {version('ai-edge-litert')}")
    return found


def _indexed(devices: list[Any]) -> list[tuple[int, Any]]:
    counts: dict[str, int] = {}
    out = []
    for dev in devices:
        i = counts.get(dev.device_type, 0)
        counts[dev.device_type] = i + 1
        out.append((i, dev))
    return out


def main(argv: list[str]) -> int:
    """Print the probe's result as one JSON line."""
    try:
        result = probe()
    except Exception as err:  # report, never crash silently
        result = {"status": "error", "message": f"TensorFlow probe failed: {err!r}"}
    from hwprof.core.devices import libtpu_installed

    result["libtpu"] = libtpu_installed()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0
