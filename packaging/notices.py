"""Third-party notices for a build of hwprof, generated from the installed distributions' metadata.

The PyInstaller spec calls :func:`write_notices` with the source files that went into the bundle;
every installed distribution that owns one of them is a component of the build. For each it takes
the name, version, licence (``License-Expression``, ``License`` or the classifiers) and the full
text of every licence file the distribution ships (``*.dist-info/licenses/*``, ``LICENSE*``,
``COPYING*``, ``NOTICE*``, ``THIRD_PARTY_NOTICES*``). A distribution that ships no licence file
gets the standard text of its licence from ``packaging/licenses/`` when it names one (Apache-2.0,
LGPL-3.0/GPL-3.0), or the licence comment at the top of its modules (nvidia-ml-py's BSD header).
Python itself (the PSF licence of the interpreter the app was frozen with), the PyInstaller
bootloader and Qt (with how to replace the Qt libraries, as the LGPL asks) are added.

    python packaging/notices.py OUT_DIR     # the notices of everything installed here, to try it
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STANDARD_TEXTS = HERE / "licenses"
NOTICES_NAME = "THIRD-PARTY-NOTICES.txt"
COMPONENTS_NAME = "components.json"

_LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|THIRD[_-]PARTY[_-]NOTICES)", re.IGNORECASE)
# Standard texts shipped in packaging/licenses/, by the words a distribution's metadata uses.
_STANDARD = (
    (re.compile(r"\bapache\b.*\b2(\.0)?\b", re.IGNORECASE), ("Apache-2.0.txt",)),
    (re.compile(r"\bLGPL-3\.0", re.IGNORECASE), ("LGPL-3.0.txt", "GPL-3.0.txt")),
)
# Distributions never part of a bundle even when a file of theirs is listed (build tools).
_NEVER = {"pyinstaller-hooks-contrib", "pip", "setuptools", "wheel", "altgraph"}


def canonical(name: str) -> str:
    """A name as PyPI compares them: ``PySide6_Essentials`` -> ``pyside6-essentials``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Component:
    """One third-party component of the build and its licence texts ((label, text) pairs)."""

    name: str
    version: str
    license: str
    homepage: str = ""
    texts: tuple[tuple[str, str], ...] = ()
    note: str = ""
    missing_text: bool = False


@dataclass
class Notices:
    """The components of a build, in the order they are listed."""

    components: list[Component] = field(default_factory=list)

    def missing(self) -> list[str]:
        """Components for which no licence text could be found (the build warns about them)."""
        return [c.name for c in self.components if c.missing_text]


def license_of(meta: metadata.PackageMetadata) -> str:
    """A distribution's licence in a few words: SPDX expression, a short License, classifiers."""
    expr = meta.get("License-Expression")
    if expr:
        return str(expr).strip()
    lic = str(meta.get("License") or "").strip()
    if lic and "\n" not in lic and len(lic) <= 200:  # a name or a sentence, not the whole text
        return lic
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                   if c.startswith("License ::")]
    if classifiers:
        return " / ".join(classifiers)
    return "see the licence text below" if lic else "not stated in its metadata"


def homepage_of(meta: metadata.PackageMetadata) -> str:
    """The home page (or repository) named in the metadata, or ""."""
    home = str(meta.get("Home-page") or "").strip()
    if home and home.upper() != "UNKNOWN":
        return home
    urls = [str(u) for u in meta.get_all("Project-URL") or []]
    for wanted in ("homepage", "home", "source", "repository", "documentation"):
        for url in urls:
            label, _, value = url.partition(",")
            if label.strip().lower() == wanted:
                return value.strip()
    return urls[0].partition(",")[2].strip() if urls else ""


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace").strip("\n")


