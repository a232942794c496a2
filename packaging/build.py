"""Build hwprof's installers for this operating system; print the artefacts with their sizes.

    python packaging/build.py                   # bundle + the installers of this OS
    python packaging/build.py --flavour cpu     # Linux: the CPU-only packages (tensorflow-cpu)
    python packaging/build.py --bundle-only     # just the one-folder bundle
    python packaging/build.py --reuse-bundle    # package the bundle already built

From a fresh clone, ``bash packaging/bootstrap.sh package`` makes the virtual environment and runs
this. Run with a Python that lacks PyInstaller, this script installs the project's ``package``
extra into that environment first (pinned by packaging/constraints.txt).

Linux: the one-folder bundle (PyInstaller) with no library of the build host's system in it, its
glibc floor and system libraries read with ``readelf`` (the build fails above the supported
floor, see packaging/elf_check.py), a ``.deb`` (xz) installing under /usr/lib/hwprof with
/usr/bin/hwprof, a .desktop entry, icons, the snapshot MIME type, copyright, changelog and
md5sums, checked with lintian when it is installed; and a portable ``.tar.xz`` with a README, the
.desktop entry, icons and an install script for the menu entry. Windows: an Inno Setup installer
(ISCC.exe on PATH). macOS: hwprof.app in a .dmg, signed and notarized when asked. Everything lands
in build/installer/.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the helper modules beside this script (elf_check, notices, ...)

import app_meta  # noqa: E402
import bundle_policy  # noqa: E402
import elf_check  # noqa: E402

ROOT = HERE.parent
BUILD = ROOT / "build"
OUT = BUILD / "installer"
CONSTRAINTS = HERE / "constraints.txt"
LINUX = HERE / "linux"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
INSTALL_DIR = "usr/lib/hwprof"  # in the .deb (Debian's place for an application's private files)
# Who the .deb names as its maintainer: HWPROF_MAINTAINER="Name <address>", or Debian's own
# DEBFULLNAME and DEBEMAIL. The fallback is a placeholder address and the build says so.
PLACEHOLDER_MAINTAINER = "hwprof developers <hwprof@example.org>"


class BuildError(Exception):
    """A build step failed or cannot start; the message says what to do."""


@dataclass(frozen=True)
class Flavour:
    """A variant of the Linux packages: which TensorFlow it bundles, and its names."""

    name: str  # "full" or "cpu"
    package: str  # the .deb's and the archive's name
    tensorflow: str  # the distribution that provides `import tensorflow`
    build: Path  # its own build folder (dist, PyInstaller's work, notices, icons)
    summary: str

    @property
    def other(self) -> str:
        """The other flavour's package: the two install the same files."""
        return "hwprof-cpu" if self.name == "full" else "hwprof"


FLAVOURS = {
    "full": Flavour("full", "hwprof", "tensorflow", BUILD,
                    "TensorFlow with NVIDIA GPU support"),
    "cpu": Flavour("cpu", "hwprof-cpu", "tensorflow-cpu", BUILD / "cpu",
                   "the CPU-only TensorFlow (tensorflow-cpu)"),
}


def version() -> str:
    """hwprof's version, read without importing anything heavy."""
    ns: dict[str, str] = {}
    exec((ROOT / "hwprof" / "__init__.py").read_text(), ns)  # our own file, not user input
    return ns["__version__"]


