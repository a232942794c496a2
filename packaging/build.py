"""Build hwprof's installer for this operating system; print the artefacts with their sizes.

    .venv/bin/python packaging/build.py            # bundle + the installers of this OS
    .venv/bin/python packaging/build.py --bundle-only

Linux: the one-folder bundle (PyInstaller), a .deb (dpkg-deb) installing under /opt/hwprof
with /usr/bin/hwprof, a .desktop entry, hicolor icons and a MIME type for snapshots, and a
portable .tar.gz. Windows: the bundle and an Inno Setup installer (needs ISCC.exe on PATH).
macOS: hwprof.app and a .dmg (hdiutil). Everything lands in build/installer/.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
DIST = BUILD / "dist"
OUT = BUILD / "installer"
ICON_SIZES = (16, 32, 48, 64, 128, 256)

# Keras' other back ends, test suites and headers: never imported by hwprof, large, and pulled in by
# PyInstaller's TensorFlow hooks when present. Removed from the bundle after the build.
PRUNE_GLOBS = (
    "_internal/tensorflow/include",
    "_internal/tensorflow/**/tests",
    "_internal/keras/src/backend/torch",
    "_internal/keras/src/backend/jax",
    "_internal/keras/src/backend/openvino",
    "_internal/PySide6/Qt/translations",
    "_internal/PySide6/Qt/plugins/sqldrivers",
    "_internal/PySide6/Qt/plugins/multimedia",
    "_internal/PySide6/Qt/plugins/designer",
    "_internal/PySide6/Qt/plugins/qmltooling",
    "_internal/PySide6/Qt/qml",
    "_internal/PySide6/include",
    "_internal/PySide6/typesystems",
    "_internal/PySide6/glue",
)


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
    """(bytes, files) of a folder."""
    total = files = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
            files += 1
    return total, files


def build_bundle() -> Path:
    """PyInstaller one-folder bundle in build/dist/hwprof."""
    t0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "PyInstaller", str(ROOT / "packaging" / "hwprof.spec"),
         "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller")],
        check=True, cwd=ROOT,
    )
    bundle = DIST / "hwprof"
    for pattern in PRUNE_GLOBS:
        for p in bundle.glob(pattern):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    size, files = tree_size(bundle)
    print(f"bundle: {bundle} ({human(size)} in {files} files, built in "
          f"{time.monotonic() - t0:.0f} s)")
    return bundle


def deb_arch() -> str:
    """Debian's name for this machine's architecture."""
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


# what Qt's xcb platform plugin and the bundle's libraries need from the system
DEPENDS = ", ".join((
    "libc6 (>= 2.28)", "libegl1", "libgl1", "libfontconfig1", "libxkbcommon0",
    "libxkbcommon-x11-0", "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
    "libxcb-render-util0", "libxcb-xkb1", "libdbus-1-3",
))


def build_deb(bundle: Path) -> Path:
    """A .deb that installs the bundle under /opt/hwprof."""
    ver = version()
    stage = BUILD / "deb" / f"hwprof_{ver}_{deb_arch()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / "DEBIAN").mkdir(parents=True)
    shutil.copytree(bundle, stage / "opt" / "hwprof", symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink("/opt/hwprof/hwprof", stage / "usr" / "bin" / "hwprof")
    apps = stage / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "hwprof.desktop", apps / "hwprof.desktop")
    mime = stage / "usr" / "share" / "mime" / "packages"
    mime.mkdir(parents=True)
    shutil.copy(ROOT / "packaging" / "linux" / "hwprof-snapshot.xml", mime / "hwprof.xml")
    icons = ROOT / "resources" / "icons"
    for n in ICON_SIZES:
        src = icons / "hicolor" / f"{n}x{n}" / "apps" / "hwprof.png"
        if src.exists():
            dst = stage / "usr" / "share" / "icons" / "hicolor" / f"{n}x{n}" / "apps"
            dst.mkdir(parents=True)
            shutil.copy(src, dst / "hwprof.png")
    if (icons / "hwprof.svg").exists():
        dst = stage / "usr" / "share" / "icons" / "hicolor" / "scalable" / "apps"
        dst.mkdir(parents=True)
        shutil.copy(icons / "hwprof.svg", dst / "hwprof.svg")
    installed_kb = tree_size(stage)[0] // 1024
    (stage / "DEBIAN" / "control").write_text(
        f"""Package: hwprof
