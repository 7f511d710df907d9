#!/usr/bin/env bash
# Debian packages for recording the screencast real set and the desktop tests (not for the worker
# image): a real X desktop to record (ml_service/samples/realsets/screencast_desktop.py).
#   xvfb                the X server without a screen       openbox     the window manager
#   x11-xserver-utils   xsetroot (wallpaper)                x11-utils   xprop (is the WM up?)
#   xdotool, wmctrl     driving windows and keys            dbus, dunst, libnotify-bin  toasts
#   chromium            the exam page and other sites       xterm, mousepad  other apps
#   fonts-dejavu-core   fonts with Cyrillic                 ffmpeg      x11grab capture
# Idempotent: installs only what is missing, with apt-get, when run as root.
set -euo pipefail

declare -A needs=([Xvfb]=xvfb [openbox]=openbox [xsetroot]=x11-xserver-utils [xprop]=x11-utils
                  [xdotool]=xdotool [wmctrl]=wmctrl [dbus-daemon]=dbus [dunst]=dunst
                  [notify-send]=libnotify-bin [chromium]=chromium [xterm]=xterm [mousepad]=mousepad
                  [ffmpeg]=ffmpeg)
missing=()
for program in "${!needs[@]}"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("${needs[$program]}")
done
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)

if [ ${#missing[@]} -eq 0 ]; then
    echo "screencast samples: desktop packages already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "screencast samples: missing Debian packages: ${missing[*]}; install them with:" >&2
    echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
}
if ! apt_install; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt_install
fi
echo "screencast samples: installed ${missing[*]}"