def human(n: float) -> str:
    """1234567 -> "1.2 MB"."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} GB"


def tree_size(path: Path) -> tuple[int, int]:
    """(bytes, files) of a folder; links are not followed or counted."""
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
            files += 1
    return total, files


def say(msg: str) -> None:
    """One line of progress, flushed (the build's steps take minutes)."""
    print(f"==> {msg}", flush=True)


# -- preflight ------------------------------------------------------------------------------------

# tool -> (what it is for, how to get it); checked before the long PyInstaller step
LINUX_BUNDLE_TOOLS = {
    "readelf": ("checks the glibc floor", "sudo apt-get install binutils"),
    "strip": ("strips the bundle's libraries", "sudo apt-get install binutils"),
}
LINUX_TOOLS = {
    **LINUX_BUNDLE_TOOLS,
    "dpkg-deb": ("builds the .deb", "sudo apt-get install dpkg"),
    "tar": ("makes the portable archive", "sudo apt-get install tar"),
    "xz": ("compresses the .deb and the archive", "sudo apt-get install xz-utils"),
}


def missing_tools(tools: dict[str, tuple[str, str]]) -> list[str]:
    """One line per tool of ``tools`` that is not on PATH, with what it is for and how to get it."""
    return [f"  {tool}: {why}; install it with `{how}`"
            for tool, (why, how) in tools.items() if shutil.which(tool) is None]


def preflight(args: argparse.Namespace) -> None:
    """Fail at once, with the fix, when a tool the build will need is missing."""
    tools: dict[str, tuple[str, str]] = {}
    if sys.platform.startswith("linux"):
        tools = dict(LINUX_BUNDLE_TOOLS if args.bundle_only else LINUX_TOOLS)
        if args.lintian == "require" and not args.bundle_only:
            tools["lintian"] = ("checks the .deb", "sudo apt-get install lintian")
    elif sys.platform == "win32" and not args.bundle_only:
        tools = {"ISCC": ("builds the installer (Inno Setup 6)",
                          "choco install innosetup, then add its folder to PATH")}
    elif sys.platform == "darwin" and not args.bundle_only:
        tools = {"hdiutil": ("makes the .dmg", "part of macOS")}
        if os.environ.get("HWPROF_CODESIGN_IDENTITY"):
            tools["codesign"] = ("signs the app", "xcode-select --install")
        if os.environ.get("HWPROF_NOTARY_PROFILE"):
            tools["xcrun"] = ("notarizes the .dmg", "xcode-select --install")
    missing = missing_tools(tools)
    if missing:
        raise BuildError("missing tools:\n" + "\n".join(missing))


def in_virtualenv(python: str = sys.executable) -> bool:
    """Whether ``python`` is a virtual environment's (so installing into it is harmless)."""
    out = subprocess.run([python, "-c", "import sys; print(sys.prefix != sys.base_prefix)"],
                         capture_output=True, text=True, check=False)
    return out.stdout.strip() == "True"


def ensure_pyinstaller(python: str, allow_install: bool) -> None:
    """Install the project's ``package`` extra into ``python``'s environment when it lacks it."""
    check = [python, "-c", "import PyInstaller"]
    if subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return
    if not allow_install:
        raise BuildError(f"PyInstaller is not installed for {python}: run\n  {python} -m pip "
                         f"install -c packaging/constraints.txt -e '.[package]'")
    if not in_virtualenv(python):
        raise BuildError(f"PyInstaller is missing and {python} is not a virtual environment's "
                         "Python, so this script will not install into it. From the repository: "
                         "bash packaging/bootstrap.sh package")
    say("PyInstaller is missing: installing the packaging extra (pinned versions)")
    pip(python, "-e", f"{ROOT}[package]")
    if subprocess.run(check, capture_output=True, check=False).returncode != 0:
        raise BuildError("PyInstaller still cannot be imported after installing it (see above)")


def pip(python: str, *what: str) -> None:
    """pip install with the tested versions (packaging/constraints.txt)."""
    cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q",
           "-c", str(CONSTRAINTS), *what]
    if subprocess.run(cmd, check=False).returncode != 0:
        raise BuildError(f"pip could not install {' '.join(what)} (see above)")


def pinned(name: str) -> str:
    """The version packaging/constraints.txt pins for ``name``."""
    for line in CONSTRAINTS.read_text().splitlines():
        m = re.fullmatch(rf"{re.escape(name)}==(\S+)", line.strip(), re.IGNORECASE)
        if m:
            return m.group(1)
    raise BuildError(f"{name} has no pinned version in {CONSTRAINTS}")


def cpu_environment(flavour: Flavour) -> str:
    """A virtual environment like the project's, with tensorflow-cpu in place of tensorflow.

    Made once in build/cpu/venv from the Python running this script; hwprof itself is installed
    without its dependencies (it names ``tensorflow``, which would pull the GPU build back in).
    """
    venv = flavour.build / "venv"
    python = venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    marker = venv / "hwprof-cpu-ready"
    if marker.exists():
        return str(python)
    say(f"making {venv} with tensorflow-cpu (first time only: downloads about 270 MB)")
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--clear",
                    str(venv)], check=True)
    toml = (ROOT / "pyproject.toml").read_text()
    deps_block = re.search(r"^dependencies = \[(.*?)^\]", toml, re.MULTILINE | re.DOTALL)
    if not deps_block:
        raise BuildError("cannot read the dependencies from pyproject.toml")
    deps = [d for d in re.findall(r'"([^"]+)"', deps_block.group(1))
            if not d.startswith("tensorflow")]
    pip(str(python), f"tensorflow-cpu=={pinned('tensorflow')}",
        f"pyinstaller=={pinned('pyinstaller')}", *deps)
    pip(str(python), "--no-deps", "-e", str(ROOT))
    marker.write_text("ready\n")
    return str(python)


