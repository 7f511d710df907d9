#!/usr/bin/env bash
# System packages for the debug handler: ffprobe, from the Debian package "ffmpeg".
# Idempotent: does nothing when ffprobe is already on PATH. Installs with apt-get only when
# run as root; otherwise prints the command to run and exits non-zero.
set -euo pipefail

if command -v ffprobe >/dev/null 2>&1; then
    echo "debug handler: ffprobe already installed ($(command -v ffprobe))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "debug handler: ffprobe is missing; install the Debian package 'ffmpeg':" >&2
    echo "    sudo apt-get install -y ffmpeg" >&2
    echo "(without it the handler reads only WAV files)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends ffmpeg
}
# Package lists are often cleared in slim images: refresh them only if the install fails.
if ! apt_install; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt_install
fi
echo "debug handler: installed ffprobe ($(command -v ffprobe))"
