"""hwprof writes nothing into the user's home: Keras' and matplotlib's files go to its data folder.

Every child that imports TensorFlow (the probe of `hwprof detect`, the worker of `hwprof run`)
imports Keras, which writes ``~/.keras/keras.json``, and matplotlib, which caches fonts under
``~/.cache``; both outlived an uninstall.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tf
REPO = Path(__file__).resolve().parent.parent


def test_detect_and_run_leave_the_home_folder_untouched(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("KERAS_HOME", "MPLCONFIGDIR") and not k.startswith("XDG_")}
    env.update(HOME=str(home), USERPROFILE=str(home), HWPROF_DATA_DIR=str(data))
    for args in (["detect", "--json"],
                 ["run", "mlp", "--mode", "infer", "--size", "16", "--steps", "2"]):
        done = subprocess.run([sys.executable, "-m", "hwprof", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == [], args
    assert (data / "keras" / "keras.json").is_file()  # where Keras' file went instead