# -- the bundle -----------------------------------------------------------------------------------

def build_bundle(python: str, flavour: Flavour) -> Path:
    """PyInstaller one-folder bundle in <build>/dist/hwprof, with its icons made first."""
    import render_icons

    t0 = time.monotonic()
    say("icons from resources/icons/hwprof.svg (.ico, .icns)")
    render_icons.platform_icons(flavour.build / "icons")
    say(f"PyInstaller ({flavour.tensorflow}); this takes minutes")
    env = dict(os.environ, HWPROF_BUILD_DIR=str(flavour.build))
    subprocess.run(
        [python, "-m", "PyInstaller", str(HERE / "hwprof.spec"),
         "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(flavour.build / "dist"), "--workpath",
         str(flavour.build / "pyinstaller")],
        check=True, cwd=ROOT, env=env,
    )
    bundle = flavour.build / "dist" / "hwprof"
    size, files = tree_size(bundle)
    print(f"bundle: {bundle} ({human(size)} in {files} files, built in "
          f"{time.monotonic() - t0:.0f} s)")
    return bundle


def check_pruned(bundle: Path) -> None:
    """The bundle holds nothing packaging/bundle_policy.py prunes (the spec pruned it)."""
    internal = bundle / "_internal"
    if not internal.is_dir():
        return
    left = bundle_policy.leftovers(p.relative_to(internal).as_posix()
                                   for p in internal.rglob("*") if not p.is_dir())
    if left:
        raise BuildError(f"{len(left)} pruned files are in the bundle, e.g. {left[:3]}")


def prepare_linux_bundle(bundle: Path) -> list[str]:
    """Strip the bundle's binaries and drop search paths into the build host (idempotent).

    The wheels ship libraries with their symbol tables (TensorFlow's alone: 220 MB of them);
    stripping them is what Debian does to every package (lintian: unstripped-binary-or-object). The
    PyInstaller executables are left alone: their archive follows the ELF data and strip would cut
    it off; so are libraries with a .hmac or .chk beside them (a checksum of the file). Returns
    the files that could not be stripped (relative to the bundle).
    """
    t0 = time.monotonic()
    infos = elf_check.scan(bundle)
    dropped = [str(i.path.relative_to(bundle)) for i in infos
               if elf_check.is_build_host_path(i.runpath)
               and elf_check.drop_build_host_runpath(i.path)]
    exes = {bundle / "hwprof", bundle / "hwprofw"}
    targets = [i.path for i in infos if i.path not in exes
               and not any(i.path.with_name(i.path.name + s).exists() for s in (".hmac", ".chk"))]
    before = tree_size(bundle)[0]
    stripped, kept = elf_check.strip_binaries(targets)
    print(f"binaries: {stripped} stripped ({human(before - tree_size(bundle)[0])} saved), "
          f"{len(kept)} left as they were (e.g. {kept[0] if kept else '-'}), {len(dropped)} "
          f"build-host RUNPATHs removed, in {time.monotonic() - t0:.0f} s")
    return sorted(str(p.relative_to(bundle)) for p in (Path(k.split(": ")[0]) for k in kept)
                  if elf_check.has_symbol_table(p))


def check_linux_bundle(bundle: Path) -> elf_check.BundleCheck:
    """The glibc floor and the system libraries of the bundle; fails above the supported floor."""
    t0 = time.monotonic()
    result = elf_check.check_bundle(bundle)
    print(f"glibc floor (readelf -V over {result.files} ELF files, {time.monotonic() - t0:.0f} s):"
          f" {result.floor.summary()}")
    print(f"supported: {elf_check.SUPPORTED_SYSTEMS} (at most GLIBC_"
          f"{elf_check.dotted(elf_check.SUPPORTED_MAX['GLIBC'])}, GLIBCXX_"
          f"{elf_check.dotted(elf_check.SUPPORTED_MAX['GLIBCXX'])})")
    print(f"from the system ({len(result.interface)} libraries): {', '.join(result.interface)}")
    if result.problems:
        raise BuildError("the bundle would not run on the supported systems:\n  "
                         + "\n  ".join(result.problems))
    return result


