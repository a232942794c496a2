#!/bin/sh
# Add hwprof, unpacked from its portable archive, to your applications menu: for you only, no root.
#
#   ./install.sh               menu entry, icons, the snapshot file type, `hwprof` in ~/.local/bin
#   ./install.sh --uninstall   remove them again (your snapshots and settings stay)
#
# The menu entry runs hwprof from this folder: after moving the folder, run ./install.sh again.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bindir=$HOME/.local/bin
sizes="16 32 48 64 128 256"

remove() {
  rm -f "$data/applications/hwprof.desktop" "$data/mime/packages/hwprof.xml" \
        "$data/icons/hicolor/scalable/apps/hwprof.svg"
  for n in $sizes; do rm -f "$data/icons/hicolor/${n}x${n}/apps/hwprof.png"; done
  # only our own link: never a `hwprof` the user put there
  if [ -L "$bindir/hwprof" ] && [ "$(readlink "$bindir/hwprof")" = "$here/hwprof" ]; then
    rm -f "$bindir/hwprof"
  fi
}

refresh() {
  # the desktop's caches; each tool is optional (a missing one only delays the change)
  if command -v update-mime-database >/dev/null 2>&1; then update-mime-database "$data/mime"; fi
  if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$data/applications" || true
  fi
  if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/index.theme" ]
  then gtk-update-icon-cache -q -t "$data/icons/hicolor" || true; fi
}

check_system() {
  # what this build needs from the system (system-libraries.txt, written by the build)
  [ -f "$here/system-libraries.txt" ] || return 0
  need=$(sed -n 's/^glibc //p' "$here/system-libraries.txt")
  have=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed 's/^glibc //') || have=""
  if [ -n "$have" ] && [ -n "$need" ] && \
     [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    echo "warning: hwprof needs glibc $need or newer; this system has $have (hwprof will not start)" >&2
  fi
  command -v ldconfig >/dev/null 2>&1 || [ -x /sbin/ldconfig ] || return 0
  known=$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p) | awk '{print $1}')
  missing=""
  while read -r soname package; do
    case "$soname" in ''|'#'*|glibc) continue ;; esac
    printf '%s\n' "$known" | grep -qxF "$soname" || missing="$missing $package"
  done < "$here/system-libraries.txt"
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086 # split the list on purpose
    missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
    echo "warning: libraries hwprof needs are missing; on Debian or Ubuntu:" >&2
    echo "  sudo apt-get install $missing" >&2
  fi
}

case "${1:-}" in
  --uninstall)
    remove
    refresh
    echo "hwprof's menu entry, icons, file type and command link are removed."
    exit 0 ;;
  "") ;;
  *) echo "usage: ./install.sh [--uninstall]" >&2; exit 2 ;;
esac

[ -x "$here/hwprof" ] || { echo "install.sh: $here/hwprof is missing: unpack the whole archive" >&2; exit 1; }
case "$here" in
  *'"'*|*'`'*|*'$'*|*\\*)
    echo "install.sh: the folder's path ($here) has a character a menu entry cannot quote (\" \` \$ \\): move it" >&2
    exit 1 ;;
esac
check_system

mkdir -p "$data/applications" "$data/mime/packages" "$data/icons/hicolor/scalable/apps" "$bindir"
# the entry starts hwprof from this folder (quoted: the path may have spaces)
sed -e "s|^Exec=hwprof |Exec=\"$here/hwprof\" |" "$here/hwprof.desktop" \
  > "$data/applications/hwprof.desktop"
cp "$here/hwprof-snapshot.xml" "$data/mime/packages/hwprof.xml"
cp "$here/icons/hicolor/scalable/apps/hwprof.svg" "$data/icons/hicolor/scalable/apps/hwprof.svg"
for n in $sizes; do
  mkdir -p "$data/icons/hicolor/${n}x${n}/apps"
  cp "$here/icons/hicolor/${n}x${n}/apps/hwprof.png" "$data/icons/hicolor/${n}x${n}/apps/hwprof.png"
done
if [ -e "$bindir/hwprof" ] && ! [ -L "$bindir/hwprof" ]; then
  echo "note: $bindir/hwprof exists and is not a link: left as it is" >&2
else
  ln -sfn "$here/hwprof" "$bindir/hwprof"
fi
refresh
echo "hwprof is in your applications menu; snapshots (*.hwprof, *.hwprof.json[.gz]) open in it."
case ":$PATH:" in
  *":$bindir:"*) echo "The command: hwprof --help" ;;
  *) echo "The command: $bindir/hwprof (add $bindir to PATH to type just hwprof)" ;;
esac
