#!/usr/bin/env bash
# End-to-end check of the Linux installer, as a user would meet it (not part of the default test run:
# the build alone takes minutes). Needs root (dpkg -i), Xvfb and imagemagick for the screenshot.
#
#   bash packaging/smoke_test.sh [--reuse-bundle]
#
# Builds the .deb, installs it, runs `hwprof --version`, `hwprof detect`, a short `hwprof run` from the
# installed binary, opens the window under Xvfb and saves a screenshot, uninstalls, and checks that
# nothing is left behind but user data. Prints timings: the frozen app's start against the source one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
py=.venv/bin/python
out=${SMOKE_OUT:-build/smoke}
mkdir -p "$out"
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }

t0=$(date +%s)
"$py" -m pip install -q -c packaging/constraints.txt -e ".[package]" 2>&1 | grep -v "^WARNING: Location" || true
"$py" packaging/build.py "$@"
echo "build: $(( $(date +%s) - t0 )) s"
deb=$(ls -t build/installer/hwprof_*.deb | head -1)

dpkg -r hwprof >/dev/null 2>&1 || true
dpkg -i "$deb" >/dev/null || { apt-get install -f -y -qq >/dev/null; dpkg -i "$deb" >/dev/null; } \
  || fail "dpkg -i $deb"
[ -x /usr/bin/hwprof ] || fail "/usr/bin/hwprof missing after install"
command -v desktop-file-validate >/dev/null || apt-get install -y -qq desktop-file-utils >/dev/null
desktop-file-validate /usr/share/applications/hwprof.desktop || fail "desktop-file-validate"
echo "desktop entry: valid"
for n in 16 32 48 64 128 256; do
  [ -f /usr/share/icons/hicolor/${n}x${n}/apps/hwprof.png ] || fail "icon ${n}x${n} missing"
done

echo "--- hwprof --version"; /usr/bin/hwprof --version || fail "--version"
echo "--- hwprof detect";  /usr/bin/hwprof detect || fail "detect"
echo "--- hwprof run (the frozen app starts its own worker process)"
( cd /tmp && /usr/bin/hwprof run matmul --size 256 --duration 3 ) || fail "run"

# start-up time: frozen vs source, `--version` and `detect --no-tensorflow`, median of 5
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() { for _ in 1 2 3 4 5; do s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); \
  echo "$e - $s" | bc; done | median; }
echo "start-up, median of 5 (seconds):"
echo "  frozen  hwprof --version: $(time_cmd /usr/bin/hwprof --version)"
echo "  source  hwprof --version: $(time_cmd .venv/bin/hwprof --version)"
echo "  frozen  hwprof detect --no-tensorflow: $(time_cmd /usr/bin/hwprof detect --no-tensorflow)"
echo "  source  hwprof detect --no-tensorflow: $(time_cmd .venv/bin/hwprof detect --no-tensorflow)"

if command -v Xvfb >/dev/null && [ -x /work/shared/tools/xshot ] || [ -x ../shared/tools/xshot ]; then
  xshot=$( [ -x ../shared/tools/xshot ] && echo ../shared/tools/xshot || echo /work/shared/tools/xshot )
  "$xshot" "$out/installed-window.png" 12 -- /usr/bin/hwprof && echo "screenshot: $out/installed-window.png"
fi

dpkg -r hwprof >/dev/null || fail "dpkg -r"
[ ! -e /opt/hwprof ] || fail "/opt/hwprof left behind"
[ ! -e /usr/bin/hwprof ] || fail "/usr/bin/hwprof left behind"
[ ! -e /usr/share/applications/hwprof.desktop ] || fail "desktop entry left behind"
[ -z "$(ls /usr/share/icons/hicolor/*/apps/hwprof.* 2>/dev/null)" ] || fail "icons left behind"
[ ! -e /usr/share/mime/packages/hwprof.xml ] || fail "MIME type left behind"
echo "SMOKE TEST PASSED"