# -- Linux packages -------------------------------------------------------------------------------

def deb_arch() -> str:
    """Debian's name for this machine's architecture."""
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def maintainer() -> str:
    """The .deb's Maintainer field (see PLACEHOLDER_MAINTAINER); the placeholder is said once."""
    given = os.environ.get("HWPROF_MAINTAINER", "").strip()
    if given:
        return given
    name, email = os.environ.get("DEBFULLNAME", "").strip(), os.environ.get("DEBEMAIL", "").strip()
    if name and email:
        return f"{name} <{email}>"
    if not _said_placeholder:
        _said_placeholder.append(True)
        print(f"note: Maintainer is the placeholder {PLACEHOLDER_MAINTAINER!r}; set "
              "HWPROF_MAINTAINER (or DEBFULLNAME and DEBEMAIL) for a release")
    return PLACEHOLDER_MAINTAINER


_said_placeholder: list[bool] = []


def build_time() -> datetime:
    """When the sources last changed (SOURCE_DATE_EPOCH, else the last commit): reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True,
                             text=True, check=False)
        epoch = out.stdout.strip() or str(int(time.time()))
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def link_tree(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (instant, no second copy of 1.7 GB), links kept as links."""
    try:
        shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    except (OSError, shutil.Error):
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def normalise_modes(root: Path) -> None:
    """Folders 0755; files 0755 when anyone may run them, else 0644; shared libraries 0644.

    What Debian's policy (and lintian) expects: a library is loaded, never run.
    """
    for p in [root, *root.rglob("*")]:
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        library = p.name.endswith(".so") or ".so." in p.name
        want = 0o755 if p.is_dir() or (mode & 0o111 and not library) else 0o644
        if stat.S_IMODE(mode) != want:
            p.chmod(want)


def installed_kib(root: Path) -> int:
    """dpkg's Installed-Size: KiB, each file rounded up, as dpkg-gencontrol counts."""
    return sum(math.ceil(p.lstat().st_size / 1024) for p in root.rglob("*")
               if p.is_file() or p.is_symlink())


def install_desktop_files(dst: Path) -> None:
    """The .desktop entry, the MIME type and the icons, under ``dst`` (a /usr/share layout)."""
    (dst / "applications").mkdir(parents=True, exist_ok=True)
    shutil.copy(LINUX / "hwprof.desktop", dst / "applications" / "hwprof.desktop")
    (dst / "mime" / "packages").mkdir(parents=True, exist_ok=True)
    shutil.copy(LINUX / "hwprof-snapshot.xml", dst / "mime" / "packages" / "hwprof.xml")
    icons = ROOT / "resources" / "icons"
    for n in ICON_SIZES:
        target = dst / "icons" / "hicolor" / f"{n}x{n}" / "apps"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(icons / "hicolor" / f"{n}x{n}" / "apps" / "hwprof.png", target / "hwprof.png")
    scalable = dst / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True, exist_ok=True)
    shutil.copy(icons / "hwprof.svg", scalable / "hwprof.svg")


def components(flavour: Flavour) -> list[dict[str, str]]:
    """The bundle's third-party components (name, version, license), as the spec wrote them."""
    data = json.loads((flavour.build / "notices" / "components.json").read_text())
    return [{k: str(c[k]) for k in ("name", "version", "license")} for c in data]


def copyright_text(flavour: Flavour, ver: str) -> str:
    """/usr/share/doc/<package>/copyright: hwprof's licence and what the bundle contains."""
    notices = f"/{INSTALL_DIR}/_internal/licenses/THIRD-PARTY-NOTICES.txt"
    lines = [
        f"hwprof {ver}, a hardware profiler for deep learning.",
        "",
        f"Copyright {build_time().year} The hwprof authors.",
        "",
        "Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use this",
        "software except in compliance with the License. Unless required by applicable law or",
        "agreed to in writing, software distributed under the License is distributed on an",
        "\"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.",
        "",
        "On Debian systems, the complete text of the Apache License, Version 2.0, can be found in",
        "/usr/share/common-licenses/Apache-2.0.",
        "",
        f"/{INSTALL_DIR} also contains the third-party components below, each under its own",
        f"licence. Their complete licence texts are in {notices}",
        "(generated from the packages' metadata when this package was built), which also says",
        "how to replace the Qt libraries, as the LGPL allows.",
        "",
    ]
    for c in components(flavour):
        lines.append(f"  {c['name']} {c['version']}: {c['license']}")
    return "\n".join(lines) + "\n"


