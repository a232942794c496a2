#!/usr/bin/env bash
# Install a built .deb into a minimal Debian (debootstrap --variant=minbase: no X, no Qt, no OpenGL,
# nothing beyond the base system) and use it there. Passing proves the package's Depends bring in
# every library the bundle takes from the system: nothing works by accident of the build host.
# Needs root, debootstrap, Xvfb and xdotool, and the Debian mirror. Not part of any default run.
#
#   bash packaging/linux/minimal_system_test.sh build/installer/hwprof_VERSION_amd64.deb [SUITE]
#
# SUITE is a Debian release (default bookworm, Debian 12). Ubuntu needs its own mirror and
# debootstrap script: `debootstrap jammy DIR http://archive.ubuntu.com/ubuntu` where it is reachable.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
deb=$(realpath "$1"); suite=${2:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
root=$(pwd)/build/chroot/$suite
fail() { echo "MINIMAL SYSTEM TEST FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap, chroot)"
for tool in debootstrap Xvfb xdotool; do command -v "$tool" >/dev/null || fail "$tool is missing"; done

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "--- debootstrap --variant=minbase $suite"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null || fail "debootstrap"
fi
xvfb_pid=""
cleanup() {
  if [ -n "$xvfb_pid" ]; then kill "$xvfb_pid" 2>/dev/null || true; fi
  # lazily when a process that just ended still holds a mount
  for m in tmp/.X11-unix sys dev proc; do
    umount -R "$root/$m" 2>/dev/null || umount -R -l "$root/$m" 2>/dev/null || true
  done
}
trap cleanup EXIT
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sys "$root/sys"
mkdir -p "$root/tmp/.X11-unix"
mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# shellcheck disable=SC2016 # ${Package} is dpkg-query's, not the shell's
count_packages() { in_root dpkg-query -W -f '${Package}\n' | wc -l; }

echo "--- what the minimal system has before: $(count_packages) packages"
cp "$deb" "$root/tmp/"
in_root apt-get update -qq || fail "apt-get update"
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "/tmp/$(basename "$deb")" >/dev/null || fail "apt-get install $(basename "$deb")"
package=$(dpkg-deb -f "$deb" Package)
echo "--- installed $package with $(count_packages) packages in all"

echo "--- hwprof --version / detect / run"
in_root hwprof --version || fail "--version"
in_root hwprof detect || fail "detect"
in_root sh -c 'cd /tmp && hwprof run matmul --size 256 --duration 2' || fail "run"

echo "--- the window (xcb, on a virtual screen of the host)"
display=""
for n in $(seq 99 140); do [ -e "/tmp/.X11-unix/X$n" ] || { display=":$n"; break; }; done
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 & xvfb_pid=$!
sleep 1
in_root env DISPLAY="$display" QT_DEBUG_PLUGINS=0 hwprof >/tmp/minimal-window.log 2>&1 &
app=$!
wid=$(DISPLAY=$display timeout 90 xdotool search --sync --onlyvisible --class '^hwprof$' | head -1) \
  || { cat /tmp/minimal-window.log; fail "no window within 90 s"; }
echo "window: $(DISPLAY=$display xdotool getwindowname "$wid")"
kill "$app" 2>/dev/null || true
wait "$app" 2>/dev/null || true

in_root dpkg -r "$package" >/dev/null || fail "dpkg -r"
echo "MINIMAL SYSTEM TEST PASSED ($suite)"
