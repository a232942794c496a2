#!/usr/bin/env bash
# Set up hwprof on a fresh machine, in its own virtual environment (.venv beside this repository).
#
#   bash packaging/bootstrap.sh app      install, then open the window (with no screen: detect + a short run)
#   bash packaging/bootstrap.sh test     install with the test tools, then run linters and the whole test suite
#   bash packaging/bootstrap.sh package [BUILD OPTIONS]
#                                        install with PyInstaller, then build this OS's installers into
#                                        build/installer/ (packaging/build.py; options are passed on)
#
# Exact versions come from packaging/constraints.txt (what the suite was last run with). On Debian/Ubuntu
# the system libraries Qt's xcb plugin and the Xvfb test need are installed with apt-get when missing.
set -euo pipefail

mode=${1:-}
case "$mode" in app|test|package) ;; *) echo "usage: bash packaging/bootstrap.sh app|test|package" >&2; exit 2;; esac
shift || true

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
venv=${HWPROF_VENV:-$root/.venv}
python=${PYTHON:-python3}

say() { if [ -t 2 ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi; }

"$python" - <<'PY' || { echo "hwprof needs Python 3.11 or newer, as the pinned versions in packaging/constraints.txt do (set PYTHON=/path/to/python3)" >&2; exit 1; }
import sys
raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PY

# -- system packages (Linux, apt) -----------------------------------------------------------------------
# Qt's xcb platform plugin needs these X libraries (Qt's own error names the wrong one: QT_DEBUG_PLUGINS=1
# shows the real one); the tests also need Xvfb to drive the real window.
deb_pkgs=(libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xkb1 libxcb-randr0
          libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libxcb-cursor0 libxkbcommon-x11-0 libxkbcommon0
          libegl1 libgl1 libfontconfig1 libdbus-1-3)
[ "$mode" = test ] && deb_pkgs+=(xvfb x11-utils xdotool imagemagick)
# the Linux packages: readelf checks the glibc floor, dpkg-deb and xz make them, lintian checks the .deb
[ "$mode" = package ] && deb_pkgs+=(binutils dpkg xz-utils lintian)
if [ "$(uname -s)" = Linux ] && command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
  missing=()
  for p in "${deb_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    say "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# -- the virtual environment ------------------------------------------------------------------------------
if [ ! -x "$venv/bin/python" ]; then
  say "creating the virtual environment $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
extra=""; [ "$mode" = test ] && extra="[test]"; [ "$mode" = package ] && extra="[package]"
say "installing hwprof$extra and its dependencies (TensorFlow is large: the first time takes a few minutes)"
"${pip[@]}" install -c packaging/constraints.txt -e ".$extra" 2>&1 | grep -v "^WARNING: Location" >&2 || true
"$venv/bin/python" -c "import hwprof" || { echo "hwprof failed to install (see above)" >&2; exit 1; }

if [ "$mode" = app ]; then
  if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] || [ "$(uname -s)" != Linux ]; then
    say "opening hwprof"
    exec "$venv/bin/hwprof" "$@"
  fi
  say "no screen here (DISPLAY is not set): running hwprof headless instead"
  "$venv/bin/hwprof" detect
  if "$venv/bin/hwprof" run --help >/dev/null 2>&1; then
    "$venv/bin/hwprof" run matmul --duration 5
  fi
  exit 0
fi

if [ "$mode" = package ]; then
  say "building the installers (minutes; the artefacts and their sizes are listed at the end)"
  exec "$venv/bin/python" packaging/build.py --no-install "$@"
fi

# -- tests ------------------------------------------------------------------------------------------------
say "ruff"
"$venv/bin/ruff" check hwprof tests benchmarks packaging
say "mypy"
"$venv/bin/mypy"
say "layering contracts (import-linter)"
"$venv/bin/lint-imports"
say "pytest"
export QT_QPA_PLATFORM=offscreen
# Two test processes, a test file each at a time (module fixtures stay whole): most tests wait on
# worker processes, TensorFlow imports and timed phases, so two overlap well even on 2 cores (on
# this project's 2-vCPU machine, 17 min 47 s serial against 7 min 57 s). HWPROF_TEST_PROCESSES=0
# runs them in this one process.
exec "$venv/bin/python" -m pytest -n "${HWPROF_TEST_PROCESSES:-2}" --dist loadfile "$@"