def changelog_gz(package: str, ver: str) -> bytes:
    """A Debian changelog with this release, gzip -9n (no name, no time: reproducible)."""
    text = (f"{package} ({ver}) unstable; urgency=medium\n\n"
            f"  * hwprof {ver}, built from its sources with PyInstaller.\n\n"
            f" -- {maintainer()}  {format_datetime(build_time())}\n")
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def write_md5sums(stage: Path) -> None:
    """DEBIAN/md5sums: every regular file of the package, as dpkg --verify checks it."""
    lines = []
    for p in sorted(stage.rglob("*")):
        rel = p.relative_to(stage)
        if rel.parts[0] == "DEBIAN" or p.is_symlink() or not p.is_file():
            continue
        h = hashlib.md5(usedforsecurity=False)
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        lines.append(f"{h.hexdigest()}  {rel.as_posix()}\n")
    (stage / "DEBIAN" / "md5sums").write_text("".join(lines))


def lintian_overrides(package: str, unstripped: list[str]) -> str:
    """The lintian findings this package cannot fix, each with the reason (shown by lintian)."""
    return (
        "# Libraries auditwheel rewrote with patchelf: strip would corrupt them (their segments\n"
        "# move: \"ELF load command address/offset not page-aligned\"), so they stay as shipped.\n"
        + "".join(f"{package}: unstripped-binary-or-object [{INSTALL_DIR}/{p}]\n"
                  for p in unstripped) +
        "# TensorFlow, grpc, Pillow, matplotlib and Qt's image plugins come as binary wheels that\n"
        "# link their own zlib, libpng, libjpeg, freetype, tiff, curl and jsoncpp in; Python's\n"
        "# pyexpat has its own expat. They cannot use Debian's without rebuilding those wheels.\n"
        f"{package}: embedded-library * [{INSTALL_DIR}/_internal/*]\n"
        "# Extension modules of the bundled Python, loaded into a process that has libc already.\n"
        f"{package}: library-not-linked-against-libc "
        f"[{INSTALL_DIR}/_internal/python3.*/lib-dynload/*]\n"
    )


def control_text(flavour: Flavour, ver: str, depends: list[str], kib: int) -> str:
    """DEBIAN/control."""
    return (
        f"Package: {flavour.package}\n"
        f"Version: {ver}\n"
        "Section: science\n"
        "Priority: optional\n"
        f"Architecture: {deb_arch()}\n"
        f"Maintainer: {maintainer()}\n"
        f"Installed-Size: {kib}\n"
        f"Depends: {', '.join(depends)}\n"
        f"Conflicts: {flavour.other}\n"
        f"Replaces: {flavour.other}\n"
        "Description: hardware profiler for deep learning\n"
        " hwprof lists the CPUs, GPUs and TPU chips of the machine with what matters for\n"
        " deep learning, runs real TensorFlow training and inference workloads, charts\n"
        " live telemetry, compares devices and settings, and saves profile snapshots.\n"
        " .\n"
        + "".join(f" {line}\n" for line in textwrap.wrap(
            f"Devices: {app_meta.LINUX_DEVICES}", 78, break_on_hyphens=False)) +
        " .\n"
        f" This package bundles {flavour.summary}.\n"
        + (" For machines with an NVIDIA GPU; it needs the NVIDIA driver, and uses the\n"
           " system's CUDA libraries (not bundled).\n" if flavour.name == "full" else
           " For laptops and CI machines without an NVIDIA GPU: much smaller than the\n"
           " hwprof package, which runs TensorFlow workloads on NVIDIA GPUs too.\n")
    )


