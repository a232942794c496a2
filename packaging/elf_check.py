"""What a Linux bundle asks of the system it runs on, read from its ELF files with ``readelf``.

Two facts decide whether the bundle starts on a given distribution:

- the **symbol versions** its binaries need (``readelf -V``, the ``.gnu.version_r`` section):
  ``GLIBC_2.35`` from libc, ``GLIBCXX_3.4.29`` from libstdc++, ``GCC_4.8.0`` from libgcc_s. The
  highest of each is the real floor of the bundle, whatever the package metadata claims;
- the **shared libraries** it needs and does not carry (``readelf -d``, NEEDED entries that name
  no file of the bundle): those come from the system and become the package's ``Depends``.

The build bundles no library of the build host's system (see :func:`is_system_library`): a
Debian 12 ``libstdc++`` or ``libbsd`` inside the bundle needs glibc 2.36 and would make the
package fail to start on Ubuntu 22.04. What the system provides comes from the system, declared
in ``Depends`` through :data:`SYSTEM_PACKAGES`, one entry per soname.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Literal

ELF_MAGIC = b"\x7fELF"

# The oldest systems the Linux packages support, and what their base libraries provide:
# Ubuntu 22.04 (glibc 2.35, libstdc++ and libgcc-s1 of GCC 12), Debian 12 (glibc 2.36, GCC 12),
# Ubuntu 24.04 (glibc 2.39, GCC 14). A binary needing more than this fails to load on Ubuntu 22.04.
SUPPORTED_SYSTEMS = "Ubuntu 22.04 and 24.04, Debian 12"
SUPPORTED_MAX: dict[str, tuple[int, ...]] = {
    "GLIBC": (2, 35),
    "GLIBCXX": (3, 4, 30),
    "CXXABI": (1, 3, 13),
    "GCC": (12, 0, 0),
}
FAMILIES = tuple(SUPPORTED_MAX)

# libstdc++ symbol version -> the GCC release that first provides it (for a versioned Depends)
GLIBCXX_TO_GCC = {(3, 4, 28): 10, (3, 4, 29): 11, (3, 4, 30): 12, (3, 4, 31): 13, (3, 4, 32): 13,
                  (3, 4, 33): 14}

_LIBC = "libc6"
# Each soname the bundle may take from the system -> the Debian/Ubuntu package that provides it.
# "a | b": Ubuntu 24.04 renamed some libraries for the 64-bit time_t transition (libssl3t64 ...).
# A soname missing here stops the build: a new system dependency is a decision, not an accident.
SYSTEM_PACKAGES: dict[str, str] = {
    # glibc
    "libc.so.6": _LIBC, "libm.so.6": _LIBC, "libpthread.so.0": _LIBC, "libdl.so.2": _LIBC,
    "librt.so.1": _LIBC, "libresolv.so.2": _LIBC, "libutil.so.1": _LIBC,
    "ld-linux-x86-64.so.2": _LIBC, "ld-linux-aarch64.so.1": _LIBC,
    # the compiler's runtime
    "libstdc++.so.6": "libstdc++6", "libgcc_s.so.1": "libgcc-s1",
    # what Python's own extension modules link to
    "libz.so.1": "zlib1g", "libbz2.so.1.0": "libbz2-1.0", "liblzma.so.5": "liblzma5",
    "libzstd.so.1": "libzstd1", "libffi.so.8": "libffi8", "libuuid.so.1": "libuuid1",
    "libssl.so.3": "libssl3 | libssl3t64", "libcrypto.so.3": "libssl3 | libssl3t64",
    "libsqlite3.so.0": "libsqlite3-0", "libexpat.so.1": "libexpat1", "libcrypt.so.1": "libcrypt1",
    # Qt: GLib event loop, D-Bus, fonts, OpenGL/EGL, X11 (xcb) and Wayland
    "libglib-2.0.so.0": "libglib2.0-0 | libglib2.0-0t64",
    "libgthread-2.0.so.0": "libglib2.0-0 | libglib2.0-0t64",
    "libgobject-2.0.so.0": "libglib2.0-0 | libglib2.0-0t64",
    "libgio-2.0.so.0": "libglib2.0-0 | libglib2.0-0t64",
    "libdbus-1.so.3": "libdbus-1-3", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1", "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0", "libX11.so.6": "libx11-6", "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1", "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libwayland-client.so.0": "libwayland-client0", "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}

# The libraries a bundle must carry even though they may sit in a system folder: the Python the
# app was frozen with (a system Python's libpython is in /usr/lib), which no target system is
# guaranteed to have in the same version.
_ALWAYS_BUNDLED = re.compile(r"^libpython3\.\d+")
_SYSTEM_DIRS = (PurePath("/lib"), PurePath("/lib64"), PurePath("/usr/lib"), PurePath("/usr/lib64"),
                PurePath("/lib32"), PurePath("/usr/lib32"))


class ElfCheckError(Exception):
    """The bundle cannot be checked (a tool is missing) or fails a check; says which and why."""


@dataclass(frozen=True)
class ElfInfo:
    """What one ELF file needs: libraries by soname, and symbol versions per library."""

    path: Path
    needed: tuple[str, ...]
    version_needs: Mapping[str, frozenset[str]]
    runpath: str = ""


@dataclass
class Floor:
    """The highest symbol version of each family any file of the bundle needs, and which file."""

    versions: dict[str, tuple[tuple[int, ...], Path]] = field(default_factory=dict)

    def add(self, family: str, version: tuple[int, ...], path: Path) -> None:
        """Record ``family_version`` needed by ``path`` when it is the highest so far."""
        known = self.versions.get(family)
        if known is None or version > known[0]:
            self.versions[family] = (version, path)

    def get(self, family: str) -> tuple[int, ...] | None:
        """The highest version of ``family`` needed, or None when nothing needs it."""
        found = self.versions.get(family)
        return found[0] if found else None

    def problems(self, supported: Mapping[str, tuple[int, ...]] = SUPPORTED_MAX) -> list[str]:
        """One line per family whose need exceeds what the supported systems provide."""
        out = []
        for family, (version, path) in sorted(self.versions.items()):
            limit = supported.get(family)
            if limit is not None and version > limit:
                out.append(f"{path} needs {family}_{dotted(version)}, above the supported "
                           f"{family}_{dotted(limit)} ({SUPPORTED_SYSTEMS})")
        return out

    def summary(self) -> str:
        """E.g. ``GLIBC_2.35 (libpython3.11.so.1.0), GLIBCXX_3.4.29 (...)``."""
        return ", ".join(f"{family}_{dotted(v)} ({p.name})"
                         for family, (v, p) in sorted(self.versions.items()))


def dotted(version: tuple[int, ...]) -> str:
    """(2, 35) -> "2.35"."""
    return ".".join(str(n) for n in version)


def split_version(name: str) -> tuple[str, tuple[int, ...]] | None:
    """``GLIBC_2.2.5`` -> ("GLIBC", (2, 2, 5)); None for a name that is not family_N.N..."""
    m = re.fullmatch(r"([A-Z]+)_(\d+(?:\.\d+)*)", name)
    if not m:
        return None
    return m.group(1), tuple(int(n) for n in m.group(2).split("."))


def parse_version_needs(text: str) -> dict[str, frozenset[str]]:
    """The ``.gnu.version_r`` section of ``readelf -V`` output: {library: {version names}}."""
    needs: dict[str, set[str]] = {}
    current: str | None = None
    in_section = False
    for line in text.splitlines():
        if line.startswith("Version needs section"):
            in_section = True
            continue
        if in_section and line and not line.startswith(" "):
            in_section = False  # the next section's title
        if not in_section:
            continue
        m = re.search(r"\bFile: (\S+)", line)
        if m:
            current = m.group(1)
            needs.setdefault(current, set())
            continue
        m = re.search(r"\bName: (\S+)", line)
        if m and current is not None:
            needs[current].add(m.group(1))
    return {lib: frozenset(v) for lib, v in needs.items()}


def parse_needed(text: str) -> tuple[str, ...]:
    """The NEEDED entries of ``readelf -d`` output, in order."""
    return tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", text))


def parse_runpath(text: str) -> str:
    """The RUNPATH (or older RPATH) of ``readelf -d`` output, or ""."""
    m = re.search(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]", text)
    return m.group(1) if m else ""


def is_build_host_path(runpath: str) -> bool:
    """Whether a search path names only absolute folders (where it was built), no $ORIGIN."""
    return bool(runpath) and all(p.startswith("/") for p in runpath.split(":"))


def is_elf(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link) that starts with ELF's magic number."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def readelf() -> str:
    """The path of ``readelf``, or a clear error naming the package that has it."""
    tool = shutil.which("readelf")
    if not tool:
        raise ElfCheckError("readelf is missing (it checks the glibc floor of the bundle): "
                            "install binutils, e.g. `sudo apt-get install binutils`")
    return tool


def read_elf(path: Path, tool: str | None = None) -> ElfInfo:
    """NEEDED libraries and symbol-version needs of one ELF file, with one ``readelf`` call."""
    out = subprocess.run([tool or readelf(), "--dynamic", "--version-info", "--wide", str(path)],
                         capture_output=True, text=True, errors="replace", check=False)
    if out.returncode != 0:
        raise ElfCheckError(f"readelf could not read {path}: {out.stderr.strip()}")
    return ElfInfo(path, parse_needed(out.stdout), parse_version_needs(out.stdout),
                   parse_runpath(out.stdout))


def elf_files(root: Path) -> list[Path]:
    """Every ELF file under ``root`` (links not followed), sorted."""
    return sorted(p for p in root.rglob("*") if is_elf(p))


def scan(root: Path) -> list[ElfInfo]:
    """read_elf for every ELF file of the bundle at ``root``."""
    tool = readelf()
    return [read_elf(p, tool) for p in elf_files(root)]


def floor_of(infos: Iterable[ElfInfo]) -> Floor:
    """The highest GLIBC/GLIBCXX/CXXABI/GCC version any of ``infos`` needs."""
    floor = Floor()
    for info in infos:
        for names in info.version_needs.values():
            for name in names:
                parsed = split_version(name)
                if parsed and parsed[0] in FAMILIES:
                    floor.add(parsed[0], parsed[1], info.path)
    return floor


def system_interface(root: Path, infos: Iterable[ElfInfo]) -> dict[str, list[Path]]:
    """The sonames the bundle's binaries need that the bundle does not carry, with who needs them.

    A library counts as carried when a file (or link) of that name is anywhere in the bundle:
    PyInstaller's bootloader puts the bundle's folders on the search path.
    """
    carried = {p.name for p in root.rglob("*") if p.is_file() or p.is_symlink()}
    out: dict[str, list[Path]] = {}
    for info in infos:
        for soname in info.needed:
            if soname not in carried:
                out.setdefault(soname, []).append(info.path)
    return dict(sorted(out.items()))


def unknown_sonames(interface: Mapping[str, list[Path]]) -> list[str]:
    """Sonames the bundle takes from the system that :data:`SYSTEM_PACKAGES` does not map."""
    return [s for s in interface if s not in SYSTEM_PACKAGES]


def debian_depends(interface: Iterable[str], floor: Floor) -> list[str]:
    """``Depends`` entries for the sonames the bundle takes from the system.

    libc6 and libstdc++6 carry the version the bundle really needs (the floor), not a guess.
    """
    packages = sorted({SYSTEM_PACKAGES[s] for s in interface if s in SYSTEM_PACKAGES} | {_LIBC})
    glibc = floor.get("GLIBC")
    glibcxx = floor.get("GLIBCXX")
    out = []
    for pkg in packages:
        if pkg == _LIBC and glibc:
            out.append(f"libc6 (>= {dotted(glibc)})")
        elif pkg == "libstdc++6" and glibcxx:
            gcc = GLIBCXX_TO_GCC.get(glibcxx)
            out.append(f"libstdc++6 (>= {gcc})" if gcc else pkg)
        else:
            out.append(pkg)
    return out


def is_system_library(src: str | Path) -> bool:
    """Whether a library PyInstaller found at ``src`` belongs to the build host's system.

    Those are not bundled: the target system has its own, built for its own glibc. The frozen
    Python's libpython is the exception (no target is sure to have the same Python).
    """
    p = PurePath(src)
    if _ALWAYS_BUNDLED.match(p.name):
        return False
    return any(p.is_relative_to(d) for d in _SYSTEM_DIRS)


@dataclass(frozen=True)
class BundleCheck:
    """The outcome of :func:`check_bundle`."""

    files: int
    floor: Floor
    interface: dict[str, list[Path]]
    depends: list[str]
    problems: list[str]


def check_bundle(root: Path, supported: Mapping[str, tuple[int, ...]] = SUPPORTED_MAX
                 ) -> BundleCheck:
    """Scan a bundle: its floor, what it takes from the system, the Depends, and any problem."""
    infos = scan(root)
    floor = floor_of(infos)
    interface = system_interface(root, infos)
    problems = floor.problems(supported)
    for info in infos:
        if is_build_host_path(info.runpath):
            problems.append(f"{info.path.relative_to(root)} searches {info.runpath} for libraries:"
                            " a folder of the build host")
    for soname in unknown_sonames(interface):
        users = ", ".join(str(p.relative_to(root)) for p in interface[soname][:3])
        problems.append(f"{soname} (needed by {users}) comes from the system but has no package "
                        "in packaging/elf_check.py SYSTEM_PACKAGES: add it, or keep the file "
                        "that needs it out of the bundle")
    return BundleCheck(len(infos), floor, interface, debian_depends(interface, floor), problems)


# -- preparing a bundle's binaries for a package --------------------------------------------------

_DT_NULL, _DT_STRTAB, _DT_RPATH, _DT_RUNPATH = 0, 5, 15, 29
_PT_LOAD, _PT_DYNAMIC = 1, 2


# Where an ELF64 header says the program-header and section-header tables are: (the table's
# offset: 8 bytes, one entry's size: 2 bytes, the number of entries: 2 bytes)
TableKind = Literal["program", "section"]
_TABLE_FIELDS: dict[TableKind, tuple[int, int, int]] = {
    "program": (0x20, 0x36, 0x38), "section": (0x28, 0x3A, 0x3C)}


def _header_table(head: bytes, read: Callable[[int, int], bytes],
                  which: TableKind) -> list[bytes] | None:
    """The entries of the program-header or section-header table (``which``) of an ELF file.

    ``head``: the file's first 64 bytes at least; ``read(offset, size)``: bytes of the file.
    ELF64 little-endian only (x86-64, arm64: what hwprof ships); None for anything else.
    """
    if head[:4] != ELF_MAGIC or head[4] != 2 or head[5] != 1:
        return None
    at, size_at, count_at = _TABLE_FIELDS[which]
    offset = int.from_bytes(head[at:at + 8], "little")
    size = int.from_bytes(head[size_at:size_at + 2], "little")
    count = int.from_bytes(head[count_at:count_at + 2], "little")
    table = read(offset, size * count)
    return [table[i * size:(i + 1) * size] for i in range(count)]


def _file_header_table(path: Path, which: TableKind) -> list[bytes] | None:
    """:func:`_header_table` of a file, reading only the header and the table."""
    with path.open("rb") as fh:
        def read(at: int, size: int) -> bytes:
            fh.seek(at)
            return fh.read(size)

        return _header_table(fh.read(64), read, which)


def _dynamic(data: bytes) -> tuple[int, list[tuple[int, int]], int] | None:
    """(file offset of the dynamic section, its entries up to DT_NULL, its capacity in entries).

    ELF64 little-endian only (x86-64, arm64: what hwprof ships); None for anything else.
    """
    headers = _header_table(data, lambda at, size: data[at:at + size], "program")
    for ph in headers or ():
        if int.from_bytes(ph[0:4], "little") != _PT_DYNAMIC:
            continue
        offset = int.from_bytes(ph[8:16], "little")
        size = int.from_bytes(ph[32:40], "little")
        entries = []
        for k in range(size // 16):
            tag = int.from_bytes(data[offset + 16 * k: offset + 16 * k + 8], "little", signed=True)
            val = int.from_bytes(data[offset + 16 * k + 8: offset + 16 * k + 16], "little")
            if tag == _DT_NULL:
                break
            entries.append((tag, val))
        return offset, entries, size // 16
    return None


def _vaddr_to_offset(data: bytes, vaddr: int) -> int | None:
    headers = _header_table(data, lambda at, size: data[at:at + size], "program")
    for ph in headers or ():
        if int.from_bytes(ph[0:4], "little") != _PT_LOAD:
            continue
        p_offset = int.from_bytes(ph[8:16], "little")
        p_vaddr = int.from_bytes(ph[16:24], "little")
        p_filesz = int.from_bytes(ph[32:40], "little")
        if p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    return None


def drop_build_host_runpath(path: Path) -> str | None:
    """Remove a RUNPATH (or RPATH) that names only absolute folders; return it, or None.

    Such a search path is where the library was built (a pyenv Python's lib-dynload modules name
    /root/.pyenv/versions/X/lib): on a user's machine it points nowhere, or somewhere it should
    not. ``$ORIGIN``-relative paths (the wheels' own) are kept. The entry is removed as chrpath -d
    does: later entries move up, a DT_NULL fills the end; the file keeps its size.
    """
    with path.open("r+b") as fh:
        data = fh.read()
        dyn = _dynamic(data)
        if dyn is None:
            return None
        offset, entries, capacity = dyn
        strtab = next((v for t, v in entries if t == _DT_STRTAB), None)
        strtab_off = _vaddr_to_offset(data, strtab) if strtab is not None else None
        if strtab_off is None:
            return None
        removed = None
        kept = []
        for tag, val in entries:
            if tag in (_DT_RPATH, _DT_RUNPATH):
                end = data.index(b"\0", strtab_off + val)
                value = data[strtab_off + val: end].decode(errors="replace")
                if is_build_host_path(value):
                    removed = value
                    continue
            kept.append((tag, val))
        if removed is None:
            return None
        table = b"".join(t.to_bytes(8, "little", signed=True) + v.to_bytes(8, "little")
                         for t, v in kept)
        table += bytes(16 * (capacity - len(kept)))  # DT_NULL entries
        fh.seek(offset)
        fh.write(table)
    return removed


def load_segments(path: Path) -> list[tuple[int, int, int, int, int]] | None:
    """(offset, vaddr, filesz, memsz, align) of each PT_LOAD segment; None if not ELF64-LE."""
    headers = _file_header_table(path, "program")
    if headers is None:
        return None
    out = []
    for ph in headers:
        if int.from_bytes(ph[0:4], "little") == _PT_LOAD:
            f = [int.from_bytes(ph[k:k + 8], "little") for k in (8, 16, 32, 40, 48)]
            out.append((f[0], f[1], f[2], f[3], f[4]))
    return out


def has_symbol_table(path: Path) -> bool:
    """Whether an ELF64-LE file still has a .symtab (what lintian calls unstripped)."""
    sht_symtab = 2
    return any(int.from_bytes(sh[4:8], "little") == sht_symtab
               for sh in _file_header_table(path, "section") or ())


def segments_intact(before: list[tuple[int, int, int, int, int]] | None,
                    after: list[tuple[int, int, int, int, int]] | None) -> bool:
    """Whether stripping left what the loader maps alone: the same segments, still aligned."""
    if before is None or after is None or len(before) != len(after):
        return False
    for (_, va0, fs0, ms0, al0), (off, va, fs, ms, al) in zip(before, after, strict=True):
        if (va0, fs0, ms0, al0) != (va, fs, ms, al):
            return False
        if al > 1 and off % al != va % al:
            return False
    return True


def strip_binaries(paths: Iterable[Path], tool: str = "strip") -> tuple[int, list[str]]:
    """``strip --strip-unneeded`` each file: its symbol table and debug data, never the dynamic
    symbols it is linked by. Returns (files stripped, one line per file left as it was).

    Each file is stripped to a copy first, and kept only when the segments the loader maps are
    the same and still aligned: strip mangles libraries that patchelf rewrote (auditwheel's
    ``*.libs``: "ELF load command address/offset not page-aligned" at run time).
    """
    done = 0
    kept = []
    for path in paths:
        tmp = path.with_name(path.name + ".stripping")
        out = subprocess.run([tool, "--strip-unneeded", "-o", str(tmp), str(path)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            tmp.unlink(missing_ok=True)
            kept.append(f"{path}: {out.stderr.strip()}")
            continue
        if not segments_intact(load_segments(path), load_segments(tmp)):
            tmp.unlink()
            kept.append(f"{path}: stripping would move its segments (a patchelf-edited file)")
            continue
        shutil.copymode(path, tmp)
        tmp.replace(path)
        done += 1
    return done, kept


def main(argv: list[str]) -> int:
    """``python packaging/elf_check.py FOLDER``: the floor, the system libraries and any problem."""
    if len(argv) != 1:
        print("usage: python packaging/elf_check.py BUNDLE_FOLDER", file=sys.stderr)
        return 2
    try:
        result = check_bundle(Path(argv[0]))
    except ElfCheckError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"{result.files} ELF files; floor: {result.floor.summary()}")
    print(f"Depends: {', '.join(result.depends)}")
    for problem in result.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
