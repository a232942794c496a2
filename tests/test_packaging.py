"""The installers' checks that run in seconds: glibc floor, notices, recipes, icons, file type.

The full build and the end-to-end smoke test (packaging/build.py, packaging/smoke_test.sh) take
minutes and stay outside the default run; these test the pieces they are made of.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import plistlib
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux packaging")
needs_readelf = pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf (binutils)")


def load(name: str) -> ModuleType:
    """A module of packaging/ (not a package: the scripts import each other by file name)."""
    if str(PACKAGING) not in sys.path:
        sys.path.insert(0, str(PACKAGING))
    key = f"hwprof_packaging_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, PACKAGING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


# -- the glibc floor (packaging/elf_check.py) ----------------------------------------------------

READELF_SSL = """
Dynamic section at offset 0x2cd30 contains 27 entries:
  Tag        Type                         Name/Value
 0x0000000000000001 (NEEDED)             Shared library: [libssl.so.3]
 0x0000000000000001 (NEEDED)             Shared library: [libcrypto.so.3]
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000001d (RUNPATH)            Library runpath: [/root/.pyenv/versions/3.11.7/lib]

Version symbols section '.gnu.version' contains 336 entries:
 Addr: 0x0000000000003b1e  Offset: 0x00003b1e  Link: 3 (.dynsym)
  000:   0 (*local*)       2 (OPENSSL_3.0.0)   2 (OPENSSL_3.0.0)   2 (OPENSSL_3.0.0)
  008:   4 (GLIBC_2.2.5)   3 (OPENSSL_3.0.0)   1 (*global*)      1 (*global*)

Version needs section '.gnu.version_r' contains 3 entries:
 Addr: 0x0000000000003dc0  Offset: 0x00003dc0  Link: 4 (.dynstr)
  000000: Version: 1  File: libc.so.6  Cnt: 2
  0x0010:   Name: GLIBC_2.14  Flags: none  Version: 5
  0x0020:   Name: GLIBC_2.2.5  Flags: none  Version: 4
  0x0030: Version: 1  File: libcrypto.so.3  Cnt: 1
  0x0040:   Name: OPENSSL_3.0.0  Flags: none  Version: 3
  0x0050: Version: 1  File: libssl.so.3  Cnt: 1
  0x0060:   Name: OPENSSL_3.0.0  Flags: none  Version: 2
