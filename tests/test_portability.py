"""hwprof's own code imports and works without the Unix-only modules (Windows has neither).

The worker once imported ``resource`` at the top of its module, so every run would have died on
Windows. A child Python here refuses ``resource`` and ``fcntl`` to hwprof's modules (third-party
ones, such as psutil on Linux, still get them: on Windows they take other paths), imports every
hwprof module, and measures the worker's peak memory the way a Windows worker would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r'''
import builtins, importlib, pkgutil, sys

BLOCKED = {"resource", "fcntl"}
real_import = builtins.__import__

def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if name.split(".")[0] in BLOCKED and importer.split(".")[0] == "hwprof":
        raise ModuleNotFoundError(f"No module named {name!r} (as on Windows)", name=name)
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = guarded_import

import hwprof
failed = []
names = [info.name for info in pkgutil.walk_packages(hwprof.__path__, "hwprof.")]
for name in names:
    try:
        importlib.import_module(name)
    except Exception as err:
        failed.append(f"{name}: {err!r}")
assert not failed, failed
# the workers' own modules are among them: the run worker, the suite worker and its parent side
assert {"hwprof.workloads.worker", "hwprof.workloads.suite_worker",
        "hwprof.runner.suite"} <= set(names), names

from hwprof.core.spec import RunSpec
from hwprof.workloads.worker import peak_memory
for since_reset in (None, True, False):
    memory, source = peak_memory(None, RunSpec(workload="mlp"), since_reset=since_reset)
    assert memory is None and "not available on this platform" in source, (memory, source)

from hwprof.cli.main import main
assert main(["run", "--list"]) == 0
print("imported", len(list(pkgutil.walk_packages(hwprof.__path__, "hwprof."))), "modules")
'''


def test_every_module_imports_without_resource_and_fcntl() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout


def test_the_guard_does_refuse_them() -> None:
    """The check above would pass vacuously if the guard let the modules through."""
    probe = CHILD.split("import hwprof\n")[0] + (
        "g = {'__name__': 'hwprof.workloads.worker'}\n"
        "try:\n"
        "    exec('import resource', g)\n"
        "except ModuleNotFoundError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "refused", done.stderr