Version: {ver}
Section: devel
Priority: optional
Architecture: {deb_arch()}
Maintainer: hwprof developers <hwprof@localhost>
Installed-Size: {installed_kb}
Depends: {DEPENDS}
Description: hardware profiler for deep learning
 hwprof lists the CPUs and NVIDIA GPUs of the machine with what matters for deep
 learning, runs real TensorFlow training and inference workloads, charts live
 telemetry, compares devices and settings, and saves profile snapshots.
 NVIDIA GPUs need the NVIDIA driver; TensorFlow's CUDA libraries are not bundled.
"""
    )
    share = "/usr/share"
    hook = f"""#!/bin/sh
set -e
command -v update-desktop-database >/dev/null && update-desktop-database -q {share}/applications \
  || true
command -v update-mime-database >/dev/null && update-mime-database {share}/mime || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t {share}/icons/hicolor \
  || true
exit 0
"""
    for name in ("postinst", "postrm"):
        p = stage / "DEBIAN" / name
        p.write_text(hook)
        p.chmod(0o755)
    OUT.mkdir(parents=True, exist_ok=True)
    deb = OUT / f"hwprof_{ver}_{deb_arch()}.deb"
    t0 = time.monotonic()
    # zstd level 9: about as small as xz's default on this bundle at a fraction of its time.
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zzstd", "-z9", "--build", str(stage),
                    str(deb)], check=True, stdout=subprocess.DEVNULL)
    print(f"deb: {deb} ({human(deb.stat().st_size)}, compressed in {time.monotonic() - t0:.0f} s)")
    shutil.rmtree(stage, ignore_errors=True)
    return deb


def build_tarball(bundle: Path) -> Path:
    """A portable .tar.gz of the bundle for other distributions."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / f"hwprof-{version()}-linux-{platform.machine()}.tar.gz"
    t0 = time.monotonic()
    with tarfile.open(out, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=f"hwprof-{version()}")
    print(f"tar.gz: {out} ({human(out.stat().st_size)}, in {time.monotonic() - t0:.0f} s)")
    return out


def build_windows(bundle: Path) -> None:
    """Inno Setup installer (run on Windows with ISCC.exe on PATH)."""
    iscc = shutil.which("ISCC") or shutil.which("iscc")
    if not iscc:
        sys.exit("ISCC.exe (Inno Setup 6) is not on PATH: see packaging/README.md")
    subprocess.run([iscc, f"/DAppVersion={version()}", f"/DBundleDir={bundle}", f"/O{OUT}",
                    str(ROOT / "packaging" / "windows" / "hwprof.iss")], check=True)


def build_macos() -> None:
    """hwprof.app (made by the spec's BUNDLE step) in a .dmg."""
    app = DIST / "hwprof.app"
    OUT.mkdir(parents=True, exist_ok=True)
    dmg = OUT / f"hwprof-{version()}-macos-{platform.machine()}.dmg"
    subprocess.run(["hdiutil", "create", "-volname", "hwprof", "-srcfolder", str(app), "-ov",
                    "-format", "UDZO", str(dmg)], check=True)
    print(f"dmg: {dmg} ({human(dmg.stat().st_size)})")


def main() -> int:
    """Build for this OS."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bundle-only", action="store_true", help="stop after the one-folder bundle")
    ap.add_argument("--reuse-bundle", action="store_true",
                    help="package the existing build/dist/hwprof without rebuilding it")
    args = ap.parse_args()
    bundle = DIST / "hwprof"
    if not (args.reuse_bundle and bundle.exists()):
        bundle = build_bundle()
    if args.bundle_only:
        return 0
    if sys.platform.startswith("linux"):
        build_deb(bundle)
        build_tarball(bundle)
    elif sys.platform == "win32":
        build_windows(bundle)
    elif sys.platform == "darwin":
        build_macos()
    print(f"artefacts in {OUT}:")
    for p in sorted(OUT.iterdir()) if OUT.exists() else []:
        print(f"  {p}  {human(p.stat().st_size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