"""


def test_readelf_output_is_parsed_into_needed_libraries_and_version_needs() -> None:
    ec = load("elf_check")
    assert ec.parse_needed(READELF_SSL) == ("libssl.so.3", "libcrypto.so.3", "libc.so.6")
    needs = ec.parse_version_needs(READELF_SSL)
    assert needs == {"libc.so.6": {"GLIBC_2.14", "GLIBC_2.2.5"},
                     "libcrypto.so.3": {"OPENSSL_3.0.0"}, "libssl.so.3": {"OPENSSL_3.0.0"}}
    # the .gnu.version table above the needs section names versions too: never read as needs
    assert ec.parse_version_needs(READELF_SSL.split("Version needs")[0]) == {}


def test_the_floor_is_the_highest_version_per_family_and_says_which_file() -> None:
    ec = load("elf_check")
    a = ec.ElfInfo(Path("a.so"), ("libc.so.6",), {"libc.so.6": frozenset({"GLIBC_2.2.5",
                                                                            "GLIBC_2.34"})})
    b = ec.ElfInfo(Path("b.so"), ("libstdc++.so.6",),
                   {"libstdc++.so.6": frozenset({"GLIBCXX_3.4.29", "CXXABI_1.3.9"}),
                    "libc.so.6": frozenset({"GLIBC_2.36"})})
    floor = ec.floor_of([a, b])
    assert floor.get("GLIBC") == (2, 36)
    assert floor.versions["GLIBC"][1] == Path("b.so")
    assert floor.get("GLIBCXX") == (3, 4, 29)
    problems = floor.problems()
    assert len(problems) == 1  # GLIBC_2.36 > 2.35 (Ubuntu 22.04); the rest is within
    assert "b.so needs GLIBC_2.36, above the supported GLIBC_2.35" in problems[0]
    assert ec.floor_of([a]).problems() == []
    assert ec.split_version("GLIBC_2.2.5") == ("GLIBC", (2, 2, 5))
    assert ec.split_version("OPENSSL_3.0.0") == ("OPENSSL", (3, 0, 0))
    assert ec.split_version("Qt_6_PRIVATE_API") is None


def test_depends_carry_the_floor_reached_and_one_entry_per_package() -> None:
    ec = load("elf_check")
    floor = ec.Floor()
    floor.add("GLIBC", (2, 35), Path("libpython3.11.so.1.0"))
    floor.add("GLIBCXX", (3, 4, 29), Path("libQt6Core.so.6"))
    depends = ec.debian_depends(["libc.so.6", "libm.so.6", "libstdc++.so.6", "libssl.so.3",
                                 "libcrypto.so.3", "libxcb.so.1"], floor)
    assert depends == ["libc6 (>= 2.35)", "libssl3 | libssl3t64", "libstdc++6 (>= 11)",
                       "libxcb1"]


def test_only_the_build_hosts_system_libraries_are_left_out() -> None:
    ec = load("elf_check")
    assert ec.is_system_library("/lib/x86_64-linux-gnu/libstdc++.so.6")
    assert ec.is_system_library("/usr/lib/x86_64-linux-gnu/libxcb-cursor.so.0")
    # a system Python's libpython must travel with the app; a wheel's libraries are not system's
    assert not ec.is_system_library("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0")
    assert not ec.is_system_library("/work/.venv/lib/python3.11/site-packages/numpy.libs/x.so")
    assert not ec.is_system_library("/usr/local/lib/libfoo.so.1")


def _patched_elf(tmp_path: Path, old: bytes, new: bytes) -> Path:
    """A copy of /bin/true whose NEEDED entry ``old`` is renamed ``new`` (same length)."""
    assert len(old) == len(new)
    data = Path("/bin/true").read_bytes()
    assert old in data
    out = tmp_path / "bundle" / "prog"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data.replace(old, new))
    out.chmod(0o755)
    return out


@linux_only
@needs_readelf
def test_a_real_elf_is_checked_with_readelf(tmp_path: Path) -> None:
    ec = load("elf_check")
    prog = tmp_path / "bundle" / "prog"
    prog.parent.mkdir()
    shutil.copy("/bin/true", prog)
    (prog.parent / "notes.txt").write_text("not an ELF file")
    result = ec.check_bundle(prog.parent)
    assert result.files == 1
    assert "libc.so.6" in result.interface
    glibc = result.floor.get("GLIBC")
    assert glibc is not None and glibc >= (2, 2)
    assert result.depends[0] == f"libc6 (>= {ec.dotted(glibc)})"
    # the same file against a floor it exceeds fails, naming the file and the version
    strict = ec.check_bundle(prog.parent, supported={"GLIBC": (2, 0)})
    assert any(f"prog needs GLIBC_{ec.dotted(glibc)}" in p for p in strict.problems)


@linux_only
@needs_readelf
def test_a_library_from_the_system_with_no_package_fails_the_check(tmp_path: Path) -> None:
    ec = load("elf_check")
    prog = _patched_elf(tmp_path, b"libc.so.6", b"libq.so.6")
    result = ec.check_bundle(prog.parent)
    assert list(result.interface) == ["libq.so.6"]
    assert any(p.startswith("libq.so.6 (needed by prog)") and "SYSTEM_PACKAGES" in p
               for p in result.problems)
    # a library the bundle carries is not taken from the system
    (prog.parent / "libq.so.6").write_bytes(b"")
    assert ec.check_bundle(prog.parent).problems == []


def test_readelf_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    ec = load("elf_check")
    monkeypatch.setattr(ec.shutil, "which", lambda _name: None)
    with pytest.raises(ec.ElfCheckError, match="install binutils"):
        ec.readelf()


# -- what goes into the bundle (packaging/bundle_policy.py) --------------------------------------

def test_pruning_applies_to_collected_files_before_any_target_is_made() -> None:
    bp = load("bundle_policy")
    for dest in ("tensorflow/include/absl/base.h", "tensorflow/python/kernel_tests/x/tests/a.py",
                 "keras/src/backend/jax/core.py", "PySide6/Qt/translations/qt_de.qm",
                 "PySide6/translations/qt_de.qm",  # Windows wheels have no Qt/ level
                 "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                 "PySide6/Qt/plugins/egldeviceintegrations/libqeglfs-kms-integration.so",
                 "libQt6EglFSDeviceIntegration.so.6"):
        assert bp.pruned(dest), dest
    for dest in ("tensorflow/libtensorflow_cc.so.2", "PySide6/Qt/plugins/platforms/libqxcb.so",
                 "PySide6/Qt/plugins/platforms/libqwayland.so",
                 "PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so",
                 "PySide6/Qt/lib/libQt6Core.so.6", "resources/icons/hwprof.svg"):
        assert not bp.pruned(dest), dest
    toc = [("libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "BINARY"),
           ("libpython3.11.so.1.0", "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", "BINARY"),
           ("PySide6/Qt/lib/libQt6Core.so.6", "/venv/PySide6/Qt/lib/libQt6Core.so.6", "BINARY"),
           ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/venv/x/libqgtk3.so", "BINARY")]
    kept, dropped = bp.filter_binaries(toc, platform="linux")
    assert [e[0] for e in kept] == ["libpython3.11.so.1.0", "PySide6/Qt/lib/libQt6Core.so.6"]
    assert len(dropped) == 2
    # elsewhere a system folder means nothing: only the pruning applies
    kept_mac, _ = bp.filter_binaries(toc, platform="darwin")
    assert len(kept_mac) == 3


def test_the_spec_prunes_the_collected_lists_and_makes_a_windowed_app_on_macos() -> None:
    spec = (PACKAGING / "hwprof.spec").read_text()
    assert "bundle_policy.filter_binaries(a.binaries)" in spec
    assert "bundle_policy.filter_datas(a.datas)" in spec
    assert 'console=sys.platform != "darwin"' in spec  # console=True means LSBackgroundOnly
    assert "info_plist=app_meta.info_plist(VERSION)" in spec
    assert "version=VERSION" in spec
    assert "notices.write_notices(" in spec
    for name in ("LICENSE", "NOTICE"):  # Apache-2.0 section 4: both travel with the app
        assert f'str(ROOT / "{name}")' in spec and (ROOT / name).is_file()


# -- licences (packaging/notices.py) -------------------------------------------------------------

def _files_of(dist_name: str) -> list[Path]:
    from importlib import metadata

    dist = metadata.distribution(dist_name)
    return [Path(str(dist.locate_file(f))) for f in dist.files or []
            if not f.parts[0].endswith(".dist-info")]


def test_notices_are_generated_from_the_metadata_of_exactly_the_bundled_packages(
        tmp_path: Path) -> None:
    notices = load("notices")
    sources = (_files_of("pydantic")[:3] + _files_of("PySide6-Essentials")[:3]
               + _files_of("nvidia-ml-py"))
    result = notices.write_notices(tmp_path, sources, "9.9.9")
    names = [c.name for c in result.components]
    assert names[0] == "Python"
    assert {"pydantic", "nvidia-ml-py"} <= {notices.canonical(n) for n in names}
    assert "pytest" not in {notices.canonical(n) for n in names}  # installed, but not bundled
    assert result.missing() == []
    text = (tmp_path / notices.NOTICES_NAME).read_text()
    assert text.startswith("hwprof 9.9.9: third-party notices")
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in text.upper()
    pyside = next(c for c in result.components if notices.canonical(c.name) ==
                  "pyside6-essentials")
    # the wheel ships no licence file: the LGPL-3.0 and the GPL-3.0 it builds on are added
    assert [label for label, _ in pyside.texts] == ["LGPL-3.0 (standard text)",
                                                    "GPL-3.0 (standard text)"]
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text
    assert "Replacing the Qt libraries" in text and "libQt6*.so.6" in text
    nvml = next(c for c in result.components if notices.canonical(c.name) == "nvidia-ml-py")
    assert "NVIDIA Corporation" in nvml.texts[0][1]  # its licence is its module's header
    comps = (tmp_path / notices.COMPONENTS_NAME).read_text()
    assert '"name": "pydantic"' in comps


def test_identical_licence_texts_are_printed_once() -> None:
    notices = load("notices")
    same = ("LICENSE", "Permission is hereby granted, free of charge ...")
    comps = notices.Notices([notices.Component("a", "1", "MIT", texts=(same,)),
                             notices.Component("b", "2", "MIT", texts=(same,))])
    text = notices.render(comps, "0")
    assert text.count("Permission is hereby granted") == 1
    assert "(the same text as LICENSE of a 1 above)" in text


def test_a_repository_licence_file_exists_and_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text


# -- the .deb (packaging/build.py) ---------------------------------------------------------------

def test_the_debs_control_copyright_changelog_and_md5sums(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    build = load("build")
    monkeypatch.setenv("HWPROF_MAINTAINER", "Jane Doe <jane@example.org>")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795939200")
    flavour = build.Flavour("full", "hwprof", "tensorflow", tmp_path, "TensorFlow")
    control = build.control_text(flavour, "1.2.3", ["libc6 (>= 2.35)", "libxcb1"], 1234)
    assert "Maintainer: Jane Doe <jane@example.org>\n" in control
    assert "Depends: libc6 (>= 2.35), libxcb1\n" in control
    assert "Conflicts: hwprof-cpu\n" in control and "Installed-Size: 1234\n" in control
    # the package states the devices it supports (a Debian description: lines start with a space)
    devices = " ".join(line.strip() for line in control.splitlines() if line.startswith(" "))
    for words in ("NVIDIA GPUs (NVML)", "AMD GPUs (amdgpu, workloads with tensorflow-rocm)",
                  "intel-extension-for-tensorflow", "TPU chips", "TensorFlow Lite"):
        assert words in devices
    assert all(len(line) <= 80 for line in control.splitlines())
    text = gzip.decompress(build.changelog_gz("hwprof", "1.2.3")).decode()
    assert re.match(r"hwprof \(1\.2\.3\) unstable; urgency=medium\n\n  \* .+\n\n -- Jane Doe "
                    r"<jane@example.org>  \w{3}, \d\d \w{3} 2026 \d\d:\d\d:\d\d \+0000\n$", text)
    # gzip -9n: no name, no time, so the same sources make the same bytes
    assert build.changelog_gz("hwprof", "1.2.3") == build.changelog_gz("hwprof", "1.2.3")
    (tmp_path / "notices").mkdir()
    (tmp_path / "notices" / "components.json").write_text(
        '[{"name": "Python", "version": "3.11.7", "license": "PSF-2.0", "homepage": ""}]')
    copyright_ = build.copyright_text(flavour, "1.2.3")
    assert "/usr/share/common-licenses/Apache-2.0" in copyright_
    assert "  Python 3.11.7: PSF-2.0" in copyright_
    stage = tmp_path / "stage"
    (stage / "DEBIAN").mkdir(parents=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    (stage / "usr" / "lib").mkdir()
    (stage / "usr" / "lib" / "a.txt").write_text("a")
    os.symlink("../lib/a.txt", stage / "usr" / "bin" / "a")
    build.write_md5sums(stage)
    assert (stage / "DEBIAN" / "md5sums").read_text() == \
        "0cc175b9c0f1b6a831c399e269772661  usr/lib/a.txt\n"


def test_the_maintainer_falls_back_to_debians_variables_then_a_named_placeholder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    build = load("build")
    monkeypatch.delenv("HWPROF_MAINTAINER", raising=False)
    monkeypatch.setenv("DEBFULLNAME", "Jo Bloggs")
    monkeypatch.setenv("DEBEMAIL", "jo@example.net")
    assert build.maintainer() == "Jo Bloggs <jo@example.net>"
    monkeypatch.delenv("DEBEMAIL")
    assert build.maintainer() == build.PLACEHOLDER_MAINTAINER
    assert re.fullmatch(r"[^<>]+ <[^@\s]+@[a-z0-9.-]+\.[a-z]+>", build.PLACEHOLDER_MAINTAINER)


def test_a_missing_build_tool_is_named_with_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    build = load("build")
    monkeypatch.setattr(build.shutil, "which", lambda name: None if name == "readelf" else name)
    assert build.missing_tools(build.LINUX_TOOLS) == [
        "  readelf: checks the glibc floor; install it with `sudo apt-get install binutils`"]


def test_the_desktop_entry_and_mime_type_agree_on_the_snapshot_type() -> None:
    meta = load("app_meta")
    xml = (PACKAGING / "linux" / "hwprof-snapshot.xml").read_text()
    assert f'type="{meta.SNAPSHOT_MIME}"' in xml
    assert tuple(re.findall(r'<glob pattern="([^"]+)"/>', xml)) == meta.SNAPSHOT_GLOBS
    desktop = (PACKAGING / "linux" / "hwprof.desktop").read_text()
    assert f"MimeType={meta.SNAPSHOT_MIME};" in desktop and "Exec=hwprof %F" in desktop
    if shutil.which("desktop-file-validate"):
        out = subprocess.run(["desktop-file-validate", str(PACKAGING / "linux" / "hwprof.desktop")],
                             capture_output=True, text=True, check=False)
        assert out.returncode == 0 and not out.stdout.strip(), out.stdout


@linux_only
def test_the_archives_install_script_adds_and_removes_a_menu_entry(tmp_path: Path) -> None:
    top = tmp_path / "hwprof 1.0"  # a space in the path: the entry must quote it
    top.mkdir()
    fake = top / "hwprof"
    fake.write_text("#!/bin/sh\necho hwprof 1.0\n")
    fake.chmod(0o755)
    for name in ("install.sh", "hwprof.desktop", "hwprof-snapshot.xml"):
        shutil.copy(PACKAGING / "linux" / name, top / name)
    shutil.copytree(ROOT / "resources" / "icons" / "hicolor", top / "icons" / "hicolor")
    (top / "icons" / "hicolor" / "scalable" / "apps").mkdir(parents=True)
    shutil.copy(ROOT / "resources" / "icons" / "hwprof.svg",
                top / "icons" / "hicolor" / "scalable" / "apps" / "hwprof.svg")
    (top / "system-libraries.txt").write_text("glibc 2.17\nlibc.so.6 libc6\n")
    home = tmp_path / "home"
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    out = subprocess.run(["sh", str(top / "install.sh")], env=env, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    entry = home / ".local" / "share" / "applications" / "hwprof.desktop"
    assert f'Exec="{fake}" %F' in entry.read_text()
    assert (home / ".local" / "share" / "mime" / "packages" / "hwprof.xml").is_file()
    assert (home / ".local" / "share" / "icons" / "hicolor" / "48x48" / "apps" /
            "hwprof.png").is_file()
    link = home / ".local" / "bin" / "hwprof"
    assert subprocess.run([str(link)], capture_output=True, text=True,
                          check=True).stdout == "hwprof 1.0\n"
    out = subprocess.run(["sh", str(top / "install.sh"), "--uninstall"], env=env,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert not entry.exists() and not link.is_symlink()


# -- macOS and Windows recipes (checked here as text: neither can be built on Linux) --------------

def test_the_info_plist_makes_a_dock_app_that_owns_the_snapshot_type() -> None:
    meta = load("app_meta")
    plist = meta.info_plist("1.2.3")
    plistlib.dumps(plist)  # every value is one Info.plist can hold
    assert plist["LSBackgroundOnly"] is False
    assert plist["CFBundleShortVersionString"] == plist["CFBundleVersion"] == "1.2.3"
    owner = plist["CFBundleDocumentTypes"][0]
    assert owner["LSItemContentTypes"] == [meta.SNAPSHOT_UTI] and owner["LSHandlerRank"] == "Owner"
    exported = plist["UTExportedTypeDeclarations"][0]
    assert exported["UTTypeIdentifier"] == meta.SNAPSHOT_UTI
    assert exported["UTTypeTagSpecification"]["public.filename-extension"] == ["hwprof"]
    assert plist["CFBundleDocumentTypes"][1]["LSHandlerRank"] == "Alternate"
    entitlements = plistlib.loads((PACKAGING / "macos" / "entitlements.plist").read_bytes())
    assert entitlements["com.apple.security.cs.allow-jit"] is True


def test_the_inno_setup_script_associates_hwprof_and_puts_the_cli_on_path() -> None:
    iss = (PACKAGING / "windows" / "hwprof.iss").read_text()
    setup = dict(re.findall(r"^(\w+)=(.*)$", iss.split("[Messages]")[0], re.MULTILINE))
    assert setup["ChangesAssociations"] == "yes" and setup["ChangesEnvironment"] == "yes"
    assert setup["SolidCompression"] == "yes" and setup["Compression"].startswith("lzma2")
    assert setup["SignTool"] == "hwprofsign"  # inside #ifdef Sign: optional
    assert iss.index("#ifdef Sign\nSignTool=") < iss.index("SignTool=") + 1
    keys = re.findall(r'Subkey: "Software\\Classes\\([^"]+)"', iss)
    assert ".hwprof" in keys and ".hwprof.json" not in keys  # Explorer ignores double extensions
    assert "hwprof.snapshot\\DefaultIcon" in keys
    assert "hwprof.snapshot\\shell\\open\\command" in keys
    assert ".gz\\OpenWithProgids" in keys and ".json\\OpenWithProgids" in keys
    assert 'Name: "addtopath"' in iss and "NeedsAddPath" in iss
    assert "CurUninstallStepChanged" in iss  # PATH is cleaned on uninstall
    # Pascal's { } comments end at the first }: a {constant} inside one would break the script
    code = iss.split("[Code]")[1]
    assert not re.search(r"\{[^}]*\{", code)


# -- icons made from the SVG at build time -------------------------------------------------------

def test_the_macos_and_windows_icons_are_made_from_the_svg(tmp_path: Path) -> None:
    from PIL import Image

    # in a process of its own, as the build runs it: it makes a QGuiApplication, and a process
    # can only ever have one application object (the GUI tests need a QApplication)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import render_icons; "
            "from pathlib import Path; render_icons.platform_icons(Path(sys.argv[2]))")
    subprocess.run([sys.executable, "-c", code, str(PACKAGING), str(tmp_path)], check=True,
                   env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    icons = {"icns": tmp_path / "hwprof.icns", "ico": tmp_path / "hwprof.ico"}
    assert icons["icns"].read_bytes()[:4] == b"icns"
    with Image.open(icons["icns"]) as icns:
        assert icns.size == (1024, 1024)  # Retina 512@2x
    with Image.open(icons["ico"]) as ico:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])


# -- the smoke test's helpers ---------------------------------------------------------------------

def test_the_desktop_entry_is_started_the_way_a_file_manager_does(tmp_path: Path) -> None:
    sw = load("smoke_window")
    assert sw.expand_exec("hwprof %F", ["/a b/x.hwprof", "y.hwprof"]) == \
        ["hwprof", "/a b/x.hwprof", "y.hwprof"]
    assert sw.expand_exec('"/opt/my app/hwprof" %f %i', ["x"]) == ["/opt/my app/hwprof", "x"]
    desktop = tmp_path / "x.desktop"
    desktop.write_text("[Desktop Entry]\nName=x\nExec=hwprof %F\n[Desktop Action new]\nExec=no\n")
    assert sw.desktop_exec(desktop) == "hwprof %F"


def test_a_blank_picture_fails_the_window_check(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw

    sw = load("smoke_window")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 100), (40, 40, 40)).save(blank)
    assert any("looks blank" in p for p in sw.check(blank, []))
    drawn = tmp_path / "drawn.png"
    image = Image.new("RGB", (200, 100), (250, 250, 250))
    draw = ImageDraw.Draw(image)
    for i in range(20):
        draw.rectangle((i * 10, 0, i * 10 + 5, 100), fill=(i * 12, 255 - i * 12, 90))
    image.save(drawn)
    assert sw.check(drawn, []) == []


# -- the snapshot type every desktop associates: .hwprof ------------------------------------------

def test_hwprof_is_a_snapshot_name_everywhere_written_as_gzip_and_read_back(tmp_path: Path) -> None:
    from hwprof import launcher
    from hwprof.core.snapshot import SUFFIXES, load_snapshot, new_snapshot, save_snapshot
    from hwprof.gui.snapshots import SNAPSHOT_FILTER
    from hwprof.services.detect import detect_all

    meta = load("app_meta")
    assert SUFFIXES[0] == f".{meta.SNAPSHOT_EXTENSION}"  # what every recipe registers
    assert tuple(f"*{s}" for s in SUFFIXES) == meta.SNAPSHOT_GLOBS
    assert launcher.SNAPSHOT_SUFFIXES == SUFFIXES  # `hwprof x.hwprof` opens it in the window
    assert re.findall(r"\*\S+?(?=[ )])", SNAPSHOT_FILTER) == list(meta.SNAPSHOT_GLOBS)
    snapshot = new_snapshot(detect_all(with_tensorflow=False), title="suffix")
    path = save_snapshot(snapshot, tmp_path / "laptop.hwprof")
    assert path.read_bytes()[:2] == b"\x1f\x8b"  # one distinctive name, always compressed
    assert load_snapshot(path) == snapshot
    # the older names stay readable, and a plain-JSON .hwprof (renamed by hand) too
    plain = save_snapshot(snapshot, tmp_path / "laptop.hwprof.json")
    renamed = plain.rename(tmp_path / "renamed.hwprof")
    assert load_snapshot(renamed) == snapshot


@pytest.mark.gui
def test_a_file_the_system_asks_to_open_reaches_the_window(qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QFileOpenEvent

    from hwprof.gui.file_open import FileOpenFilter

    opened: list[Path] = []
    target = QObject()
    target.installEventFilter(FileOpenFilter(opened.append, parent=target))
    assert qapp.sendEvent(target, QFileOpenEvent("/tmp/a b.hwprof"))
    assert opened == [Path("/tmp/a b.hwprof")]
    qapp.sendEvent(target, QEvent(QEvent.Type.User))  # anything else passes through
    assert opened == [Path("/tmp/a b.hwprof")]


@pytest.mark.gui
def test_about_shows_the_licences_as_plain_text(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from hwprof.gui import about

    lic, _ = about.licence_files()  # from source: the repository's LICENSE
    assert lic == ROOT / "LICENSE"
    assert "Apache License" in about.licences_text()
    frozen = tmp_path / "bundle"
    (frozen / "licenses").mkdir(parents=True)
    (frozen / "licenses" / "LICENSE.txt").write_text("the Apache text")
    (frozen / "licenses" / about.NOTICES_FILE).write_text("<b>Qt</b> 6.11: LGPL-3.0")
    monkeypatch.setattr(about.sys, "_MEIPASS", str(frozen), raising=False)
    assert about.licence_files() == (frozen / "licenses" / "LICENSE.txt",
                                     frozen / "licenses" / about.NOTICES_FILE)
    dialog = about.QtLicencesDialog()
    qtbot.addWidget(dialog)
    shown = dialog.text.toPlainText()
    assert "<b>Qt</b> 6.11: LGPL-3.0" in shown  # as text, never as markup
    assert shown.index("LGPL-3.0") < shown.index("the Apache text")


needs_cc = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("strip") is None,
                              reason="a C compiler and strip")


@linux_only
@needs_readelf
@needs_cc
def test_a_search_path_into_the_build_host_is_removed_and_the_binary_still_runs(
        tmp_path: Path) -> None:
    ec = load("elf_check")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    prog = tmp_path / "bundle" / "hello"
    prog.parent.mkdir()
    subprocess.run(["cc", "-O1", "-o", str(prog), str(src), "-Wl,--enable-new-dtags",
                    "-Wl,-rpath,/root/.pyenv/versions/3.11.7/lib"], check=True)
    assert ec.read_elf(prog).runpath == "/root/.pyenv/versions/3.11.7/lib"
    assert any("a folder of the build host" in p for p in ec.check_bundle(prog.parent).problems)
    size = prog.stat().st_size
    assert ec.drop_build_host_runpath(prog) == "/root/.pyenv/versions/3.11.7/lib"
    assert prog.stat().st_size == size
    assert ec.read_elf(prog).runpath == ""
    assert ec.check_bundle(prog.parent).problems == []
    assert ec.drop_build_host_runpath(prog) is None  # nothing left to do
    assert subprocess.run([str(prog)], capture_output=True, text=True,
                          check=True).stdout == "hello\n"
    # $ORIGIN paths are the wheels' own: kept
    subprocess.run(["cc", "-o", str(prog), str(src), "-Wl,--enable-new-dtags",
                    "-Wl,-rpath,$ORIGIN/../lib"], check=True)
    assert ec.drop_build_host_runpath(prog) is None
    assert ec.read_elf(prog).runpath == "$ORIGIN/../lib"


@linux_only
@needs_readelf
@needs_cc
def test_stripping_keeps_a_binary_working_and_refuses_to_move_its_segments(
        tmp_path: Path) -> None:
    ec = load("elf_check")
    src = tmp_path / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n')
    prog = tmp_path / "hello"
    subprocess.run(["cc", "-g", "-o", str(prog), str(src)], check=True)
    size = prog.stat().st_size
    assert ec.has_symbol_table(prog)
    assert ec.strip_binaries([prog]) == (1, [])
    assert prog.stat().st_size < size
    assert not ec.has_symbol_table(prog)
    assert os.access(prog, os.X_OK)
    assert subprocess.run([str(prog)], capture_output=True, text=True,
                          check=True).stdout == "hello\n"
    segments = ec.load_segments(prog)
    assert segments and ec.segments_intact(segments, segments)
    off, va, fs, ms, al = segments[-1]
    moved = [*segments[:-1], (off + 8, va, fs, ms, al)]  # what strip did to patchelf'd files
    assert not ec.segments_intact(segments, moved)
    assert not ec.segments_intact(segments, segments[:-1])


def test_what_is_not_an_elf64_little_endian_file_is_left_alone(tmp_path: Path) -> None:
    ec = load("elf_check")
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file at all, but long enough to have 64 bytes of header........")
    elf32 = tmp_path / "old.so"
    elf32.write_bytes(b"\x7fELF\x01\x01" + bytes(58))  # ELF32: not what hwprof ships
    for path in (text, elf32):
        assert ec.load_segments(path) is None
        assert not ec.has_symbol_table(path)
        assert ec.drop_build_host_runpath(path) is None
    assert elf32.read_bytes() == b"\x7fELF\x01\x01" + bytes(58)


def test_ci_tests_first_then_builds_smoke_tests_and_uploads_each_os_and_releases_on_tags() -> None:
    ci = (PACKAGING / "ci" / "build-installers.yml").read_text().split("\njobs:\n")[1]
    jobs = dict(re.findall(r"^  (\w+):\n((?:    .*\n|\n)+)", ci, re.MULTILINE))
    assert set(jobs) == {"test", "linux", "windows", "macos", "release"}
    assert "bootstrap.sh test" in jobs["test"]
    for os_job in ("linux", "windows", "macos"):
        body = jobs[os_job]
        assert "    needs: test\n" in body
        build = body.index("name: Build" if os_job == "linux" else "name: Install and build")
        assert build < body.index("name: Smoke test") < body.index("name: installer-"), os_job
    assert "Get-Command ISCC -ErrorAction Stop" in jobs["windows"]
    assert jobs["windows"].index("ISCC") < jobs["windows"].index("name: Install and build")
    assert "needs: [linux, windows, macos]" in jobs["release"]
    assert "if: startsWith(github.ref, 'refs/tags/v')" in jobs["release"]


def test_a_python_without_pyinstaller_gets_the_packaging_extra_or_a_clear_message(
        tmp_path: Path) -> None:
    build = load("build")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    assert build.in_virtualenv(python)
    with pytest.raises(build.BuildError, match=r"pip install -c packaging/constraints.txt -e "
                                               r"'\.\[package\]'"):
        build.ensure_pyinstaller(python, allow_install=False)
    import importlib.util

    if importlib.util.find_spec("PyInstaller") is not None:  # the test set-up lacks it
        build.ensure_pyinstaller(sys.executable, allow_install=False)  # has it: nothing to do


def test_the_archives_readme_names_the_glibc_floor_and_a_working_apt_command() -> None:
    build, ec = load("build"), load("elf_check")
    floor = ec.Floor()
    floor.add("GLIBC", (2, 35), Path("libpython3.11.so.1.0"))
    sonames = ["libc.so.6", "libssl.so.3", "libglib-2.0.so.0", "libxcb-cursor.so.0",
               "libxkbcommon-x11.so.0", "libwayland-cursor.so.0", "libxcb-render-util.so.0"]
    check = ec.BundleCheck(1, floor, {s: [] for s in sonames}, [], [])
    readme = build.tarball_readme(build.FLAVOURS["cpu"], "1.0", check)
    assert "glibc 2.35 or newer" in readme and "tensorflow-cpu" in readme
    command = readme[readme.index("    sudo apt-get"):].split("\n\n")[0]
    lines = command.splitlines()
    assert all(line.endswith(" \\") for line in lines[:-1]) and len(lines) > 1
    assert command.replace(" \\\n", " ").split()[3:] == sorted(
        {ec.SYSTEM_PACKAGES[s].split(" | ")[0] for s in sonames})
