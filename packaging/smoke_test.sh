#!/usr/bin/env bash
# End-to-end check of the Linux packages as a user meets them (not part of the default test run: the
# build alone takes minutes). Needs root (it installs the .deb) and the host tools listed in NEEDS.
#
#   bash packaging/smoke_test.sh [--no-build | --reuse-bundle] [--flavour cpu] [--install-deps]
#
# Builds the packages (packaging/build.py, lintian required), installs the .deb with apt (which adds
# only the libraries its Depends declare), then asserts:
#   - dpkg --verify is clean (md5sums), the desktop entry validates, every icon is there;
#   - the glibc floor of the installed files is within the supported one (readelf);
#   - the snapshot MIME type maps *.hwprof, *.hwprof.json and *.hwprof.json.gz to hwprof.desktop;
#   - `hwprof --version`, `hwprof detect` and a short `hwprof run` work from /usr/bin/hwprof (the
#     frozen app starts its own worker process) and save a snapshot;
#   - that snapshot, opened the way a file manager does it (the desktop entry's Exec line, %F), shows
#     a window on a virtual screen titled "hwprof — HOST", not blank, whose Results table shows the
#     run (OCR of the window's pixels finds the snapshot's name and the workload);
#   - the portable .tar.xz has its README, desktop entry, icons and install.sh, and install.sh adds
#     and removes a working menu entry for a user;
#   - `dpkg -r` leaves nothing behind but user data.
# Prints the sizes and timings. Options: --no-build tests the packages in build/installer as they
# are; --reuse-bundle packages the existing bundle again; --install-deps installs NEEDS with apt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
py=${PYTHON:-$root/.venv/bin/python}   # the build environment (bootstrap.sh makes .venv)
out=${SMOKE_OUT:-$root/build/smoke}

# What this test needs on the host: Debian package -> the command it provides. Nothing else is
# installed on the host, and these only with --install-deps.
NEEDS=(xvfb:Xvfb xdotool:xdotool tesseract-ocr:tesseract desktop-file-utils:desktop-file-validate
       shared-mime-info:update-mime-database lintian:lintian binutils:readelf xz-utils:xz)

build=1; install_deps=0; build_args=(--lintian require); flavour=full
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --reuse-bundle) build_args+=(--reuse-bundle) ;;
    --install-deps) install_deps=1 ;;
    --flavour) flavour=$2; build_args+=(--flavour "$2"); shift ;;
    *) echo "usage: bash packaging/smoke_test.sh [--no-build|--reuse-bundle] [--flavour cpu]" \
            "[--install-deps]" >&2; exit 2 ;;
  esac
  shift
done
package=hwprof; [ "$flavour" = cpu ] && package=hwprof-cpu

fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
step() { printf '\n--- %s\n' "$*"; }
[ "$(id -u)" -eq 0 ] || fail "run as root (it installs the .deb)"
[ -x "$py" ] || fail "$py is missing: run bash packaging/bootstrap.sh package first (or set PYTHON)"

missing=()
for need in "${NEEDS[@]}"; do command -v "${need#*:}" >/dev/null || missing+=("${need%%:*}"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ $install_deps -eq 1 ]; then
    apt-get update -qq || fail "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null || fail "apt-get install ${missing[*]}"
  else
    fail "missing host packages: ${missing[*]} (apt-get install ${missing[*]}, or --install-deps)"
  fi
