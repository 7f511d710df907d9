#!/usr/bin/env bash
# System packages for the screencast analyser, from Debian:
#   tesseract-ocr      the OCR engine (its English model comes with it, in tesseract-ocr-eng)
#   tesseract-ocr-rus  its Russian model (screens are read in Russian and English together)
#   ffmpeg             decoding (ffmpeg) and probing (ffprobe)
# (Recording the real-desktop samples needs more: install-samples.sh, run by ./dev.)
# Idempotent: installs only what is missing. Installs with apt-get only when run as root;
# otherwise prints the command to run and exits non-zero.
set -euo pipefail

missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr)
tesseract --list-langs 2>/dev/null | grep -qx rus || missing+=(tesseract-ocr-rus)
{ command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; } || missing+=(ffmpeg)

if [ ${#missing[@]} -eq 0 ]; then
    echo "screencast handler: tesseract (eng, rus) and ffmpeg already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "screencast handler: missing Debian packages: ${missing[*]}; install them with:" >&2
    echo "    sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
}
# Package lists are often cleared in slim images: refresh them only if the install fails.
if ! apt_install; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt_install
fi
for lang in eng rus; do
    tesseract --list-langs 2>/dev/null | grep -qx "$lang" || {
        echo "screencast handler: tesseract has no '$lang' model (Debian package tesseract-ocr-$lang)" >&2
        exit 1
    }
done
echo "screencast handler: installed ${missing[*]}"
