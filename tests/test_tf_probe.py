"""The TensorFlow probe, for real (CPU only here): it runs in a child process with a time limit."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hwprof.runner.probe import probe_tensorflow


@pytest.mark.tf
def test_probe_sees_tensorflow_and_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # the probe never imports TF in this process: here any such import would fail. (Another test
    # in this process may have imported TF already, so its absence afterwards would prove nothing.)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # type: ignore[arg-type]
    info = probe_tensorflow(timeout_seconds=120)
    assert info.status == "ok", info.message
    assert info.version and info.version[0].isdigit()
    assert info.built_with_cuda is not None
    if info.built_with_cuda:
        assert info.cuda_version and info.cudnn_version
    assert any(d.device_type == "CPU" for d in info.devices)


def test_probe_timeout_is_reported_and_the_child_ends() -> None:
    info = probe_tensorflow(timeout_seconds=0.2)
    assert info.status == "timeout"
    assert "did not answer within 0.2 s" in (info.message or "")


def test_broken_tensorflow_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise ImportError('libtensorflow_framework.so.2: cannot open')\n"
    )
    repo = Path(__file__).resolve().parent.parent
    info = probe_tensorflow(timeout_seconds=60, env={"PYTHONPATH": f"{tmp_path}:{repo}"})
    assert info.status == "import_failed"
    assert "libtensorflow_framework" in (info.message or "")


def test_missing_tensorflow_is_reported(tmp_path: Path) -> None:
    # a `tensorflow` module shadows the real one and raises ModuleNotFoundError for itself
    (tmp_path / "tensorflow.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'tensorflow'\", name='tensorflow')\n"
    )
    repo = Path(__file__).resolve().parent.parent
    info = probe_tensorflow(timeout_seconds=60, env={"PYTHONPATH": f"{tmp_path}:{repo}"})
    assert info.status == "not_installed"