fi
mkdir -p "$out"
tmp=$(mktemp -d)
xvfb_pid=""; app_pid=""
cleanup() {
  if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null || true; fi
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# -- build -------------------------------------------------------------------------------------------
if [ $build -eq 1 ]; then
  step "build ($package)"
  t0=$(date +%s)
  "$py" packaging/build.py "${build_args[@]}" || fail "packaging/build.py"
  echo "build: $(( $(date +%s) - t0 )) s"
fi
version=$("$py" -c "ns={}; exec(open('hwprof/__init__.py').read(), ns); print(ns['__version__'])")
deb=$(find build/installer -maxdepth 1 -name "${package}_${version}_*.deb" | head -1)
tarball=$(find build/installer -maxdepth 1 -name "${package}-${version}-linux-*.tar.xz" | head -1)
[ -n "$deb" ] || fail "no ${package}_${version}_*.deb in build/installer"
[ -n "$tarball" ] || fail "no ${package}-${version}-linux-*.tar.xz in build/installer"

# -- install -----------------------------------------------------------------------------------------
step "install $deb"
dpkg -r hwprof hwprof-cpu >/dev/null 2>&1 || true
t0=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$root/$deb" \
  >"$out/apt-install.log" 2>&1 || fail "apt-get install $deb (see $out/apt-install.log)"
echo "installed in $(( $(date +%s) - t0 )) s; $(dpkg-query -W -f='${Installed-Size}' "$package") KiB"
[ -x /usr/bin/hwprof ] || fail "/usr/bin/hwprof missing after install"
[ -z "$(dpkg --verify "$package")" ] || fail "dpkg --verify $package: $(dpkg --verify "$package")"
echo "dpkg --verify: clean (md5sums)"
desktop-file-validate /usr/share/applications/hwprof.desktop || fail "desktop-file-validate"
echo "desktop entry: valid"
for n in 16 32 48 64 128 256; do
  [ -f "/usr/share/icons/hicolor/${n}x${n}/apps/hwprof.png" ] || fail "icon ${n}x${n} missing"
done
[ -f /usr/share/icons/hicolor/scalable/apps/hwprof.svg ] || fail "scalable icon missing"
[ -f "/usr/share/doc/$package/copyright" ] || fail "copyright missing"
[ -f /usr/lib/hwprof/_internal/licenses/THIRD-PARTY-NOTICES.txt ] || fail "third-party notices missing"
echo "icons, copyright, third-party notices: present"

step "glibc floor of the installed files"
"$py" packaging/elf_check.py /usr/lib/hwprof || fail "the installed files need more than the supported floor"

step "snapshot MIME type"
for glob in '*.hwprof' '*.hwprof.json' '*.hwprof.json.gz'; do
  grep -qF "application/x-hwprof-snapshot:$glob" /usr/share/mime/globs2 \
    || fail "shared-mime-info does not map $glob (no $glob in /usr/share/mime/globs2)"
done
grep -qE '^application/x-hwprof-snapshot=(.*;)?hwprof\.desktop;' /usr/share/applications/mimeinfo.cache \
  || fail "application/x-hwprof-snapshot does not map to hwprof.desktop in mimeinfo.cache"
echo "*.hwprof, *.hwprof.json, *.hwprof.json.gz -> application/x-hwprof-snapshot -> hwprof.desktop"
if command -v gio >/dev/null; then
  gio mime application/x-hwprof-snapshot | tee "$out/gio-mime.txt"
  grep -q "hwprof.desktop" "$out/gio-mime.txt" || fail "gio mime: hwprof.desktop is not the handler"
fi

# -- the command line --------------------------------------------------------------------------------
step "hwprof --version"
[ "$(/usr/bin/hwprof --version)" = "hwprof $version" ] || fail "--version: $(/usr/bin/hwprof --version)"
step "hwprof detect"
/usr/bin/hwprof detect || fail "detect"
step "hwprof run (the frozen app starts its own worker process)"
( cd "$tmp" && /usr/bin/hwprof run matmul --size 256 --duration 3 --save "$tmp/smoke.hwprof.json.gz" ) \
  || fail "run"
# the .hwprof extension is the same gzip JSON (hwprof/core/snapshot_io.py reads by content)
cp "$tmp/smoke.hwprof.json.gz" "$tmp/smokerun.hwprof"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() { for _ in 1 2 3 4 5; do s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); \
  awk -v s="$s" -v e="$e" 'BEGIN {printf "%.2f\n", e - s}'; done | median; }
echo "start-up, median of 5 (seconds):"
echo "  frozen  hwprof --version: $(time_cmd /usr/bin/hwprof --version)"
echo "  source  hwprof --version: $(time_cmd "$py" -m hwprof --version)"
echo "  frozen  hwprof detect --no-tensorflow: $(time_cmd /usr/bin/hwprof detect --no-tensorflow)"
echo "  source  hwprof detect --no-tensorflow: $(time_cmd "$py" -m hwprof detect --no-tensorflow)"

# -- the window, started by the desktop entry with the snapshot --------------------------------------
step "window: the desktop entry opens $tmp/smokerun.hwprof"
display=""
for n in $(seq 99 140); do [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }; done
[ -n "$display" ] || fail "no free X display number"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 & xvfb_pid=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
mapfile -d '' argv < <("$py" packaging/smoke_window.py exec-args \
  /usr/share/applications/hwprof.desktop "$tmp/smokerun.hwprof")
