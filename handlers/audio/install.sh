#!/usr/bin/env bash
# System and no-deps packages for the audio handler. Idempotent.
#  - Debian ffmpeg (ffmpeg + ffprobe): decoding every format to 16 kHz mono.
#  - Debian espeak-ng: speech for the labelled samples and the tests (ml_service/samples/audio.py).
#  - silero-vad==6.2.3 with --no-deps: it carries the VAD .onnx files (MIT); its declared
#    requirements (torch, torchaudio) must not be installed: pip would pull CUDA torch.
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
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "audio handler: missing Debian package(s): sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_install() { apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"; }
    # Package lists are often cleared in slim images: refresh them only if the install fails.
    if ! apt_install; then
        apt-get -o DPkg::Lock::Timeout=300 update -qq
        apt_install
    fi
fi

if [ "$("$py" -m pip show silero-vad 2>/dev/null | sed -n 's/^Version: //p')" != "6.2.3" ]; then
    "$py" -m pip install -q --disable-pip-version-check --no-deps silero-vad==6.2.3
fi
cd "$root"
"$py" - <<'PY'
from handlers.audio.embedding import MODEL_PATH
from handlers.audio.vad import model_path
assert MODEL_PATH.is_file(), f"{MODEL_PATH} is missing"
print(f"audio handler: ready ({model_path().name}, {MODEL_PATH.name})")
PY