def build_deb(bundle: Path, check: elf_check.BundleCheck, flavour: Flavour, level: int,
              unstripped: list[str]) -> Path:
    """A .deb installing the bundle under /usr/lib/hwprof, with /usr/bin/hwprof."""
    ver = version()
    stage = flavour.build / "deb" / f"{flavour.package}_{ver}_{deb_arch()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "DEBIAN").mkdir(parents=True)
    link_tree(bundle, stage / INSTALL_DIR)
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink("../lib/hwprof/hwprof", stage / "usr" / "bin" / "hwprof")
    share = stage / "usr" / "share"
    install_desktop_files(share)
    doc = share / "doc" / flavour.package
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright_text(flavour, ver))
    (doc / "changelog.gz").write_bytes(changelog_gz(flavour.package, ver))
    overrides = share / "lintian" / "overrides"
    overrides.mkdir(parents=True)
    (overrides / flavour.package).write_text(lintian_overrides(flavour.package, unstripped))
    # Debian's shared-mime-info, desktop-file-utils and the icon cache update themselves through
    # dpkg triggers on these folders: no maintainer scripts needed.
    normalise_modes(stage)
    write_md5sums(stage)
    (stage / "DEBIAN" / "control").write_text(
        control_text(flavour, ver, check.depends, installed_kib(stage)))
    normalise_modes(stage / "DEBIAN")
    OUT.mkdir(parents=True, exist_ok=True)
    deb = OUT / f"{flavour.package}_{ver}_{deb_arch()}.deb"
    t0 = time.monotonic()
    # xz: every dpkg unpacks it (zstd needs dpkg 1.21.18 on Debian); -z6 is xz's default level
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", f"-z{level}", "--build", str(stage),
                    str(deb)], check=True, stdout=subprocess.DEVNULL)
    installed = human(1024 * installed_kib(stage))
    print(f"deb: {deb} ({human(deb.stat().st_size)}; installed {installed}; compressed in "
          f"{time.monotonic() - t0:.0f} s)")
    shutil.rmtree(stage, ignore_errors=True)
    return deb