echo "Exec: ${argv[*]}"
( cd "$tmp" && env -u QT_QPA_PLATFORM DISPLAY="$display" "${argv[@]}" >"$out/window.log" 2>&1 ) &
app_pid=$!
# the main window: hwprof's X11 window class, and the machine's name in its title
wid=$(DISPLAY=$display timeout 90 xdotool search --sync --onlyvisible --class '^hwprof$' | head -1) \
  || fail "no hwprof window within 90 s (see $out/window.log)"
title=$(DISPLAY=$display xdotool getwindowname "$wid")
echo "window $wid: \"$title\""
case "$title" in *"$(hostname)"*) ;; *) fail "the window title \"$title\" does not name $(hostname)" ;; esac
shown=0
for attempt in $(seq 1 12); do  # the snapshot loads and detection fills in after the first paint
  sleep 5
  DISPLAY=$display "$py" packaging/smoke_window.py grab "$wid" "$out/window.png" || continue
  # the Results row of the run: its source (the file) and its workload and mode, side by side
  if "$py" packaging/smoke_window.py check "$out/window.png" "smokerun.hwprof matmul train" \
       2>"$out/window-check.txt"; then shown=1; break; fi
  echo "attempt $attempt: $(head -c 200 "$out/window-check.txt")"
done
[ $shown -eq 1 ] || fail "the window does not show the snapshot's run: $(cat "$out/window-check.txt")"
echo "window: not blank, Results shows smokerun.hwprof's matmul run ($out/window.png)"
kill "$app_pid"  # SIGTERM closes the window cleanly
for _ in $(seq 100); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$app_pid" 2>/dev/null && fail "the window did not close within 10 s of SIGTERM"
app_pid=""

# -- the portable archive ----------------------------------------------------------------------------
step "portable archive $tarball"
mkdir -p "$tmp/home" "$tmp/unpacked"
tar -xJf "$tarball" -C "$tmp/unpacked"
top="$tmp/unpacked/${package}-${version}"
for f in README.txt hwprof.desktop hwprof-snapshot.xml install.sh system-libraries.txt hwprof \
         icons/hicolor/scalable/apps/hwprof.svg icons/hicolor/256x256/apps/hwprof.png \
         _internal/licenses/THIRD-PARTY-NOTICES.txt _internal/licenses/LICENSE.txt; do
  [ -e "$top/$f" ] || fail "$f missing from the archive"
done
HOME="$tmp/home" XDG_DATA_HOME="" "$top/install.sh" || fail "install.sh"
entry="$tmp/home/.local/share/applications/hwprof.desktop"
desktop-file-validate "$entry" || fail "the installed menu entry does not validate"
grep -qF "Exec=\"$top/hwprof\" %F" "$entry" || fail "the menu entry does not start $top/hwprof"
[ "$("$tmp/home/.local/bin/hwprof" --version)" = "hwprof $version" ] || fail "the command link in .local/bin"
grep -q "application/x-hwprof-snapshot" "$tmp/home/.local/share/mime/globs2" \
  || fail "install.sh did not register the snapshot type"
HOME="$tmp/home" XDG_DATA_HOME="" "$top/install.sh" --uninstall || fail "install.sh --uninstall"
if [ -e "$entry" ] || [ -e "$tmp/home/.local/bin/hwprof" ]; then fail "install.sh --uninstall left files"; fi
echo "archive: complete; install.sh adds and removes a valid menu entry and the command"

# -- uninstall ---------------------------------------------------------------------------------------
step "uninstall"
dpkg -r "$package" >/dev/null || fail "dpkg -r"
[ ! -e /usr/lib/hwprof ] || fail "/usr/lib/hwprof left behind"
[ ! -e /usr/bin/hwprof ] || fail "/usr/bin/hwprof left behind"
[ ! -e /usr/share/applications/hwprof.desktop ] || fail "desktop entry left behind"
[ -z "$(ls /usr/share/icons/hicolor/*/apps/hwprof.* 2>/dev/null)" ] || fail "icons left behind"
[ ! -e /usr/share/mime/packages/hwprof.xml ] || fail "MIME type left behind"
! grep -q "hwprof" /usr/share/applications/mimeinfo.cache 2>/dev/null \
  || fail "mimeinfo.cache still names hwprof"

step "sizes"
printf '  %-50s %s\n' "$(basename "$deb")" "$(du -h "$deb" | cut -f1) download"
printf '  %-50s %s\n' "$(basename "$tarball")" "$(du -h "$tarball" | cut -f1) download"
echo "SMOKE TEST PASSED"
