"""Helpers of packaging/smoke_test.sh that look at the installed app from outside, as a user would.

    python packaging/smoke_window.py exec-args DESKTOP_FILE [FILE ...]   # the entry's command line
    python packaging/smoke_window.py grab WINDOW_ID OUT.png              # a window's pixels (X11)
    python packaging/smoke_window.py check OUT.png [WORD ...]            # not blank; WORDs are read

``exec-args`` expands a .desktop entry's ``Exec`` line the way a file manager does when a file is
double-clicked (%f, %F, %u, %U become the files; %i, %c, %k are dropped) and prints the arguments
separated by NUL bytes. ``grab`` asks the X server for a window's pixels through Qt (the project's
own dependency: no screenshot tool needed). ``check`` fails when the picture is blank (a single
colour, or almost) and, given words, when Tesseract's OCR of the picture does not contain each of
them (letters and digits, in order, case-insensitive): the window shows what it should, in
pixels.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# a window counts as drawn when it has at least this many colours and this much contrast
MIN_COLOURS = 16
MIN_STDDEV = 8.0


def desktop_exec(desktop: Path) -> str:
    """The Exec value of the [Desktop Entry] group of a .desktop file."""
    group = ""
    for line in desktop.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("["):
            group = line
        elif group == "[Desktop Entry]" and line.startswith("Exec="):
            return line[len("Exec="):]
    raise SystemExit(f"{desktop}: no Exec line in [Desktop Entry]")


def expand_exec(exec_value: str, files: list[str]) -> list[str]:
    """The argv a desktop starts for ``files`` (freedesktop Desktop Entry spec, field codes)."""
    out: list[str] = []
    for arg in shlex.split(exec_value):
        if arg in ("%F", "%U"):
            out += files
        elif arg in ("%f", "%u"):
            out += files[:1]
        elif arg in ("%i", "%c", "%k"):
            continue
        else:
            out.append(arg.replace("%%", "%"))
    return out


def grab(window_id: int, out: Path) -> None:
    """Save the pixels of the X11 window ``window_id`` (DISPLAY) to ``out``."""
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(["smoke"])
    screen = app.primaryScreen()
    pixmap = screen.grabWindow(window_id)
    if pixmap.isNull() or not pixmap.save(str(out)):
        raise SystemExit(f"could not grab window {window_id:#x} into {out}")


def pixel_stats(png: Path) -> tuple[int, float]:
    """(number of distinct colours, standard deviation of the grey levels) of an image."""
    from PIL import Image, ImageStat

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24) or []
    grey = ImageStat.Stat(image.convert("L"))
    return len(colours), float(grey.stddev[0])


def ocr_text(png: Path) -> str:
    """Tesseract's reading of the image, made larger and dark-on-light first (it reads best so)."""
    from PIL import Image, ImageOps, ImageStat

    tesseract = shutil.which("tesseract")
    if not tesseract:
        raise SystemExit("tesseract is missing (Debian: tesseract-ocr)")
    image = Image.open(png).convert("L")
    if ImageStat.Stat(image).mean[0] < 128:  # a dark theme: light text on dark
        image = ImageOps.invert(image)
    image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "ocr.png"
        image.save(big)
        out = subprocess.run([tesseract, str(big), "-", "--psm", "11"], capture_output=True,
                             text=True, check=False)
    return out.stdout


def alnum(text: str) -> str:
    """Only the letters and digits of ``text``, in lower case."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def check(png: Path, words: list[str]) -> list[str]:
    """Problems with a screenshot: blank, or a phrase (letters and digits) it does not show."""
    problems = []
    colours, stddev = pixel_stats(png)
    print(f"{png}: {colours} colours, grey-level standard deviation {stddev:.1f}")
    if colours < MIN_COLOURS or stddev < MIN_STDDEV:
        problems.append(f"{png} looks blank ({colours} colours, stddev {stddev:.1f})")
    if words:
        text = re.sub(r"\s+", " ", ocr_text(png))
        letters = alnum(text)  # OCR's spaces and punctuation are the least reliable part
        for word in words:
            if alnum(word) not in letters:
                problems.append(f"{png}: '{word}' is not shown (OCR read: {text[:400]!r})")
    return problems


def main(argv: list[str]) -> int:
    """Dispatch the sub-commands (see the module's docstring)."""
    if len(argv) >= 2 and argv[0] == "exec-args":
        args = expand_exec(desktop_exec(Path(argv[1])), argv[2:])
        sys.stdout.write("\0".join(args) + "\0")
        return 0
    if len(argv) == 3 and argv[0] == "grab":
        grab(int(argv[1], 0), Path(argv[2]))
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        problems = check(Path(argv[1]), argv[2:])
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