def license_files(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """(path in the distribution, text) of every licence file it ships.

    Files in its ``.dist-info`` folder, and those at most one folder deep in its packages
    (``tensorflow/THIRD_PARTY_NOTICES.txt``); headers and test data are not licences.
    """
    out = []
    for f in dist.files or []:
        in_info = f.parts[0].endswith(".dist-info")
        if not _LICENSE_FILE.match(f.name) or f.suffix in (".py", ".pyc", ".h"):
            continue
        if not in_info and (len(f.parts) > 3 or {"include", "tests", "test"} & set(f.parts)):
            continue
        path = Path(str(dist.locate_file(f)))
        if path.is_file():
            out.append((str(f), _read(path)))
    return out


def header_license(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """The licence comment atop a distribution's modules, for those with no licence file."""
    for f in dist.files or []:
        if f.suffix != ".py" or len(f.parts) > 2:
            continue
        path = Path(str(dist.locate_file(f)))
        if not path.is_file():
            continue
        lines = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").rstrip()[1:] if line.startswith("# ") else
                         line.lstrip("#").rstrip())
        text = "\n".join(lines).strip()
        if "Copyright" in text and re.search(r"Redistribution|Permission|License", text):
            return [(f"{f} (its licence header)", text)]
    return []


def standard_texts(license_name: str) -> list[tuple[str, str]]:
    """The standard texts for a licence named in metadata, from packaging/licenses/."""
    for pattern, files in _STANDARD:
        if pattern.search(license_name):
            return [(f"{name[:-4]} (standard text)", _read(STANDARD_TEXTS / name))
                    for name in files]
    return []


def component_of(dist: metadata.Distribution, note: str = "") -> Component:
    """A distribution as a component of the build, with its licence texts."""
    meta = dist.metadata
    lic = license_of(meta)
    texts = license_files(dist) or standard_texts(lic) or header_license(dist)
    return Component(str(meta["Name"]), dist.version, lic, homepage_of(meta), tuple(texts), note,
                     missing_text=not texts)


def distributions_owning(sources: Iterable[str | Path]) -> list[metadata.Distribution]:
    """The installed distributions that own at least one of ``sources`` (files in the bundle)."""
    wanted = {str(Path(s).resolve()) for s in sources}
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = canonical(str(dist.metadata["Name"]))
        if name in found or name in _NEVER or name == "hwprof":
            continue
        for f in dist.files or []:
            if f.suffix in (".pyc",) or f.parts[0].endswith(".dist-info"):
                continue
            if str(Path(str(dist.locate_file(f))).resolve()) in wanted:
                found[name] = dist
                break
    return [found[k] for k in sorted(found)]


def python_component() -> Component:
    """The Python interpreter and standard library the app was frozen with (PSF licence)."""
    base = Path(sys.base_prefix)
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    texts = []
    for candidate in (base / "lib" / f"python{ver}" / "LICENSE.txt", base / "LICENSE.txt",
                      base / "Lib" / "LICENSE.txt", base / "share" / "doc" / f"python{ver}" /
                      "copyright", Path(f"/usr/share/doc/python{ver}/copyright")):
        if candidate.is_file():
            texts.append((f"Python's {candidate.name}", _read(candidate)))
            break
    return Component("Python", platform.python_version(), "PSF-2.0", "https://www.python.org/",
                     tuple(texts), "the interpreter and standard library inside the bundle",
                     missing_text=not texts)


def pyinstaller_component() -> Component | None:
    """PyInstaller's bootloader, which is the start of every hwprof executable."""
    try:
        dist = metadata.distribution("pyinstaller")
    except metadata.PackageNotFoundError:
        return None
    comp = component_of(dist, note="its bootloader starts hwprof; the GPL's bootloader exception "
                                   "lets it be distributed with programs under any licence")
    return comp


QT_NOTICE = """\
hwprof's window uses Qt {qt} through PySide6 {pyside} (Qt for Python), both used under the GNU
Lesser General Public License version 3 (LGPL-3.0; its text and the GPL-3.0 it builds on follow in
the PySide6-Essentials entry below). Qt is copyright The Qt Company Ltd. and other contributors.
Qt bundles third-party code of its own (for example HarfBuzz, FreeType, PCRE2, zlib, libpng and
double-conversion); their licences are listed at https://doc.qt.io/qt-6/licenses-used-in-qt.html.

The source code of Qt {qt} is at https://download.qt.io/official_releases/qt/ and
https://code.qt.io/, that of PySide6 and Shiboken6 {pyside} at
https://download.qt.io/official_releases/QtForPython/ and
https://code.qt.io/cgit/pyside/pyside-setup.git/.

Replacing the Qt libraries. hwprof loads Qt as separate shared libraries, never linked into its
own code, so you may replace them with your own build (for example one with a fix you need):

  Linux (.deb)       /usr/lib/hwprof/_internal/PySide6/Qt/lib/libQt6*.so.6 and the plugins in
                     /usr/lib/hwprof/_internal/PySide6/Qt/plugins/
  Linux (.tar.xz)    hwprof-VERSION/_internal/PySide6/Qt/lib/ and .../Qt/plugins/
  Windows            C:\\Program Files\\hwprof\\_internal\\PySide6\\Qt6*.dll and
                     ...\\_internal\\PySide6\\plugins\\
  macOS              hwprof.app/Contents/Frameworks/PySide6/Qt/lib/Qt*.framework and
                     .../Qt/plugins/

Put libraries of the same Qt version ({qt}, built with the same configuration: PySide6 uses
symbols versioned to that release) in place of the shipped ones, with the same file names, and
start hwprof again. The PySide6 and Shiboken6 modules beside them (PySide6/*.so or *.pyd,
libpyside6*, libshiboken6*) can be rebuilt from their sources the same way. On macOS, replacing a
file breaks the app's signature: sign it again for yourself with
`codesign --force --deep --sign - hwprof.app`.
"""


def qt_notice() -> str:
    """The LGPL notice for Qt and PySide6, with how to replace the Qt libraries."""
    try:
        pyside = metadata.version("PySide6-Essentials")
    except metadata.PackageNotFoundError:
        pyside = "?"
    try:
        from PySide6.QtCore import qVersion  # the Qt actually bundled, not the wheel's name

        qt = qVersion()
    except ImportError:
        qt = pyside
    return QT_NOTICE.format(qt=qt, pyside=pyside)


def collect(sources: Iterable[str | Path]) -> Notices:
    """The components of a build whose bundle holds ``sources``: Python, Qt, the distributions."""
    comps = [python_component()]
    boot = pyinstaller_component()
    if boot:
        comps.append(boot)
    comps += [component_of(d) for d in distributions_owning(sources)
              if canonical(str(d.metadata["Name"])) != "pyinstaller"]
    return Notices(comps)


def render(notices: Notices, app_version: str) -> str:
    """The notices as one plain-text file: a table of contents, Qt's notice, then each text."""
    head = f"hwprof {app_version}: third-party notices"
    out = [head, "=" * len(head), "",
           "hwprof is licensed under the Apache License, Version 2.0 (LICENSE.txt beside this "
           "file).", "This build of hwprof contains the third-party components below, each under "
           "its own licence.", "This file was generated when the build was made, from the "
           "metadata of the installed packages", "(packaging/notices.py).", "",
           "Components", "----------"]
    width = max(len(f"{c.name} {c.version}") for c in notices.components) + 2
    for c in notices.components:
        out.append(f"  {f'{c.name} {c.version}':<{width}} {c.license}")
    out += ["", "Qt and PySide6", "--------------", qt_notice()]
    seen: dict[str, str] = {}
    for c in notices.components:
        title = f"{c.name} {c.version}"
        out += ["", "=" * 100, title, "=" * 100, f"Licence: {c.license}"]
        if c.homepage:
            out.append(f"Home page: {c.homepage}")
        if c.note:
            out.append(f"Note: {c.note}")
        if c.missing_text:
            out.append("No licence text was found in this package's metadata; see its home page.")
        for label, text in c.texts:
            digest = hashlib.sha256(text.encode()).hexdigest()
            out += ["", f"--- {label} ---"]
            if digest in seen:
                out.append(f"(the same text as {seen[digest]} above)")
            else:
                seen[digest] = f"{label} of {title}"
                out.append(text)
    return "\n".join(out) + "\n"


def write_notices(out_dir: Path, sources: Iterable[str | Path], app_version: str) -> Notices:
    """Write THIRD-PARTY-NOTICES.txt and components.json (for the .deb's copyright) to out_dir."""
    notices = collect(sources)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / NOTICES_NAME).write_text(render(notices, app_version), encoding="utf-8")
    summary = [{k: v for k, v in asdict(c).items() if k != "texts"} for c in notices.components]
    (out_dir / COMPONENTS_NAME).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return notices


def main() -> int:
    """Write the notices of every distribution installed here to the folder given."""
    if len(sys.argv) != 2:
        print("usage: python packaging/notices.py OUT_DIR", file=sys.stderr)
        return 2
    sources = [dist.locate_file(f) for dist in metadata.distributions() for f in dist.files or []]
    notices = write_notices(Path(sys.argv[1]), [Path(str(s)) for s in sources], "dev")
    print(f"{len(notices.components)} components; no licence text: {notices.missing() or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