def run_lintian(deb: Path, mode: str) -> dict[str, int]:
    """lintian's findings by severity; fails the build on an error. Skipped when not installed."""
    if mode == "skip" or (mode == "auto" and shutil.which("lintian") is None):
        print("lintian: not run (install lintian to check the .deb)")
        return {}
    t0 = time.monotonic()
    out = subprocess.run(["lintian", "--no-tag-display-limit", "--info", str(deb)],
                         capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if re.match(r"^[EWIPXCO]: ", ln)]
    counts: dict[str, int] = {}
    for ln in lines:
        counts[ln[0]] = counts.get(ln[0], 0) + 1
    log = BUILD / f"lintian-{deb.stem}.txt"
    log.write_text(out.stdout + out.stderr)
    names = {"E": "errors", "W": "warnings", "I": "info", "P": "pedantic", "X": "experimental",
             "O": "overridden", "C": "classification"}
    print(f"lintian ({time.monotonic() - t0:.0f} s): "
          + (", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(counts.items())) or "clean")
          + f" (full output: {log})")
    errors = [ln for ln in lines if ln.startswith("E: ")]
    if errors:
        raise BuildError("lintian found errors in the .deb:\n  " + "\n  ".join(errors[:20]))
    return counts


def tarball_readme(flavour: Flavour, ver: str, check: elf_check.BundleCheck) -> str:
    """README.txt of the portable archive."""
    glibc = check.floor.get("GLIBC")
    pkgs = sorted({elf_check.SYSTEM_PACKAGES[s].split(" | ")[0] for s in check.interface
                   if s in elf_check.SYSTEM_PACKAGES})
    # a command to copy and paste: continued lines end in a backslash
    apt_line = " \\\n".join(textwrap.wrap("sudo apt-get install " + " ".join(pkgs), width=92,
                                           initial_indent="    ", subsequent_indent="        ",
                                           break_on_hyphens=False))
    return f"""hwprof {ver} for Linux ({platform.machine()}), portable archive
{'=' * 60}

hwprof is a hardware profiler for deep learning: it shows the CPUs, GPUs and TPU chips of this
machine, runs real TensorFlow workloads on them, charts live telemetry, compares devices and
saves snapshots. This archive bundles {flavour.summary}.

Devices: {app_meta.LINUX_DEVICES}

Run it from here, nothing to install:

    ./hwprof                 the window
    ./hwprof --help          the commands (detect, monitor, run, compare, sweep, report, ...)

Add it to your applications menu (for you only; no root needed):

    ./install.sh             menu entry, icon, the snapshot file type (*.hwprof, *.hwprof.json,
                             *.hwprof.json.gz open in hwprof by double-click), and the `hwprof`
                             command in ~/.local/bin
    ./install.sh --uninstall removes all of that again (your snapshots stay)

The entry points at this folder: move the folder and run ./install.sh again.

What it needs from the system: glibc {elf_check.dotted(glibc) if glibc else '?'} or newer
(Ubuntu 22.04, Debian 12 and newer) and these libraries, present on any desktop; ./install.sh
says which are missing. On Debian and Ubuntu:

{apt_line}

On Debian and Ubuntu the .deb package installs the same app with all of this done for you.

Licences: hwprof is under the Apache License 2.0 (_internal/licenses/LICENSE.txt); the
third-party components it contains, with their licences, are in
_internal/licenses/THIRD-PARTY-NOTICES.txt (also shown in the window: Help > About).
"""


def build_tarball(bundle: Path, check: elf_check.BundleCheck, flavour: Flavour, level: int
                  ) -> Path:
    """A portable .tar.xz: the bundle, README, .desktop entry, icons and install.sh."""
    ver = version()
    top = f"{flavour.package}-{ver}"
    stage_parent = flavour.build / "tar"
    shutil.rmtree(stage_parent, ignore_errors=True)
    stage = stage_parent / top
    link_tree(bundle, stage)
    (stage / "README.txt").write_text(tarball_readme(flavour, ver, check))
    shutil.copy(LINUX / "install.sh", stage / "install.sh")
    shutil.copy(LINUX / "hwprof.desktop", stage / "hwprof.desktop")
    shutil.copy(LINUX / "hwprof-snapshot.xml", stage / "hwprof-snapshot.xml")
    share = stage_parent / "share"
    install_desktop_files(share)
    shutil.copytree(share / "icons", stage / "icons")
    glibc = check.floor.get("GLIBC")
    (stage / "system-libraries.txt").write_text(
        f"# what this build needs from the system (packaging/elf_check.py); install.sh reads it\n"
        f"glibc {elf_check.dotted(glibc) if glibc else '0'}\n"
        + "".join(f"{s} {elf_check.SYSTEM_PACKAGES.get(s, '?').split(' | ')[0]}\n"
                  for s in check.interface))
    normalise_modes(stage)
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"{top}-linux-{platform.machine()}.tar.xz"
    t0 = time.monotonic()
    mtime = f"@{int(build_time().timestamp())}"
    with out.open("wb") as fh:
        tar = subprocess.Popen(["tar", "--sort=name", "--owner=0", "--group=0", "--numeric-owner",
                                f"--mtime={mtime}", "-C", str(stage_parent), "-cf", "-", top],
                               stdout=subprocess.PIPE)
        xz = subprocess.run(["xz", "-T0", f"-{level}", "-c"], stdin=tar.stdout, stdout=fh,
                            check=False)
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or xz.returncode != 0:
            raise BuildError(f"tar | xz failed making {out}")
    size, _ = tree_size(stage)
    print(f"tar.xz: {out} ({human(out.stat().st_size)}; unpacked {human(size)}; compressed in "
          f"{time.monotonic() - t0:.0f} s)")
    shutil.rmtree(stage_parent, ignore_errors=True)
    return out


# -- Windows and macOS ----------------------------------------------------------------------------

def build_windows(bundle: Path, flavour: Flavour) -> None:
    """Inno Setup installer; signed when HWPROF_SIGNTOOL names a signing command."""
    iscc = shutil.which("ISCC") or shutil.which("iscc")
    if not iscc:
        raise BuildError("ISCC.exe (Inno Setup 6) is not on PATH: see packaging/README.md")
    cmd = [iscc, f"/DAppVersion={version()}", f"/DBundleDir={bundle}",
           f"/DIconFile={flavour.build / 'icons' / 'hwprof.ico'}", f"/O{OUT}"]
    # e.g. HWPROF_SIGNTOOL='signtool sign /fd sha256 /tr http://timestamp.digicert.com /td sha256
    #   /f C:\cert.pfx /p PASSWORD $f' ($f is the file Inno Setup signs)
    sign = os.environ.get("HWPROF_SIGNTOOL")
    if sign:
        cmd += [f"/Shwprofsign={sign}", "/DSign"]
    subprocess.run([*cmd, str(HERE / "windows" / "hwprof.iss")], check=True)


def build_macos(flavour: Flavour) -> None:
    """hwprof.app (the spec's BUNDLE step) in a .dmg; signed and notarized when asked."""
    app = flavour.build / "dist" / "hwprof.app"
    identity = os.environ.get("HWPROF_CODESIGN_IDENTITY")
    if identity:
        # PyInstaller signed each binary; seal the whole .app with the hardened runtime
        subprocess.run(["codesign", "--force", "--deep", "--options", "runtime", "--timestamp",
                        "--entitlements", str(HERE / "macos" / "entitlements.plist"),
                        "--sign", identity, str(app)], check=True)
        subprocess.run(["codesign", "--verify", "--deep", "--strict", str(app)], check=True)
    OUT.mkdir(parents=True, exist_ok=True)
    stage = flavour.build / "dmg"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    subprocess.run(["ditto", str(app), str(stage / "hwprof.app")], check=True)
    os.symlink("/Applications", stage / "Applications")  # drag the app onto it to install
    dmg = OUT / f"hwprof-{version()}-macos-{platform.machine()}.dmg"
    subprocess.run(["hdiutil", "create", "-volname", "hwprof", "-srcfolder", str(stage), "-ov",
                    "-format", "UDZO", str(dmg)], check=True)
    if identity:
        subprocess.run(["codesign", "--force", "--timestamp", "--sign", identity, str(dmg)],
                       check=True)
    # a keychain profile made once with `xcrun notarytool store-credentials`
    profile = os.environ.get("HWPROF_NOTARY_PROFILE")
    if profile:
        subprocess.run(["xcrun", "notarytool", "submit", str(dmg), "--keychain-profile", profile,
                        "--wait"], check=True)
        subprocess.run(["xcrun", "stapler", "staple", str(dmg)], check=True)
    print(f"dmg: {dmg} ({human(dmg.stat().st_size)})")


# -- main -----------------------------------------------------------------------------------------

def main() -> int:
    """Build for this OS."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--flavour", choices=sorted(FLAVOURS), default="full",
                    help="Linux: full (tensorflow, GPU-capable) or cpu (tensorflow-cpu, smaller)")
    ap.add_argument("--bundle-only", action="store_true", help="stop after the one-folder bundle")
    ap.add_argument("--reuse-bundle", action="store_true",
                    help="package the existing bundle without rebuilding it")
    ap.add_argument("--lintian", choices=("auto", "require", "skip"), default="auto",
                    help="check the .deb with lintian: when installed (auto), always, or never")
    ap.add_argument("--xz-level", type=int, default=6, choices=range(0, 10), metavar="0-9",
                    help="xz level of the .deb and the archive (default 6)")
    ap.add_argument("--no-install", action="store_true",
                    help="never pip-install the packaging extra, fail instead")
    args = ap.parse_args()
    flavour = FLAVOURS[args.flavour]
    t_start = time.monotonic()
    try:
        preflight(args)
        if flavour.name == "cpu" and not sys.platform.startswith("linux"):
            raise BuildError("--flavour cpu is for Linux (tensorflow-cpu)")
        bundle = flavour.build / "dist" / "hwprof"
        if not (args.reuse_bundle and bundle.exists()):
            python = cpu_environment(flavour) if flavour.name == "cpu" else sys.executable
            ensure_pyinstaller(python, not args.no_install)
            bundle = build_bundle(python, flavour)
        check_pruned(bundle)
        report: dict[str, object] = {"flavour": flavour.name}
        if sys.platform.startswith("linux"):
            unstripped = prepare_linux_bundle(bundle)
            check = check_linux_bundle(bundle)
            report["bundle_bytes"] = tree_size(bundle)[0]
            report |= {"floor": check.floor.summary(), "depends": check.depends}
            if args.bundle_only:
                return 0
            deb = build_deb(bundle, check, flavour, args.xz_level, unstripped)
            report["lintian"] = run_lintian(deb, args.lintian)
            tarball = build_tarball(bundle, check, flavour, args.xz_level)
            report |= {"deb": str(deb), "deb_bytes": deb.stat().st_size,
                       "tarball": str(tarball), "tarball_bytes": tarball.stat().st_size}
        elif args.bundle_only:
            return 0
        elif sys.platform == "win32":
            build_windows(bundle, flavour)
        elif sys.platform == "darwin":
            build_macos(flavour)
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"build failed: {' '.join(map(str, err.cmd[:3]))} ... exited with {err.returncode}",
              file=sys.stderr)
        return 1
    report["seconds"] = round(time.monotonic() - t_start)
    (flavour.build / "build-report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"artefacts in {OUT} (built in {report['seconds']} s):")
    for p in sorted(OUT.iterdir()) if OUT.exists() else []:
        print(f"  {p}  {human(p.stat().st_size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
